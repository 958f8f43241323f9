package dev.vnet.net;

import static org.assertj.core.api.Assertions.assertThat;

import dev.vnet.net.backend.InJvmBackend;
import dev.vnet.net.harness.Frames;
import dev.vnet.net.harness.PciBed;
import dev.vnet.testkit.pci.VirtioPciDriver.Strategy;
import java.lang.management.ManagementFactory;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import javax.management.MBeanServer;
import javax.management.ObjectName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** Link state, guest announce, statistics and their JMX view, seen by the driver through the PCI transport. */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class LinkAnnounceStatsTest {

    static final Duration WAIT = Duration.ofSeconds(5);

    @ParameterizedTest(name = "{0}: link flap updates status, raises a config interrupt and drops TX while down")
    @EnumSource(Strategy.class)
    void linkFlapUpdatesStatusSignalsConfigChangeAndDropsTxWhileDown(Strategy strategy) throws Exception {
        NetDeviceConfig config = PciBed.config().build();
        try (PciBed bed = PciBed.start(PciBed.loopbackBackend(config), config, strategy, d -> d)) {
            assertThat(bed.driver.linkUp()).isTrue();
            long changes = bed.configCallbacks();
            int generation = bed.pci.configGeneration();
            bed.device.setLinkUp(false);
            assertThat(bed.driver.awaitConfigChange(WAIT)).as("config interrupt").isTrue();
            assertThat(bed.configCallbacks()).isEqualTo(changes + 1);
            assertThat(bed.pci.configGeneration()).as("config_generation moves").isNotEqualTo(generation);
            assertThat(bed.driver.linkUp()).isFalse();
            assertThat(bed.readConfig(6, 2) & 1).isZero();
            bed.device.setLinkUp(false);
            assertThat(bed.driver.awaitConfigChange(Duration.ofMillis(50))).as("no change, no notification").isFalse();

            byte[] f = Frames.ethernet(Frames.DEVICE_MAC, Frames.OTHER_MAC, 200, 1);
            bed.driver.send(0, f);
            assertThat(bed.driver.awaitTxDone(0, WAIT)).containsExactly(0);
            assertThat(bed.device.stats().tx(0).getDropsLinkDown()).isEqualTo(1);
            assertThat(bed.driver.receive(0, Duration.ofMillis(50))).isNull();

            bed.device.setLinkUp(true);
            assertThat(bed.driver.awaitConfigChange(WAIT)).isTrue();
            assertThat(bed.configCallbacks()).isEqualTo(changes + 2);
            assertThat(bed.driver.linkUp()).isTrue();
            bed.driver.send(0, f);
            assertThat(bed.driver.receive(0, WAIT).frame()).isEqualTo(f);
        }
    }

    @Test
    void framesArrivingWhileLinkDownAreDroppedAndCounted() throws Exception {
        InJvmBackend[] cable = InJvmBackend.cable("flap", 1, InJvmBackend.DEFAULT_RING_BYTES);
        try (PciBed a = PciBed.start(cable[0], PciBed.config().build());
             PciBed b = PciBed.start(cable[1], PciBed.config().mac("52:54:00:00:00:02").build())) {
            b.device.setLinkUp(false);
            a.driver.send(0, Frames.ethernet(Frames.PEER_MAC, Frames.DEVICE_MAC, 100, 1));
            assertThat(b.await(() -> b.device.stats().rx(0).getDropsLinkDown() == 1, WAIT)).isTrue();
            assertThat(cable[1].pendingFrames()).isZero();
            assertThat(b.driver.receive(0, Duration.ofMillis(50))).isNull();
        }
    }

    @Test
    void announceSetsStatusUntilTheDriverAcksOnItsConfigInterrupt() throws Exception {
        try (PciBed bed = PciBed.loopback(PciBed.config().build())) {
            assertThat(bed.device.announce()).isTrue();
            assertThat(bed.device.announcePending()).isTrue();
            assertThat(bed.readConfig(6, 2)).isEqualTo(3);
            assertThat(bed.driver.awaitConfigChange(WAIT)).isTrue();
            assertThat(bed.driver.announces()).isEqualTo(1);
            assertThat(bed.device.announcePending()).as("virtnet_config_changed_work sent ANNOUNCE_ACK").isFalse();
            assertThat(bed.readConfig(6, 2)).isEqualTo(1);
            assertThat(bed.driver.ackAnnounce()).as("nothing left to acknowledge").isEqualTo(1);
        }
        try (PciBed bed = PciBed.loopback(PciBed.config().build(),
                d -> d.without(NetFeatures.VIRTIO_NET_F_GUEST_ANNOUNCE))) {
            assertThat(bed.device.announce()).isFalse();
            assertThat(bed.readConfig(6, 2)).isEqualTo(1);
            assertThat(bed.driver.awaitConfigChange(Duration.ofMillis(50))).isFalse();
        }
    }

    @Test
    void resetClearsAPendingAnnounce() throws Exception {
        try (PciBed bed = PciBed.loopback(PciBed.config().build())) {
            bed.device.announce();
            bed.pci.reset();
            assertThat(bed.device.announcePending()).isFalse();
            assertThat(bed.readConfig(6, 2)).isEqualTo(1);
        }
    }

    @Test
    void statsCountPacketsBytesKicksAndInterruptsPerQueue() throws Exception {
        try (PciBed bed = PciBed.loopback(PciBed.config().build())) {
            for (int i = 0; i < 10; i++) {
                bed.driver.send(0, Frames.ethernet(Frames.DEVICE_MAC, Frames.OTHER_MAC, 100, i));
                assertThat(bed.driver.receive(0, WAIT)).isNotNull();
            }
            bed.driver.awaitTxDone(0, WAIT);
            QueueStats rx = bed.device.stats().rx(0);
            QueueStats tx = bed.device.stats().tx(0);
            assertThat(rx.getPackets()).isEqualTo(10);
            assertThat(rx.getBytes()).isEqualTo(1000);
            assertThat(tx.getPackets()).isEqualTo(10);
            assertThat(tx.getBytes()).isEqualTo(1000);
            assertThat(tx.getKicks()).isPositive();
            assertThat(rx.getInterrupts()).isPositive();
            assertThat(bed.await(() -> rx.getInterrupts() == bed.pci.interrupts().queueCallbacks(0), WAIT))
                    .as("every counted interrupt is an MSI-X message the guest handled").isTrue();
            assertThat(tx.getInterrupts()).isEqualTo(bed.pci.interrupts().queueCallbacks(1));
            assertThat(rx.getKind()).isEqualTo("rx");
            assertThat(bed.device.stats().ctrl().getQueueIndex()).isEqualTo(2);
            assertThat(bed.device.stats().all()).hasSize(3);
        }
    }

    @Test
    void statsAreMxBeansRegisteredPerQueueAndUnregisteredOnClose() throws Exception {
        String id = dev.vnet.net.harness.Bed.uniqueId("jmx");
        MBeanServer server = ManagementFactory.getPlatformMBeanServer();
        ObjectName rx0 = new ObjectName("dev.vnet:type=VirtioNet,id=\"" + id + "\",queue=0");
        try (PciBed bed = PciBed.loopback(PciBed.config().id(id).queuePairs(2).build())) {
            assertThat(server.queryNames(new ObjectName("dev.vnet:type=VirtioNet,id=\"" + id + "\",*"), null))
                    .hasSize(5);
            bed.driver.send(0, Frames.ethernet(Frames.DEVICE_MAC, Frames.OTHER_MAC, 123, 1));
            assertThat(bed.driver.receive(0, WAIT)).isNotNull();
            assertThat(server.getAttribute(rx0, "Packets")).isEqualTo(1L);
            assertThat(server.getAttribute(rx0, "Bytes")).isEqualTo(123L);
            assertThat(server.getAttribute(rx0, "Kind")).isEqualTo("rx");
            assertThat(server.getAttribute(NetStats.objectName(id, 1), "DropsLinkDown")).isEqualTo(0L);
        }
        assertThat(server.isRegistered(rx0)).isFalse();
    }
}
