package dev.vnet.net.hostile;

import static org.assertj.core.api.Assertions.assertThat;

import dev.vnet.net.NetDeviceConfig;
import dev.vnet.net.NetFeatures;
import dev.vnet.net.VirtioNetDevice;
import dev.vnet.net.backend.InJvmBackend;
import dev.vnet.net.harness.Bed;
import dev.vnet.net.harness.Frames;
import dev.vnet.testkit.Buffer;
import dev.vnet.testkit.FakeGuestMemory;
import dev.vnet.testkit.net.VirtioNetDriver;
import dev.vnet.virtio.ActivationContext;
import dev.vnet.virtio.DeviceWorker;
import dev.vnet.virtio.VirtioFeatures;
import dev.vnet.virtio.Virtqueue;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Findings of the fuzz targets that depended on state built up over many inputs (so the crashing input
 * alone does not replay them), turned into deterministic tests. See docs/FUZZING.md.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class FuzzFindingsTest {

    static final Duration WAIT = Duration.ofSeconds(5);

    /**
     * TxHeaderFuzzTest, finding 1 ("worker fuzz-tx-loop-pair0 did not stop within 10 s"): with
     * MRG_RXBUF, a frame needing more bytes than all the RX buffers the guest has posted made the RX path
     * pop every buffer, find the ring dry, un-pop them, and see "buffers available" (the ones it had just
     * un-popped) when re-enabling notifications: an endless loop inside one worker step, so the worker
     * spun at 100% and a device reset hung. A guest could trigger it at will by posting a few small
     * buffers while a large GSO frame waits. Now the device waits for the guest's next buffers (the frame
     * stays in the backend), reset returns at once, and the frame arrives once there is room.
     */
    @Test
    void mergeableFrameLargerThanAllPostedBuffersWaitsInsteadOfSpinning() throws Exception {
        long workerFailures = DeviceWorker.failures();
        ScriptedBackend backend = new ScriptedBackend(true, 1);
        try (Bed bed = Bed.start(backend, Bed.config().build(), NetFeatures.ALL, null)) {
            assertThat(bed.driver.mode()).isEqualTo(VirtioNetDriver.RxMode.MERGEABLE);
            // Take back every posted buffer: reset, restart without RX buffers, post four of 1536 bytes.
            bed.harness.reset();
            bed.harness.start();
            FakeGuestMemory mem = bed.harness.memory();
            for (int i = 0; i < 4; i++) {
                bed.harness.queue(0).add(List.of(), List.of(new Buffer(mem.alloc(1536, 64), 1536)), "small" + i);
            }
            bed.harness.kick(0);
            byte[] big = Frames.tcp4Partial(Frames.DEVICE_MAC, Frames.OTHER_MAC, 20_000, 1);
            backend.inject(0, CveRegressionTest.withHeader(Frames.header(1, 1, 54, 1448, 34, 16), big));
            Thread.sleep(200);

            assertThat(bed.harness.queue(0).moreUsed()).as("nothing delivered into too little room").isFalse();
            assertThat(backend.pending(0)).as("the frame waits in the backend").isEqualTo(1);
            assertThat(workerCpuNanos(bed, 200)).as("worker CPU time over 200 ms of waiting")
                    .isLessThan(TimeUnit.MILLISECONDS.toNanos(50));

            long t0 = System.nanoTime();
            bed.harness.reset(); // before the fix: "worker ... did not stop within 10 s"
            assertThat(System.nanoTime() - t0).as("reset time while waiting").isLessThan(TimeUnit.SECONDS.toNanos(2));
            bed.harness.start();
            mem = bed.harness.memory();
            for (int i = 0; i < 4; i++) {
                bed.harness.queue(0).add(List.of(), List.of(new Buffer(mem.alloc(1536, 64), 1536)), "again" + i);
            }
            bed.harness.kick(0);
            Thread.sleep(50);
            for (int i = 0; i < 16; i++) {
                bed.harness.queue(0).add(List.of(), List.of(new Buffer(mem.alloc(1536, 64), 1536)), "more" + i);
            }
            bed.harness.kick(0);
            assertThat(bed.harness.await(() -> bed.harness.queue(0).moreUsed(), WAIT)).isTrue();
            assertThat(backend.pending(0)).isZero();

            assertThat(bed.harness.interrupts().needsReset()).isFalse();
        }
        assertThat(DeviceWorker.failures()).isEqualTo(workerFailures);
    }

    /**
     * ControlQueueFuzzTest, finding 3 ("device wrote guest byte 0x100190 outside the used rings and
     * device-writable buffers", test oracle): the first chain's ack buffer was byte 1 of the address of
     * the second chain's ack descriptor. The first command fails, so its ack VIRTIO_NET_ERR (1) turned
     * that address from 0x108190 into 0x100190 before the device popped the second chain, whose ack then
     * went where the guest's descriptor now pointed: what a device must do, and what the oracle's list of
     * the buffers the test wrote could not know.
     */
    @Test
    void ackRewritingALaterChainsDescriptorIsFollowed() throws Exception {
        long ram = 0x10_0000;
        FakeGuestMemory mem = new FakeGuestMemory(ram, 1 << 20);
        VirtioNetDevice device = new VirtioNetDevice(
                NetDeviceConfig.builder().id("ack-alias").queuePairs(1).build(),
                InJvmBackend.loopback("ack-alias", 1, InJvmBackend.DEFAULT_RING_BYTES));
        Recorder recorder = new Recorder();
        RawRing ring = new RawRing(mem, ram, 8);
        long header = ram + 0x8000;
        long secondAck = ram + 0x8190;
        mem.write(secondAck, new byte[] {(byte) 0xEE});
        mem.write(ram + 0x0190, new byte[] {(byte) 0xEE});
        mem.write(header, new byte[] {(byte) 0xFF, 0, 0}); // an unknown class: VIRTIO_NET_ERR
        mem.write(header + 16, new byte[] {0, 0, 1}); // VIRTIO_NET_CTRL_RX_PROMISC on: VIRTIO_NET_OK
        ring.descriptor(0, header, 3, RawRing.F_NEXT, 1);
        ring.descriptor(1, ring.desc + 16 * 3 + 1, 1, RawRing.F_WRITE, 0); // byte 1 of descriptor 3's addr
        ring.descriptor(2, header + 16, 3, RawRing.F_NEXT, 3);
        ring.descriptor(3, secondAck, 1, RawRing.F_WRITE, 0);
        ring.publish(0);
        ring.publish(2);
        long features = VirtioFeatures.bit(VirtioFeatures.VIRTIO_F_VERSION_1)
                | NetFeatures.bits(NetFeatures.VIRTIO_NET_F_CTRL_VQ, NetFeatures.VIRTIO_NET_F_CTRL_RX);
        Virtqueue[] queues = new Virtqueue[device.queueCount()];
        queues[2] = ring.open(2, device.queueMaxSize(2), features, recorder);
        try {
            device.activate(new ActivationContext(mem.memory(), features, queues, recorder, recorder));
            device.queueNotify(2);
            assertThat(recorder.await(() -> ring.usedIdx() == 2, 1000)).as("both chains answered").isTrue();

            assertThat(mem.u64(ring.desc + 16 * 3)).as("the second ack's address after the first ack")
                    .isEqualTo(ram + 0x0190);
            assertThat(mem.read(ram + 0x0190, 1)[0]).as("the second ack, where its descriptor now points")
                    .isEqualTo((byte) 0);
            assertThat(mem.read(secondAck, 1)[0]).as("where the test had pointed it").isEqualTo((byte) 0xEE);
            assertThat(recorder.needsReset()).isFalse();
        } finally {
            device.close();
            mem.close();
        }
    }

    /** CPU time the device's pair-0 worker used during {@code millis} of wall time. */
    private static long workerCpuNanos(Bed bed, long millis) throws InterruptedException {
        String name = bed.device.config().id() + "-pair0";
        Thread worker = Thread.getAllStackTraces().keySet().stream().filter(t -> t.getName().equals(name))
                .findFirst().orElseThrow();
        java.lang.management.ThreadMXBean mx = java.lang.management.ManagementFactory.getThreadMXBean();
        long before = mx.getThreadCpuTime(worker.threadId());
        Thread.sleep(millis);
        return mx.getThreadCpuTime(worker.threadId()) - before;
    }
}
