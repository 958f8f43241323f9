package dev.vnet.net;

import static dev.vnet.testkit.net.VirtioNetDriver.le16;
import static dev.vnet.testkit.net.VirtioNetDriver.le64;
import static org.assertj.core.api.Assertions.assertThat;

import dev.vnet.net.backend.InJvmBackend;
import dev.vnet.spi.MacAddress;
import dev.vnet.net.harness.Frames;
import dev.vnet.net.harness.PciBed;
import dev.vnet.testkit.net.VirtioNetConstants;
import dev.vnet.testkit.net.VirtioNetDriver;
import dev.vnet.testkit.net.VirtioNetDriver.Received;
import dev.vnet.spi.Offloads;
import dev.vnet.testkit.Buffer;
import dev.vnet.testkit.DriverQueue;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every control command with a valid and an invalid payload, and the receive filter they program, sent
 * by the Linux driver model through the PCI transport.
 */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class ControlQueueTest {

    static final int OK = 0;
    static final int ERR = 1;
    static final Duration WAIT = Duration.ofSeconds(5);
    static final Duration SHORT = Duration.ofMillis(60);

    PciBed bed;
    VirtioNetDriver d;

    @BeforeEach
    void start() throws Exception {
        // Linux's features plus CTRL_RX_EXTRA (NetKVM asks for it) so that every RX command is live.
        bed = PciBed.loopback(PciBed.config().queuePairs(4).build(),
                drv -> drv.want(VirtioNetConstants.VIRTIO_NET_F_CTRL_RX_EXTRA));
        d = bed.driver;
    }

    @AfterEach
    void stop() {
        bed.close();
    }

    /** Sends {@code frame} and says whether it came back through the filter. */
    boolean passes(byte[] frame) throws InterruptedException {
        QueueStats rx = bed.device.stats().rx(0);
        long filtered = rx.getDropsFiltered();
        long packets = rx.getPackets();
        d.send(0, frame);
        d.awaitTxDone(0, WAIT);
        assertThat(bed.await(() -> rx.getDropsFiltered() > filtered || rx.getPackets() > packets, WAIT)).isTrue();
        if (rx.getPackets() == packets) {
            return false;
        }
        Received r = d.receive(0, WAIT);
        assertThat(r).isNotNull();
        assertThat(r.frame()).isEqualTo(frame);
        return true;
    }

    byte[] to(byte[] dst) {
        return Frames.ethernet(dst, Frames.OTHER_MAC, 64, 1);
    }

    static Stream<Arguments> rxCommands() {
        return Stream.of(Arguments.of("PROMISC", 0), Arguments.of("ALLMULTI", 1), Arguments.of("ALLUNI", 2),
                Arguments.of("NOMULTI", 3), Arguments.of("NOUNI", 4), Arguments.of("NOBCAST", 5));
    }

    @ParameterizedTest(name = "RX {0}: 1-byte on/off is OK, 0 or 2 bytes is ERR")
    @MethodSource("rxCommands")
    void rxModeCommandsCheckTheirPayload(String name, int cmd) throws Exception {
        assertThat(d.command(0, cmd, new byte[] {1})).isEqualTo(OK);
        assertThat(d.command(0, cmd, new byte[] {0})).isEqualTo(OK);
        assertThat(d.command(0, cmd, new byte[0])).isEqualTo(ERR);
        assertThat(d.command(0, cmd, new byte[] {1, 0})).isEqualTo(ERR);
    }

    @Test
    void rxUnknownCommandIsErr() throws Exception {
        assertThat(d.command(0, 6, new byte[] {1})).isEqualTo(ERR);
    }

    @Test
    void promiscuousByDefaultThenUnicastFilteredOnceOff() throws Exception {
        assertThat(passes(to(Frames.PEER_MAC))).as("power-on state is promiscuous").isTrue();
        assertThat(d.command(0, 0, new byte[] {0})).isEqualTo(OK);
        assertThat(passes(to(Frames.PEER_MAC))).isFalse();
        assertThat(passes(to(Frames.DEVICE_MAC))).isTrue();
        assertThat(passes(to(Frames.BROADCAST))).isTrue();
        assertThat(passes(to(Frames.MULTICAST))).as("multicast not in the table").isFalse();
        assertThat(bed.device.stats().rx(0).getDropsFiltered()).isEqualTo(2);
    }

    @Test
    void allmultiNomultiAllUniNoUniNoBcastShapeTheFilter() throws Exception {
        d.command(0, 0, new byte[] {0});
        assertThat(d.command(0, 1, new byte[] {1})).isEqualTo(OK);
        assertThat(passes(to(Frames.MULTICAST))).isTrue();
        assertThat(d.command(0, 3, new byte[] {1})).isEqualTo(OK);
        assertThat(passes(to(Frames.MULTICAST))).as("NOMULTI wins over ALLMULTI").isFalse();
        assertThat(passes(to(Frames.BROADCAST))).as("broadcast is not multicast for NOMULTI").isTrue();
        assertThat(d.command(0, 5, new byte[] {1})).isEqualTo(OK);
        assertThat(passes(to(Frames.BROADCAST))).isFalse();
        assertThat(d.command(0, 2, new byte[] {1})).isEqualTo(OK);
        assertThat(passes(to(Frames.PEER_MAC))).as("ALLUNI").isTrue();
        assertThat(d.command(0, 4, new byte[] {1})).isEqualTo(OK);
        assertThat(passes(to(Frames.DEVICE_MAC))).as("NOUNI refuses even our own MAC").isFalse();
    }

    @Test
    void linuxRxModeLeavesOwnMacBroadcastAndListedMulticast() throws Exception {
        assertThat(d.setRxMode(false, false, List.of(), List.of(Frames.MULTICAST))).isEqualTo(OK);
        assertThat(passes(to(Frames.DEVICE_MAC))).isTrue();
        assertThat(passes(to(Frames.BROADCAST))).isTrue();
        assertThat(passes(to(Frames.MULTICAST))).isTrue();
        assertThat(passes(to(new byte[] {0x01, 0, 0x5e, 0, 0, 9}))).isFalse();
        assertThat(passes(to(Frames.PEER_MAC))).isFalse();
        assertThat(d.setAllmulti(true)).isEqualTo(OK);
        assertThat(passes(to(new byte[] {0x01, 0, 0x5e, 0, 0, 9}))).isTrue();
    }

    @Test
    void macTableSetAcceptsListedAddressesAndChecksSizes() throws Exception {
        d.command(0, 0, new byte[] {0});
        byte[] table = VirtioNetDriver.macTable(List.of(Frames.PEER_MAC), List.of(Frames.MULTICAST));
        assertThat(d.command(1, 0, table)).isEqualTo(OK);
        assertThat(passes(to(Frames.PEER_MAC))).isTrue();
        assertThat(passes(to(Frames.MULTICAST))).isTrue();
        assertThat(passes(to(new byte[] {0x52, 0, 0, 0, 0, 9}))).isFalse();
        // Invalid: truncated, trailing garbage, entry count beyond the data, too short for the counts.
        assertThat(d.command(1, 0, java.util.Arrays.copyOf(table, table.length - 1))).isEqualTo(ERR);
        assertThat(d.command(1, 0, java.util.Arrays.copyOf(table, table.length + 1))).isEqualTo(ERR);
        byte[] lying = table.clone();
        lying[0] = 100;
        assertThat(d.command(1, 0, lying)).isEqualTo(ERR);
        assertThat(d.command(1, 0, new byte[3])).isEqualTo(ERR);
        assertThat(passes(to(Frames.PEER_MAC))).as("a refused command leaves the table").isTrue();
    }

    @Test
    void macTableOverflowAcceptsAllUnicastAsQemu() throws Exception {
        d.command(0, 0, new byte[] {0});
        List<byte[]> many = new ArrayList<>();
        for (int i = 0; i < 65; i++) {
            many.add(new byte[] {0x52, 0, 0, 0, 1, (byte) i});
        }
        assertThat(d.command(1, 0, VirtioNetDriver.macTable(many, List.of()))).isEqualTo(OK);
        assertThat(passes(to(new byte[] {0x52, 0, 0, 0, 7, 7}))).as("unicast overflow: all unicast").isTrue();
        assertThat(passes(to(Frames.MULTICAST))).isFalse();
        List<byte[]> multis = new ArrayList<>();
        for (int i = 0; i < 60; i++) {
            multis.add(new byte[] {0x01, 0, 0x5e, 0, 1, (byte) i});
        }
        assertThat(d.command(1, 0, VirtioNetDriver.macTable(many.subList(0, 10), multis))).isEqualTo(OK);
        assertThat(passes(to(Frames.MULTICAST))).as("10 + 60 > 64: multicast overflow").isTrue();
        assertThat(passes(to(new byte[] {0x52, 0, 0, 0, 7, 7}))).isFalse();
    }

    @Test
    void macAddrSetChangesConfigMacAndFilterAndChecksSize() throws Exception {
        d.command(0, 0, new byte[] {0});
        assertThat(d.command(1, 1, Frames.PEER_MAC)).isEqualTo(OK);
        assertThat(bed.device.mac()).isEqualTo(MacAddress.of(Frames.PEER_MAC));
        assertThat(bed.readConfig(0, 4)).isEqualTo(0x00_00_54_52);
        assertThat(bed.readConfig(4, 2) & 0xFFFF).isEqualTo(0x0200);
        assertThat(passes(to(Frames.PEER_MAC))).isTrue();
        assertThat(passes(to(Frames.DEVICE_MAC))).isFalse();
        assertThat(d.command(1, 1, new byte[5])).isEqualTo(ERR);
        assertThat(d.command(1, 1, new byte[7])).isEqualTo(ERR);
        assertThat(d.command(1, 2, Frames.PEER_MAC)).as("unknown MAC command").isEqualTo(ERR);
    }

    @Test
    void vlanAddDelFilterTaggedFramesAndCheckPayload() throws Exception {
        byte[] tagged = Frames.vlanTagged(Frames.DEVICE_MAC, Frames.OTHER_MAC, 100, 80, 3);
        d.command(0, 0, new byte[] {0});
        assertThat(passes(tagged)).as("CTRL_VLAN negotiated: empty VLAN filter").isFalse();
        assertThat(d.command(2, 0, le16(100))).isEqualTo(OK);
        assertThat(passes(tagged)).isTrue();
        assertThat(d.command(2, 1, le16(100))).isEqualTo(OK);
        assertThat(passes(tagged)).isFalse();
        assertThat(d.command(2, 0, le16(4096))).as("VID above 4095").isEqualTo(ERR);
        assertThat(d.command(2, 0, new byte[] {1})).isEqualTo(ERR);
        assertThat(d.command(2, 2, le16(1))).isEqualTo(ERR);
        assertThat(passes(to(Frames.DEVICE_MAC))).as("untagged frames ignore the VLAN filter").isTrue();
    }

    @Test
    void announceAckClearsStatusAndIsErrWithoutPendingAnnounceOrWithData() throws Exception {
        long changes = bed.configCallbacks();
        int generation = bed.pci.configGeneration();
        assertThat(d.command(3, 0, new byte[0])).as("nothing to acknowledge").isEqualTo(ERR);
        assertThat(bed.device.announce()).isTrue();
        assertThat(bed.pci.awaitConfigInterrupts(changes + 1, WAIT)).isTrue();
        assertThat(bed.pci.configGeneration()).isNotEqualTo(generation);
        assertThat(bed.readConfig(6, 2) & 2).isEqualTo(2);
        assertThat(d.command(3, 0, new byte[] {1})).as("ACK takes no data").isEqualTo(ERR);
        assertThat(d.command(3, 1, new byte[0])).isEqualTo(ERR);
        assertThat(d.command(3, 0, new byte[0])).isEqualTo(OK);
        assertThat(bed.readConfig(6, 2) & 2).isZero();
        assertThat(bed.device.announcePending()).isFalse();
    }

    @Test
    void vqPairsSetAcceptsOneToMaxOnly() throws Exception {
        InJvmBackend backend = (InJvmBackend) bed.backend;
        assertThat(d.command(4, 0, le16(0))).isEqualTo(ERR);
        assertThat(d.command(4, 0, le16(5))).isEqualTo(ERR);
        assertThat(d.command(4, 0, new byte[] {2})).isEqualTo(ERR);
        assertThat(d.command(4, 1, le16(2))).as("RSS is not offered").isEqualTo(ERR);
        assertThat(d.command(4, 0, le16(2))).isEqualTo(OK);
        assertThat(bed.device.activeQueuePairs()).isEqualTo(2);
        assertThat(d.command(4, 0, le16(1))).isEqualTo(OK);
        assertThat(bed.device.activeQueuePairs()).isEqualTo(1);
        assertThat(backend.maxQueuePairs()).isEqualTo(4);
    }

    @Test
    void guestOffloadsSetReprogramsTheBackendAndRefusesUnackedBits() throws Exception {
        InJvmBackend backend = (InJvmBackend) bed.backend;
        assertThat(backend.offloads()).isEqualTo(Offloads.ALL);
        long csumOnly = 1L << NetFeatures.VIRTIO_NET_F_GUEST_CSUM;
        assertThat(d.command(5, 0, le64(csumOnly))).isEqualTo(OK);
        assertThat(backend.offloads()).isEqualTo(Offloads.CSUM);
        assertThat(d.command(5, 0, le64(1L << NetFeatures.VIRTIO_NET_F_MRG_RXBUF))).as("not an offload")
                .isEqualTo(ERR);
        assertThat(d.command(5, 0, new byte[4])).isEqualTo(ERR);
        assertThat(d.command(5, 1, le64(0))).isEqualTo(ERR);
        assertThat(backend.offloads()).isEqualTo(Offloads.CSUM);
        assertThat(d.command(5, 0, le64(0))).isEqualTo(OK);
        assertThat(backend.offloads()).isZero();
    }

    @Test
    void unknownClassIsErrAndCounted() throws Exception {
        long errors = bed.device.stats().ctrl().getErrors();
        assertThat(d.command(6, 0, new byte[0])).isEqualTo(ERR);
        assertThat(d.command(200, 0, new byte[] {1, 2, 3})).isEqualTo(ERR);
        assertThat(bed.device.stats().ctrl().getErrors()).isEqualTo(errors + 2);
    }

    @Test
    void commandWithoutAckBufferSetsNeedsResetWithoutException() throws Exception {
        int ctrl = d.ctrlIndex();
        assertThat(ctrl).isEqualTo(8);
        DriverQueue q = bed.queue(ctrl);
        long buf = bed.memory.alloc(16, 16);
        long config = bed.configCallbacks();
        q.add(List.of(new Buffer(buf, 2)), List.of(), "no ack");
        bed.kick(ctrl);
        assertThat(bed.awaitNeedsReset(config, WAIT)).as("NEEDS_RESET and a config interrupt").isTrue();
        assertThat(bed.needsResetReason()).contains("ack");
    }

    @Test
    void commandsOfUnnegotiatedClassesAreErr() throws Exception {
        bed.close();
        bed = PciBed.loopback(PciBed.config().build(), drv -> drv.without(NetFeatures.VIRTIO_NET_F_CTRL_RX,
                NetFeatures.VIRTIO_NET_F_CTRL_VLAN, NetFeatures.VIRTIO_NET_F_GUEST_ANNOUNCE,
                NetFeatures.VIRTIO_NET_F_CTRL_MAC_ADDR, NetFeatures.VIRTIO_NET_F_CTRL_GUEST_OFFLOADS,
                NetFeatures.VIRTIO_NET_F_MQ));
        d = bed.driver;
        assertThat(d.command(0, 0, new byte[] {0})).isEqualTo(ERR);
        assertThat(d.command(1, 0, VirtioNetDriver.macTable(List.of(), List.of()))).isEqualTo(ERR);
        assertThat(d.command(1, 1, Frames.PEER_MAC)).isEqualTo(ERR);
        assertThat(d.command(2, 0, le16(1))).isEqualTo(ERR);
        assertThat(d.command(4, 0, le16(1))).isEqualTo(ERR);
        assertThat(d.command(5, 0, le64(0))).isEqualTo(ERR);
        assertThat(passes(to(Frames.PEER_MAC))).as("still promiscuous").isTrue();
        assertThat(passes(Frames.vlanTagged(Frames.DEVICE_MAC, Frames.OTHER_MAC, 7, 80, 3)))
                .as("without CTRL_VLAN every VLAN passes").isTrue();
    }

    @Test
    void rxExtraCommandsNeedCtrlRxExtra() throws Exception {
        bed.close();
        bed = PciBed.loopback(PciBed.config().build()); // Linux does not ask for CTRL_RX_EXTRA
        d = bed.driver;
        assertThat(d.has(NetFeatures.VIRTIO_NET_F_CTRL_RX_EXTRA)).isFalse();
        assertThat(d.command(0, 0, new byte[] {1})).isEqualTo(OK);
        assertThat(d.command(0, 1, new byte[] {1})).isEqualTo(OK);
        for (int cmd = 2; cmd <= 5; cmd++) {
            assertThat(d.command(0, cmd, new byte[] {1})).isEqualTo(ERR);
        }
    }
}
