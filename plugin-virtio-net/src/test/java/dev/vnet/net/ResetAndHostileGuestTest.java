package dev.vnet.net;

import dev.vnet.spi.MacAddress;
import static org.assertj.core.api.Assertions.assertThat;

import dev.vnet.net.harness.Bed;
import dev.vnet.net.harness.Frames;
import dev.vnet.testkit.Buffer;
import dev.vnet.testkit.DriverQueue;
import dev.vnet.virtio.QueueConfig;
import dev.vnet.virtio.Virtqueue;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Reset, per-queue reset (RING_RESET) and a driver that breaks the rules. */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class ResetAndHostileGuestTest {

    static final Duration WAIT = Duration.ofSeconds(5);

    @Test
    void resetIsIdempotentAndStopsEveryWorker() throws Exception {
        String id = Bed.uniqueId("reset");
        try (Bed bed = Bed.loopback(Bed.config().id(id).queuePairs(2).build(), NetFeatures.ALL)) {
            bed.harness.reset();
            bed.harness.reset();
            assertThat(Thread.getAllStackTraces().keySet().stream().filter(Thread::isAlive)
                    .anyMatch(t -> t.getName().startsWith(id + "-"))).isFalse();
            assertThat(bed.device.activeQueuePairs()).isZero();
            bed.device.queueNotify(1);
            bed.device.queueNotify(-1);
            bed.device.queueNotify(1000);
            assertThat(bed.harness.interrupts().needsReset()).isFalse();
        }
    }

    @Test
    void deviceRestartsAfterResetAndRestoresTheConfiguredMac() throws Exception {
        try (Bed bed = Bed.loopback(Bed.config().build(), NetFeatures.ALL)) {
            bed.driver.command(1, 1, Frames.PEER_MAC);
            bed.harness.reset();
            assertThat(bed.device.mac()).isEqualTo(MacAddress.of(Frames.DEVICE_MAC));
        }
    }

    @Test
    void ringResetOfTheTxQueueSwapsInANewRing() throws Exception {
        try (Bed bed = Bed.loopback(Bed.config().build(), NetFeatures.ALL)) {
            assertThat(bed.device.supportsQueueReset()).isTrue();
            bed.device.stopQueue(1);
            DriverQueue fresh = new DriverQueue(bed.harness.memory(), 256, true, true);
            Virtqueue vq = Virtqueue.open(1, new QueueConfig(256, fresh.descAddr(), fresh.availAddr(), fresh.usedAddr()),
                    256, bed.harness.memory().memory(), bed.harness.features(), bed.harness.interrupts());
            bed.device.restartQueue(1, vq);
            long buf = bed.harness.memory().alloc(12 + 60, 64);
            byte[] frame = Frames.ethernet(Frames.DEVICE_MAC, Frames.OTHER_MAC, 60, 3);
            bed.harness.memory().write(buf + 12, frame);
            fresh.addOut("f", new Buffer(buf, 72));
            if (fresh.kickPrepare()) {
                bed.device.queueNotify(1);
            }
            assertThat(bed.driver.receive(0, WAIT).frame()).isEqualTo(frame);
            assertThat(bed.harness.await(fresh::moreUsed, WAIT)).isTrue();
        }
    }

    @Test
    void ringResetOfTheRxQueueStopsDelivery() throws Exception {
        try (Bed bed = Bed.loopback(Bed.config().build(), NetFeatures.ALL)) {
            bed.device.stopQueue(0);
            bed.driver.send(0, Frames.ethernet(Frames.DEVICE_MAC, Frames.OTHER_MAC, 60, 3));
            bed.driver.awaitTxDone(0, WAIT);
            assertThat(bed.driver.receive(0, Duration.ofMillis(50))).isNull();
            assertThat(bed.device.stats().tx(0).getPackets()).isEqualTo(1);
        }
    }

    @Test
    void txChainShorterThanTheHeaderNeedsResetWithoutException() throws Exception {
        try (Bed bed = Bed.loopback(Bed.config().build(), NetFeatures.ALL)) {
            DriverQueue q = bed.harness.queue(1);
            long buf = bed.harness.memory().alloc(16, 16);
            q.addOut("short", new Buffer(buf, 8));
            bed.harness.kick(1);
            assertThat(bed.harness.await(() -> bed.harness.interrupts().needsReset(), WAIT)).isTrue();
            assertThat(bed.harness.interrupts().guestErrors().getFirst()).contains("12-byte header");
        }
    }

    @Test
    void rxBufferSmallerThanTheHeaderNeedsReset() throws Exception {
        try (Bed bed = Bed.loopback(Bed.config().build(), NetFeatures.ALL)) {
            // Use up the driver's good buffers, then post a 4-byte one.
            int ring = bed.harness.queue(0).size();
            for (int i = 0; i < ring; i++) {
                bed.driver.send(0, Frames.ethernet(Frames.DEVICE_MAC, Frames.OTHER_MAC, 60, i));
                assertThat(bed.driver.receive(0, WAIT)).isNotNull();
            }
            long buf = bed.harness.memory().alloc(16, 16);
            bed.harness.queue(0).add(List.of(), List.of(new Buffer(buf, 4)), "tiny");
            bed.harness.kick(0);
            bed.driver.send(0, Frames.ethernet(Frames.DEVICE_MAC, Frames.OTHER_MAC, 60, 1));
            assertThat(bed.harness.await(() -> bed.harness.interrupts().needsReset(), WAIT)).isTrue();
            assertThat(bed.harness.interrupts().guestErrors().getFirst()).contains("RX chain");
        }
    }

    @Test
    void descriptorLoopOnTxNeedsReset() throws Exception {
        try (Bed bed = Bed.loopback(Bed.config().build(), NetFeatures.ALL)) {
            DriverQueue q = bed.harness.queue(1);
            long buf = bed.harness.memory().alloc(64, 16);
            q.writeRawDescriptor(10, buf, 32, DriverQueue.F_NEXT, 11);
            q.writeRawDescriptor(11, buf, 32, DriverQueue.F_NEXT, 10);
            q.publishRawHead(10);
            bed.device.queueNotify(1);
            assertThat(bed.harness.await(() -> bed.harness.interrupts().needsReset(), WAIT)).isTrue();
        }
    }

    @Test
    void descriptorOutsideGuestMemoryOnRxNeedsReset() throws Exception {
        try (Bed bed = Bed.loopback(Bed.config().build(), NetFeatures.ALL)) {
            int ring = bed.harness.queue(0).size();
            for (int i = 0; i < ring; i++) {
                bed.driver.send(0, Frames.ethernet(Frames.DEVICE_MAC, Frames.OTHER_MAC, 60, i));
                assertThat(bed.driver.receive(0, WAIT)).isNotNull();
            }
            DriverQueue q = bed.harness.queue(0);
            q.writeRawDescriptor(0, 0x7000_0000_0000L, 1536, DriverQueue.F_WRITE, 0);
            q.publishRawHead(0);
            bed.device.queueNotify(0);
            bed.driver.send(0, Frames.ethernet(Frames.DEVICE_MAC, Frames.OTHER_MAC, 60, 1));
            assertThat(bed.harness.await(() -> bed.harness.interrupts().needsReset(), WAIT)).isTrue();
        }
    }
}
