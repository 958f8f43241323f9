package dev.vnet.virtio;

import dev.vnet.testkit.Buffer;
import dev.vnet.testkit.DriverQueue;
import dev.vnet.testkit.FakeGuestMemory;
import java.util.ArrayList;
import java.util.List;

/** A driver-side queue from the testkit and the device-side engine over the same fake guest RAM. */
final class QueueFixture implements AutoCloseable {

    final FakeGuestMemory mem;
    final DriverQueue driver;
    final List<String> errors = new ArrayList<>();
    final Virtqueue queue;
    final DescriptorChain chain;
    final long features;

    QueueFixture(int size, long features) {
        this(FakeGuestMemory.standard(), size, features);
    }

    QueueFixture(FakeGuestMemory mem, int size, long features) {
        this.mem = mem;
        this.features = features;
        this.driver = new DriverQueue(mem, size, VirtioFeatures.has(features, VirtioFeatures.VIRTIO_F_INDIRECT_DESC),
                VirtioFeatures.has(features, VirtioFeatures.VIRTIO_F_EVENT_IDX));
        try {
            this.queue = Virtqueue.open(0, config(), size, mem.memory(), features, errors::add);
        } catch (VirtqueueException e) {
            throw new AssertionError(e);
        }
        this.chain = queue.newChain();
    }

    static long features(int... bits) {
        long f = VirtioFeatures.bit(VirtioFeatures.VIRTIO_F_VERSION_1);
        for (int b : bits) {
            f |= VirtioFeatures.bit(b);
        }
        return f;
    }

    QueueConfig config() {
        return new QueueConfig(driver.size(), driver.descAddr(), driver.availAddr(), driver.usedAddr());
    }

    /** A buffer of {@code len} bytes filled with {@code fill}. */
    Buffer buffer(int len, int fill) {
        long gpa = mem.alloc(len, 8);
        mem.fill(gpa, len, (byte) fill);
        return new Buffer(gpa, len);
    }

    /** Returns every popped chain with its writable length written. */
    int completeAll() {
        int n = 0;
        while (queue.pop(chain)) {
            queue.addUsed(chain, chain.writableLength());
            n++;
        }
        queue.flushUsed();
        return n;
    }

    @Override
    public void close() {
        mem.close();
    }
}
