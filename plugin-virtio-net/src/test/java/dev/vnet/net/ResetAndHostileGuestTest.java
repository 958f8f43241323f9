package dev.vnet.net;

import dev.vnet.spi.MacAddress;
import static org.assertj.core.api.Assertions.assertThat;

import dev.vnet.net.harness.Frames;
import dev.vnet.net.harness.PciBed;
import dev.vnet.testkit.Buffer;
import dev.vnet.testkit.DriverQueue;
import dev.vnet.testkit.net.VirtioNetDriver;
import dev.vnet.virtio.VirtioFeatures;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Device reset (device_status = 0), per-queue reset through {@code queue_reset} (VIRTIO_F_RING_RESET) and
 * a driver that breaks the rules, all through the PCI transport: a guest error sets DEVICE_NEEDS_RESET
 * and raises a configuration interrupt, and never throws.
 */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class ResetAndHostileGuestTest {

    static final Duration WAIT = Duration.ofSeconds(5);

    static boolean workersAlive(String id) {
        return Thread.getAllStackTraces().keySet().stream().filter(Thread::isAlive)
                .anyMatch(t -> t.getName().startsWith(id + "-"));
    }

    @Test
    void resetIsIdempotentAndStopsEveryWorker() throws Exception {
        String id = dev.vnet.net.harness.Bed.uniqueId("reset");
        try (PciBed bed = PciBed.loopback(PciBed.config().id(id).queuePairs(2).build())) {
            assertThat(workersAlive(id)).isTrue();
            bed.pci.reset();
            assertThat(bed.pci.status()).isZero();
            bed.pci.reset();
            assertThat(workersAlive(id)).as("joined when device_status reads 0").isFalse();
            assertThat(bed.device.activeQueuePairs()).isZero();
            bed.pci.kick(1);
            bed.pci.mmio().write(bed.pci.notifyBase() + 4L * 1000, 2, 1000); // past the notify area
            bed.device.queueNotify(-1);
            bed.device.queueNotify(1000);
            assertThat(bed.needsReset()).isFalse();
        }
    }

    @Test
    void resetWithTrafficInFlightLeavesTheRingsAloneOnceStatusReadsZero() throws Exception {
        try (PciBed bed = PciBed.loopback(PciBed.config().queuePairs(2).build())) {
            for (int i = 0; i < 200; i++) {
                int pair = i % 2;
                if (bed.driver.send(pair, Frames.ethernet(Frames.DEVICE_MAC, Frames.OTHER_MAC, 1514, i)) < 0) {
                    break;
                }
            }
            bed.pci.reset();
            assertThat(bed.pci.status()).isZero();
            int[] used = new int[5];
            for (int q = 0; q < 5; q++) {
                used[q] = bed.queue(q).usedIdx();
            }
            Thread.sleep(50);
            for (int q = 0; q < 5; q++) {
                assertThat(bed.queue(q).usedIdx()).as("queue %d used.idx after reset", q).isEqualTo(used[q]);
            }
            long messages = bed.pci.interrupts().totalMessages();
            Thread.sleep(20);
            assertThat(bed.pci.interrupts().totalMessages()).as("no interrupt after reset").isEqualTo(messages);
        }
    }

    @Test
    void deviceRestartsAfterResetWithTheConfiguredMacAndCarriesTraffic() throws Exception {
        try (PciBed bed = PciBed.loopback(PciBed.config().build())) {
            assertThat(bed.driver.setMacAddress(Frames.PEER_MAC)).isZero();
            assertThat(bed.driver.readMac()).isEqualTo(Frames.PEER_MAC);
            bed.driver.remove();
            assertThat(bed.device.mac()).isEqualTo(MacAddress.of(Frames.DEVICE_MAC));
            VirtioNetDriver again = new VirtioNetDriver(bed.pci).probe().open();
            assertThat(again.mac()).isEqualTo(Frames.DEVICE_MAC);
            byte[] frame = Frames.ethernet(Frames.DEVICE_MAC, Frames.OTHER_MAC, 1514, 4);
            again.send(0, frame);
            assertThat(again.receive(0, WAIT).frame()).isEqualTo(frame);
        }
    }

    @Test
    void ringResetOfTheTxQueueSwapsInANewRing() throws Exception {
        try (PciBed bed = PciBed.loopback(PciBed.config().build())) {
            assertThat(bed.device.supportsQueueReset()).isTrue();
            assertThat(bed.driver.has(VirtioFeatures.VIRTIO_F_RING_RESET)).isTrue();
            byte[] before = Frames.ethernet(Frames.DEVICE_MAC, Frames.OTHER_MAC, 60, 2);
            bed.driver.send(0, before);
            assertThat(bed.driver.receive(0, WAIT).frame()).isEqualTo(before);
            bed.driver.awaitTxDone(0, WAIT);
            long oldRing = bed.queue(1).descAddr();
            bed.driver.resetTxQueue(0);
            assertThat(bed.queue(1).descAddr()).isNotEqualTo(oldRing);
            byte[] frame = Frames.ethernet(Frames.DEVICE_MAC, Frames.OTHER_MAC, 60, 3);
            bed.driver.send(0, frame);
            assertThat(bed.driver.receive(0, WAIT).frame()).isEqualTo(frame);
            assertThat(bed.driver.awaitTxDone(0, WAIT)).containsExactly(0);
            assertThat(bed.needsReset()).isFalse();
        }
    }

    @Test
    void ringResetOfTheRxQueueStopsDeliveryUntilReenabledWithoutLoss() throws Exception {
        try (PciBed bed = PciBed.loopback(PciBed.config().build())) {
            bed.driver.disableRxQueue(0);
            assertThat(bed.pci.readCommon(0x3A, 2)).as("queue_reset reads 1 once the queue is reset").isEqualTo(1);
            byte[] frame = Frames.ethernet(Frames.DEVICE_MAC, Frames.OTHER_MAC, 60, 3);
            bed.driver.send(0, frame);
            bed.driver.awaitTxDone(0, WAIT);
            assertThat(bed.driver.receive(0, Duration.ofMillis(50))).isNull();
            assertThat(bed.device.stats().tx(0).getPackets()).isEqualTo(1);
            bed.driver.enableRxQueue(0);
            assertThat(bed.driver.receive(0, WAIT).frame()).as("the frame waited in the backend").isEqualTo(frame);
            bed.driver.resetRxQueue(0);
            bed.driver.send(0, frame);
            assertThat(bed.driver.receive(0, WAIT).frame()).isEqualTo(frame);
            assertThat(bed.needsReset()).isFalse();
        }
    }

    @Test
    void ringResetOfTheControlQueueKeepsCommandsWorking() throws Exception {
        try (PciBed bed = PciBed.loopback(PciBed.config().build())) {
            int ctrl = bed.driver.ctrlIndex();
            bed.pci.resetQueue(ctrl);
            bed.pci.reenableQueue(ctrl);
            assertThat(bed.driver.setPromisc(false)).isZero();
        }
    }

    @Test
    void txChainShorterThanTheHeaderNeedsResetWithoutException() throws Exception {
        try (PciBed bed = PciBed.loopback(PciBed.config().build())) {
            long config = bed.configCallbacks();
            DriverQueue q = bed.queue(1);
            long buf = bed.memory.alloc(16, 16);
            q.addOut("short", new Buffer(buf, 8));
            bed.kick(1);
            assertThat(bed.awaitNeedsReset(config, WAIT)).isTrue();
            assertThat(bed.needsResetReason()).contains("12-byte header");
        }
    }

    @Test
    void rxBufferSmallerThanTheHeaderNeedsReset() throws Exception {
        try (PciBed bed = PciBed.loopback(PciBed.config().build(), d -> d.refill(false))) {
            // Use up the driver's good buffers, then post a 4-byte one.
            int ring = bed.queue(0).size();
            for (int i = 0; i < ring; i++) {
                bed.driver.send(0, Frames.ethernet(Frames.DEVICE_MAC, Frames.OTHER_MAC, 60, i));
                assertThat(bed.driver.receive(0, WAIT)).isNotNull();
            }
            long config = bed.configCallbacks();
            long buf = bed.memory.alloc(16, 16);
            bed.queue(0).add(List.of(), List.of(new Buffer(buf, 4)), "tiny");
            bed.kick(0);
            bed.driver.send(0, Frames.ethernet(Frames.DEVICE_MAC, Frames.OTHER_MAC, 60, 1));
            assertThat(bed.awaitNeedsReset(config, WAIT)).isTrue();
            assertThat(bed.needsResetReason()).contains("RX chain");
        }
    }

    @Test
    void descriptorLoopOnTxNeedsReset() throws Exception {
        try (PciBed bed = PciBed.loopback(PciBed.config().build())) {
            long config = bed.configCallbacks();
            DriverQueue q = bed.queue(1);
            long buf = bed.memory.alloc(64, 16);
            q.writeRawDescriptor(10, buf, 32, DriverQueue.F_NEXT, 11);
            q.writeRawDescriptor(11, buf, 32, DriverQueue.F_NEXT, 10);
            q.publishRawHead(10);
            bed.pci.kick(1);
            assertThat(bed.awaitNeedsReset(config, WAIT)).isTrue();
        }
    }

    @Test
    void descriptorOutsideGuestMemoryOnRxNeedsReset() throws Exception {
        try (PciBed bed = PciBed.loopback(PciBed.config().build(), d -> d.refill(false))) {
            int ring = bed.queue(0).size();
            for (int i = 0; i < ring; i++) {
                bed.driver.send(0, Frames.ethernet(Frames.DEVICE_MAC, Frames.OTHER_MAC, 60, i));
                assertThat(bed.driver.receive(0, WAIT)).isNotNull();
            }
            long config = bed.configCallbacks();
            DriverQueue q = bed.queue(0);
            q.writeRawDescriptor(0, 0x7000_0000_0000L, 1536, DriverQueue.F_WRITE, 0);
            q.publishRawHead(0);
            bed.pci.kick(0);
            bed.driver.send(0, Frames.ethernet(Frames.DEVICE_MAC, Frames.OTHER_MAC, 60, 1));
            assertThat(bed.awaitNeedsReset(config, WAIT)).isTrue();
        }
    }

    @Test
    void aResetAfterAGuestErrorRecoversTheDevice() throws Exception {
        try (PciBed bed = PciBed.loopback(PciBed.config().build())) {
            long config = bed.configCallbacks();
            bed.queue(1).addOut("short", new Buffer(bed.memory.alloc(16, 16), 8));
            bed.kick(1);
            assertThat(bed.awaitNeedsReset(config, WAIT)).isTrue();
            bed.driver.remove();
            assertThat(bed.needsReset()).isFalse();
            assertThat(bed.needsResetReason()).isNull();
            VirtioNetDriver again = new VirtioNetDriver(bed.pci).probe().open();
            byte[] frame = Frames.ethernet(Frames.DEVICE_MAC, Frames.OTHER_MAC, 100, 5);
            again.send(0, frame);
            assertThat(again.receive(0, WAIT).frame()).isEqualTo(frame);
        }
    }
}
