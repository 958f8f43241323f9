package dev.vnet.net;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.vnet.net.backend.InJvmBackend;
import dev.vnet.net.harness.PciBed;
import dev.vnet.net.harness.Frames;
import dev.vnet.testkit.net.VirtioNetDriver.Received;
import dev.vnet.spi.BackendRequest;
import dev.vnet.spi.NetBackend;
import dev.vnet.spi.NetBackendProvider;
import java.time.Duration;
import java.util.Map;
import java.util.ServiceLoader;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Two devices joined by the in-JVM cable, and the backend providers. */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class CableTest {

    static final Duration WAIT = Duration.ofSeconds(5);

    @ParameterizedTest(name = "MRG_RXBUF {0}, EVENT_IDX {1}, {2} pairs: 60/1514/9014/65550-byte frames cross the cable both ways")
    @CsvSource({"true, true, 1", "false, true, 1", "true, false, 1", "false, false, 1", "true, true, 4", "false, false, 4"})
    void framesCrossTheCableBothWays(boolean mrg, boolean eventIdx, int pairs) throws Exception {
        InJvmBackend[] ends = InJvmBackend.cable("c", pairs, InJvmBackend.DEFAULT_RING_BYTES);
        try (PciBed a = PciBed.start(ends[0], PciBed.config().queuePairs(pairs).disable(NetFeatures.VIRTIO_NET_F_MTU).build(),
                PciBed.knobs(mrg, eventIdx));
             PciBed b = PciBed.start(ends[1], PciBed.config().queuePairs(pairs).disable(NetFeatures.VIRTIO_NET_F_MTU)
                     .mac("52:54:00:00:00:02").build(),
                     PciBed.knobs(mrg, eventIdx))) {
            int seed = 0;
            for (int size : new int[] {60, 1514, 9014, 65550}) {
                for (int p = 0; p < pairs; p++) {
                    byte[] ab = Frames.ethernet(Frames.PEER_MAC, Frames.DEVICE_MAC, size, seed++);
                    byte[] ba = Frames.ethernet(Frames.DEVICE_MAC, Frames.PEER_MAC, size, seed++);
                    a.driver.send(p, ab);
                    b.driver.send(p, ba);
                    Received atB = b.driver.receive(p, WAIT);
                    Received atA = a.driver.receive(p, WAIT);
                    assertThat(atB).as("%d bytes A->B on pair %d", size, p).isNotNull();
                    assertThat(atA).as("%d bytes B->A on pair %d", size, p).isNotNull();
                    assertThat(atB.frame()).isEqualTo(ab);
                    assertThat(atA.frame()).isEqualTo(ba);
                }
            }
            assertThat(a.device.stats().tx(0).getPackets()).isEqualTo(4);
            assertThat(b.device.stats().rx(0).getPackets()).isEqualTo(4);
        }
    }

    @Test
    void tsoFromAReachesBSegmentedWhenBRefusesGuestTso() throws Exception {
        InJvmBackend[] ends = InJvmBackend.cable("tso", 1, InJvmBackend.DEFAULT_RING_BYTES);
        long bFeatures = NetFeatures.ALL & ~NetFeatures.GUEST_OFFLOADS;
        try (PciBed a = PciBed.start(ends[0], PciBed.config().build(), NetFeatures.ALL);
             PciBed b = PciBed.start(ends[1], PciBed.config().mac("52:54:00:00:00:02").build(), bFeatures)) {
            byte[] frame = Frames.tcp4Partial(Frames.PEER_MAC, Frames.DEVICE_MAC, 4000, 1);
            a.driver.send(0, Frames.header(1, NetHeader.VIRTIO_NET_HDR_GSO_TCPV4, 54, 1000, 34, 16), frame, true);
            for (int i = 0; i < 4; i++) {
                Received r = b.driver.receive(0, WAIT);
                assertThat(r).isNotNull();
                assertThat(r.frame()).hasSize(54 + 1000);
                assertThat(Frames.l4ChecksumValid(r.frame())).isTrue();
            }
        }
    }

    @Test
    void aFullPeerRingIsBackpressureForTheSender() throws Exception {
        InJvmBackend[] ends = InJvmBackend.cable("full", 1, 2 * NetHeader.MAX_BUFFER_LEN);
        try (PciBed a = PciBed.start(ends[0], PciBed.config().disable(NetFeatures.VIRTIO_NET_F_MTU).build(), NetFeatures.ALL);
             PciBed b = PciBed.start(ends[1], PciBed.config().mac("52:54:00:00:00:02").build(), NetFeatures.ALL)) {
            b.pci.reset(); // B's driver went away: nobody drains B's ring
            for (int i = 0; i < 4; i++) {
                a.driver.send(0, Frames.ethernet(Frames.PEER_MAC, Frames.DEVICE_MAC, 65550, i));
            }
            assertThat(a.await(() -> ends[1].pendingFrames() == 1, WAIT)).isTrue();
            Thread.sleep(50);
            assertThat(ends[1].pendingFrames()).as("bounded: one 64 KiB frame fits, the rest wait").isEqualTo(1);
            assertThat(a.device.stats().tx(0).getPackets()).isEqualTo(1);
            assertThat(a.device.stats().tx(0).getDrops()).isZero();
        }
    }

    @Test
    void providersAreFoundByServiceLoaderAndCableJoinsByName() {
        Map<String, NetBackendProvider> providers = ServiceLoader.load(NetBackendProvider.class).stream()
                .map(ServiceLoader.Provider::get).collect(Collectors.toMap(NetBackendProvider::type, p -> p));
        assertThat(providers).containsKeys("loopback", "cable");
        try (NetBackend lo = providers.get("loopback").open(new BackendRequest("d", 2, Map.of()))) {
            assertThat(lo.vnetHeader()).isTrue();
            assertThat(lo.maxQueuePairs()).isEqualTo(2);
        }
        NetBackend one = providers.get("cable").open(new BackendRequest("d1", 1, Map.of("name", "wire")));
        NetBackend two = providers.get("cable").open(new BackendRequest("d2", 1, Map.of("name", "wire")));
        assertThat(((InJvmBackend) one).peerEnd()).isSameAs(two);
        assertThatThrownBy(() -> providers.get("cable").open(new BackendRequest("d3", 1, Map.of())))
                .hasMessageContaining("name");
        assertThatThrownBy(() -> providers.get("loopback").open(new BackendRequest("d", 1, Map.of("ring-bytes", "x"))))
                .hasMessageContaining("ring-bytes");
    }
}
