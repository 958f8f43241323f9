package dev.vnet.virtio;

import static dev.vnet.virtio.QueueFixture.features;
import static org.assertj.core.api.Assertions.assertThat;

import dev.vnet.testkit.Buffer;
import dev.vnet.testkit.DriverQueue;
import dev.vnet.testkit.FakeGuestMemory;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Guest RAM that is a shared file mapping, truncated under a running queue (what a vhost-user front-end
 * can do to its memfd): the worker's next ring access raises SIGBUS, which the JVM turns into an
 * InternalError in the worker. The worker must report it as a memory fault, once, stop, and not count
 * it as a device bug.
 */
class MemoryFaultTest {

    private static final long RAM = 1 << 20;

    @TempDir
    Path dir;

    /** Records both kinds of report. */
    private static final class Reports implements GuestErrorListener {
        final List<String> guestErrors = new CopyOnWriteArrayList<>();
        final List<String> memoryFaults = new CopyOnWriteArrayList<>();

        @Override
        public void guestError(String reason) {
            guestErrors.add(reason);
        }

        @Override
        public void memoryFault(String reason) {
            memoryFaults.add(reason);
        }
    }

    @Test
    @Timeout(30)
    void workerWhoseGuestRamIsTruncatedReportsAMemoryFaultAndStops() throws Exception {
        try (FileChannel file = FileChannel.open(dir.resolve("guest-ram"), StandardOpenOption.CREATE_NEW,
                StandardOpenOption.READ, StandardOpenOption.WRITE); Arena arena = Arena.ofShared()) {
            file.write(ByteBuffer.wrap(new byte[1]), RAM - 1);
            MemorySegment ram = file.map(FileChannel.MapMode.READ_WRITE, 0, RAM, arena);
            FakeGuestMemory mem = new FakeGuestMemory(0x10_0000L, ram);
            DriverQueue driver = new DriverQueue(mem, 16, false, false);
            Reports reports = new Reports();
            Virtqueue queue = Virtqueue.open(0, new QueueConfig(16, driver.descAddr(), driver.availAddr(),
                    driver.usedAddr()), 16, mem.memory(), features(), reports);
            DescriptorChain chain = queue.newChain();
            AtomicInteger completed = new AtomicInteger();
            DeviceWorker worker = new DeviceWorker("truncated-ram", () -> {
                while (queue.pop(chain)) {
                    queue.addUsed(chain, 0);
                    completed.incrementAndGet();
                }
                queue.flushUsed();
                return false;
            }, reports).start();
            driver.addIn("before", new Buffer(mem.alloc(64, 8), 64));
            worker.wake();
            awaitTrue(() -> completed.get() == 1);

            long failures = DeviceWorker.failures();
            long faults = DeviceWorker.memoryFaults();
            file.truncate(0);
            // The JVM raises the error at the worker's next safepoint poll after the faulting access; a
            // kick or two gets it there. The test itself no longer touches the mapping.
            awaitTrue(() -> {
                worker.wake();
                return !reports.memoryFaults.isEmpty();
            });

            assertThat(worker.stop(5, TimeUnit.SECONDS)).isTrue();
            assertThat(reports.memoryFaults).singleElement().asString()
                    .contains("truncated-ram").contains("guest memory access faulted");
            assertThat(DeviceWorker.memoryFaults()).isEqualTo(faults + 1);
            assertThat(DeviceWorker.failures()).as("a memory fault is not a device bug").isEqualTo(failures);
        }
    }

    @Test
    void onlyTheJvmsUnsafeAccessErrorIsAMemoryFault() {
        assertThat(MemoryFault.is(new InternalError("a fault occurred in an unsafe memory access operation"))).isTrue();
        assertThat(MemoryFault.is(new InternalError(
                "a fault occurred in a recent unsafe memory access operation in compiled Java code"))).isTrue();
        assertThat(MemoryFault.is(new InternalError("something else"))).isFalse();
        assertThat(MemoryFault.is(new InternalError())).isFalse();
        assertThat(MemoryFault.is(new IllegalStateException("unsafe memory access operation"))).isFalse();
    }

    private static void awaitTrue(java.util.function.BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!condition.getAsBoolean()) {
            assertThat(System.nanoTime()).as("timed out").isLessThan(deadline);
            Thread.sleep(1);
        }
    }
}
