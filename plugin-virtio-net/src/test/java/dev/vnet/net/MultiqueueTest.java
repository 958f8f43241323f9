package dev.vnet.net;

import static org.assertj.core.api.Assertions.assertThat;

import dev.vnet.net.backend.InJvmBackend;
import dev.vnet.net.harness.Bed;
import dev.vnet.net.harness.Frames;
import dev.vnet.net.harness.NetDriver.Received;
import dev.vnet.virtio.VirtioFeatures;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Queue pairs: one worker each, VQ_PAIRS_SET, RX steered by the backend queue that delivered the frame. */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class MultiqueueTest {

    static final Duration WAIT = Duration.ofSeconds(5);

    @ParameterizedTest(name = "{0} pairs, MRG_RXBUF {1}, EVENT_IDX {2}: each pair loops its own frames back")
    @CsvSource({"1, true, true", "1, false, false", "4, true, true", "4, true, false", "4, false, true",
        "4, false, false"})
    void everyPairCarriesTraffic(int pairs, boolean mrg, boolean eventIdx) throws Exception {
        long f = NetFeatures.ALL;
        if (!mrg) {
            f &= ~VirtioFeatures.bit(NetFeatures.VIRTIO_NET_F_MRG_RXBUF);
        }
        if (!eventIdx) {
            f &= ~VirtioFeatures.bit(VirtioFeatures.VIRTIO_F_EVENT_IDX);
        }
        try (Bed bed = Bed.loopback(Bed.config().queuePairs(pairs).build(), f)) {
            assertThat(bed.device.activeQueuePairs()).isEqualTo(pairs);
            for (int round = 0; round < 3; round++) {
                for (int p = 0; p < pairs; p++) {
                    byte[] frame = Frames.ethernet(Frames.DEVICE_MAC, Frames.OTHER_MAC, 1514, p * 10 + round);
                    bed.driver.send(p, frame);
                    Received r = bed.driver.receiveAndRefill(p, WAIT);
                    assertThat(r).as("pair %d round %d", p, round).isNotNull();
                    assertThat(r.frame()).isEqualTo(frame);
                }
            }
            for (int p = 0; p < pairs; p++) {
                assertThat(bed.device.stats().rx(p).getPackets()).isEqualTo(3);
                assertThat(bed.device.stats().tx(p).getPackets()).isEqualTo(3);
            }
        }
    }

    @Test
    void withoutMqTheControlQueueIsIndexTwoAndOnlyPairZeroRuns() throws Exception {
        long f = NetFeatures.ALL & ~VirtioFeatures.bit(NetFeatures.VIRTIO_NET_F_MQ);
        try (Bed bed = Bed.loopback(Bed.config().queuePairs(4).build(), f)) {
            assertThat(bed.harness.ctrlIndex()).isEqualTo(2);
            assertThat(bed.driver.command(0, 0, new byte[] {1})).isZero();
            byte[] frame = Frames.ethernet(Frames.DEVICE_MAC, Frames.OTHER_MAC, 60, 1);
            bed.driver.send(0, frame);
            assertThat(bed.driver.receive(0, WAIT).frame()).isEqualTo(frame);
            assertThat(bed.device.stats().ctrl().getKicks()).isPositive();
        }
    }

    @Test
    void shrinkingPairsStopsRxOnRetiredPairsAndTellsTheBackend() throws Exception {
        try (Bed bed = Bed.loopback(Bed.config().queuePairs(4).build(), NetFeatures.ALL)) {
            assertThat(bed.driver.command(4, 0, dev.vnet.net.harness.NetDriver.le16(2))).isZero();
            assertThat(bed.device.activeQueuePairs()).isEqualTo(2);
            // A frame sent on pair 3 lands in backend queue 3 mod 2 = 1.
            byte[] frame = Frames.ethernet(Frames.DEVICE_MAC, Frames.OTHER_MAC, 300, 5);
            bed.driver.send(3, frame);
            assertThat(bed.driver.receive(1, WAIT).frame()).isEqualTo(frame);
            assertThat(bed.driver.receive(3, Duration.ofMillis(50))).isNull();
            assertThat(bed.driver.command(4, 0, dev.vnet.net.harness.NetDriver.le16(4))).isZero();
            bed.driver.send(3, frame);
            assertThat(bed.driver.receive(3, WAIT).frame()).isEqualTo(frame);
        }
    }

    @Test
    void eachPairHasItsOwnWorkerThread() throws Exception {
        String id = Bed.uniqueId("mqthreads");
        try (Bed bed = Bed.loopback(Bed.config().id(id).queuePairs(4).build(), NetFeatures.ALL)) {
            long workers = Thread.getAllStackTraces().keySet().stream()
                    .filter(t -> t.getName().startsWith(id + "-pair")).count();
            assertThat(workers).isEqualTo(4);
            assertThat(Thread.getAllStackTraces().keySet().stream().anyMatch(t -> t.getName().equals(id + "-ctrl")))
                    .isTrue();
        }
        assertThat(Thread.getAllStackTraces().keySet().stream().filter(Thread::isAlive)
                .anyMatch(t -> t.getName().startsWith(id + "-"))).as("joined at close").isFalse();
    }

    @Test
    void backendActiveQueuesFollowVqPairsSet() throws Exception {
        dev.vnet.net.harness.PlainBackend backend = new dev.vnet.net.harness.PlainBackend(4, true);
        try (Bed bed = Bed.start(backend, Bed.config().queuePairs(4).build(), NetFeatures.ALL, null)) {
            assertThat(backend.activePairs()).isEqualTo(4);
            bed.driver.command(4, 0, dev.vnet.net.harness.NetDriver.le16(3));
            assertThat(backend.activePairs()).isEqualTo(3);
            assertThat(InJvmBackend.class).isNotNull();
        }
    }
}
