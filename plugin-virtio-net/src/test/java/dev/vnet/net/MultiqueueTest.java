package dev.vnet.net;

import static org.assertj.core.api.Assertions.assertThat;

import dev.vnet.net.backend.InJvmBackend;
import dev.vnet.net.harness.Frames;
import dev.vnet.net.harness.PciBed;
import dev.vnet.net.harness.PlainBackend;
import dev.vnet.testkit.net.VirtioNetDriver.Received;
import dev.vnet.testkit.pci.VirtioPciDriver.Strategy;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Queue pairs through the PCI transport: one worker each, VQ_PAIRS_SET, RX steered by the backend queue
 * that delivered the frame, queues rx(i) = 2i, tx(i) = 2i + 1, control last.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class MultiqueueTest {

    static final Duration WAIT = Duration.ofSeconds(5);

    @ParameterizedTest(name = "{0} pairs, MRG_RXBUF {1}, EVENT_IDX {2}, {3}: each pair loops its own frames back")
    @CsvSource({"1, true, true, MSIX_PER_VQ", "1, false, false, INTX", "4, true, true, MSIX_PER_VQ",
        "4, true, false, MSIX_SHARED", "4, false, true, INTX", "4, false, false, MSIX_PER_VQ"})
    void everyPairCarriesTraffic(int pairs, boolean mrg, boolean eventIdx, Strategy strategy) throws Exception {
        NetDeviceConfig config = PciBed.config().queuePairs(pairs).build();
        try (PciBed bed = PciBed.start(PciBed.loopbackBackend(config), config, strategy, PciBed.knobs(mrg, eventIdx))) {
            assertThat(bed.device.activeQueuePairs()).isEqualTo(pairs);
            assertThat(bed.driver.ctrlIndex()).isEqualTo(2 * pairs);
            assertThat(bed.pci.queueCount()).isEqualTo(2 * pairs + 1);
            for (int round = 0; round < 3; round++) {
                for (int p = 0; p < pairs; p++) {
                    byte[] frame = Frames.ethernet(Frames.DEVICE_MAC, Frames.OTHER_MAC, 1514, p * 10 + round);
                    bed.driver.send(p, frame);
                    Received r = bed.driver.receive(p, WAIT);
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
        try (PciBed bed = PciBed.loopback(PciBed.config().queuePairs(4).build(),
                d -> d.without(NetFeatures.VIRTIO_NET_F_MQ))) {
            assertThat(bed.driver.ctrlIndex()).isEqualTo(2);
            assertThat(bed.driver.maxQueuePairs()).isEqualTo(1);
            assertThat(bed.driver.setPromisc(true)).isZero();
            byte[] frame = Frames.ethernet(Frames.DEVICE_MAC, Frames.OTHER_MAC, 60, 1);
            bed.driver.send(0, frame);
            assertThat(bed.driver.receive(0, WAIT).frame()).isEqualTo(frame);
            assertThat(bed.device.stats().ctrl().getKicks()).isPositive();
            assertThat(bed.device.activeQueuePairs()).isEqualTo(1);
        }
    }

    @Test
    void shrinkingPairsStopsRxOnRetiredPairsAndTellsTheBackend() throws Exception {
        try (PciBed bed = PciBed.loopback(PciBed.config().queuePairs(4).build())) {
            assertThat(bed.driver.setQueuePairs(2)).isZero();
            assertThat(bed.device.activeQueuePairs()).isEqualTo(2);
            // A frame sent on pair 3 lands in backend queue 3 mod 2 = 1.
            byte[] frame = Frames.ethernet(Frames.DEVICE_MAC, Frames.OTHER_MAC, 300, 5);
            bed.driver.send(3, frame);
            assertThat(bed.driver.receive(1, WAIT).frame()).isEqualTo(frame);
            assertThat(bed.driver.receive(3, Duration.ofMillis(50))).isNull();
            assertThat(bed.driver.setQueuePairs(4)).isZero();
            bed.driver.send(3, frame);
            assertThat(bed.driver.receive(3, WAIT).frame()).isEqualTo(frame);
        }
    }

    @Test
    void eachPairHasItsOwnWorkerThread() throws Exception {
        String id = dev.vnet.net.harness.Bed.uniqueId("mqthreads");
        try (PciBed bed = PciBed.loopback(PciBed.config().id(id).queuePairs(4).build())) {
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
        PlainBackend backend = new PlainBackend(4, true);
        try (PciBed bed = PciBed.start(backend, PciBed.config().queuePairs(4).build())) {
            assertThat(backend.activePairs()).as("Linux sets every pair at open").isEqualTo(4);
            assertThat(bed.driver.setQueuePairs(3)).isZero();
            assertThat(backend.activePairs()).isEqualTo(3);
            assertThat(InJvmBackend.class).isNotNull();
        }
    }
}
