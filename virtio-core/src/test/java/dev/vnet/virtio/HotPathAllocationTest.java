package dev.vnet.virtio;

import static dev.vnet.virtio.QueueFixture.features;
import static dev.vnet.virtio.VirtioFeatures.VIRTIO_F_EVENT_IDX;
import static dev.vnet.virtio.VirtioFeatures.VIRTIO_F_INDIRECT_DESC;
import static org.assertj.core.api.Assertions.assertThat;

import dev.vnet.spi.SegmentList;
import dev.vnet.testkit.Buffer;
import java.lang.management.ManagementFactory;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The engine allocates nothing per descriptor: the device side of pop / gather into a SegmentList /
 * addUsed / flush / notification check is measured with the JVM's per-thread allocation counter
 * ({@code com.sun.management.ThreadMXBean#getCurrentThreadAllocatedBytes}) after warm-up. The driver
 * model's own allocations happen outside the measured window.
 */
class HotPathAllocationTest {

    private static final int SIZE = 256;
    private static final int DESCRIPTORS_PER_CHAIN = 4;

    @Test
    void popGatherAndCompleteAllocateNothingPerDescriptor() {
        var threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        try (QueueFixture f = new QueueFixture(SIZE, features(VIRTIO_F_INDIRECT_DESC, VIRTIO_F_EVENT_IDX))) {
            List<Buffer> out = List.of(f.buffer(12, 1), f.buffer(64, 2), f.buffer(64, 3));
            List<Buffer> in = List.of(f.buffer(128, 0));
            SegmentList sg = new SegmentList(SIZE);

            for (int warm = 0; warm < 400; warm++) {
                round(f, out, in, sg);
            }
            long allocated = 0;
            int rounds = 200;
            for (int r = 0; r < rounds; r++) {
                fill(f, out, in);
                long before = threads.getCurrentThreadAllocatedBytes();
                deviceSide(f, sg);
                allocated += threads.getCurrentThreadAllocatedBytes() - before;
                drain(f);
            }
            long descriptors = (long) rounds * SIZE * DESCRIPTORS_PER_CHAIN;
            assertThat(allocated)
                    .as("bytes allocated by the device side over %d descriptors", descriptors)
                    .isLessThan(descriptors / 64);
            assertThat(f.errors).isEmpty();
        }
    }

    private static void round(QueueFixture f, List<Buffer> out, List<Buffer> in, SegmentList sg) {
        fill(f, out, in);
        deviceSide(f, sg);
        drain(f);
    }

    private static void fill(QueueFixture f, List<Buffer> out, List<Buffer> in) {
        for (int i = 0; i < SIZE; i++) {
            f.driver.add(out, in, Boolean.TRUE);
        }
    }

    private static void deviceSide(QueueFixture f, SegmentList sg) {
        f.queue.disableNotifications();
        while (f.queue.pop(f.chain)) {
            sg.clear();
            f.chain.readableRanges(sg, 12);
            f.chain.writeLittleEndian(0, 2, sg.totalLength());
            f.queue.addUsed(f.chain, 2);
        }
        f.queue.flushUsed();
        f.queue.needsNotification();
        f.queue.enableNotifications();
    }

    private static void drain(QueueFixture f) {
        while (f.driver.getBuf() != null) {
            // returned to the free list
        }
    }
}
