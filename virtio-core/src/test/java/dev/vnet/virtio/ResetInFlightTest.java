package dev.vnet.virtio;

import static dev.vnet.virtio.QueueFixture.features;
import static org.assertj.core.api.Assertions.assertThat;

import dev.vnet.testkit.DriverQueue;
import dev.vnet.testkit.FakeGuestMemory;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A worker holding chains it has popped but not returned when the device is reset: after the reset the
 * old rings are never written again, and a freshly set-up queue works from index 0.
 */
class ResetInFlightTest {

    @Test
    @Timeout(10)
    void resetWhileChainsAreInFlightLeavesTheOldRingsAloneAndTheNewQueueWorks() throws Exception {
        try (FakeGuestMemory mem = FakeGuestMemory.standard()) {
            DriverQueue oldDriver = new DriverQueue(mem, 16, false, false);
            java.util.List<String> errors = new java.util.concurrent.CopyOnWriteArrayList<>();
            Virtqueue oldQueue = Virtqueue.open(0, cfg(oldDriver), 16, mem.memory(), features(), errors::add);
            for (int i = 0; i < 8; i++) {
                oldDriver.addIn(i, new dev.vnet.testkit.Buffer(mem.alloc(64, 8), 64));
            }
            CountDownLatch popped = new CountDownLatch(8);
            DescriptorChain chain = oldQueue.newChain();
            DeviceWorker worker = new DeviceWorker("hold", () -> {
                while (oldQueue.pop(chain)) {
                    popped.countDown(); // keep it: the chain is in flight
                }
                return false;
            }, errors::add).start();
            worker.wake();
            assertThat(popped.await(5, TimeUnit.SECONDS)).isTrue();

            assertThat(worker.stop(5, TimeUnit.SECONDS)).as("reset joins the worker").isTrue();
            byte[] oldUsed = mem.read(oldDriver.usedAddr(), 6 + 8 * 16);

            // The driver sets the queue up again after the reset (Linux re-probes with new rings).
            DriverQueue newDriver = new DriverQueue(mem, 16, false, false);
            Virtqueue newQueue = Virtqueue.open(0, cfg(newDriver), 16, mem.memory(), features(), errors::add);
            DescriptorChain c = newQueue.newChain();
            AtomicInteger completed = new AtomicInteger();
            DeviceWorker echo = new DeviceWorker("echo", () -> {
                while (newQueue.pop(c)) {
                    newQueue.addUsed(c, 3);
                    completed.incrementAndGet();
                }
                newQueue.flushUsed();
                return false;
            }, errors::add).start();
            newDriver.addIn("fresh", new dev.vnet.testkit.Buffer(mem.alloc(64, 8), 64));
            echo.wake();
            while (completed.get() < 1) {
                Thread.onSpinWait();
            }
            echo.stop(5, TimeUnit.SECONDS);

            assertThat(newDriver.getBuf()).isEqualTo(new DriverQueue.Used("fresh", 3));
            assertThat(newDriver.getBuf()).isNull();
            assertThat(mem.read(oldDriver.usedAddr(), 6 + 8 * 16)).isEqualTo(oldUsed);
            assertThat(oldDriver.usedIdx()).isZero();
            assertThat(errors).isEmpty();
        }
    }

    @Test
    @Timeout(10)
    void exceptionInAWorkerIsReportedAndNeverEscapes() throws Exception {
        CountDownLatch reported = new CountDownLatch(1);
        java.util.List<String> errors = new java.util.concurrent.CopyOnWriteArrayList<>();
        DeviceWorker worker = new DeviceWorker("boom", () -> {
            throw new IllegalStateException("device bug");
        }, r -> {
            errors.add(r);
            reported.countDown();
        }).start();
        worker.wake();
        assertThat(reported.await(5, TimeUnit.SECONDS)).isTrue();
        assertThat(worker.stop(5, TimeUnit.SECONDS)).isTrue();
        assertThat(errors).singleElement().asString().contains("device bug");
    }

    @Test
    @Timeout(10)
    void stopIsIdempotent() {
        DeviceWorker worker = new DeviceWorker("idle", () -> false, r -> { }).start();
        assertThat(worker.stop(5, TimeUnit.SECONDS)).isTrue();
        assertThat(worker.stop(5, TimeUnit.SECONDS)).isTrue();
    }

    private static QueueConfig cfg(DriverQueue d) {
        return new QueueConfig(d.size(), d.descAddr(), d.availAddr(), d.usedAddr());
    }
}
