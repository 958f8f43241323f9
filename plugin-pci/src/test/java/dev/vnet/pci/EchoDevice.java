package dev.vnet.pci;

import dev.vnet.virtio.ActivationContext;
import dev.vnet.virtio.DescriptorChain;
import dev.vnet.virtio.DeviceWorker;
import dev.vnet.virtio.FeatureRules;
import dev.vnet.virtio.VirtioDevice;
import dev.vnet.virtio.VirtioFeatures;
import dev.vnet.virtio.Virtqueue;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicIntegerArray;

/**
 * A test device: every queue echoes, i.e. its worker pops a chain, copies the readable bytes into the
 * writable part, returns it with the copied length and interrupts when the driver wants it. Two device
 * feature bits exercise dependency checks ({@link #ECHO_F_UPPER} needs {@link #ECHO_F_BASE}). Its 8-byte
 * configuration space holds a read-only {@code counter} (changed by {@link #changeConfig}) and a
 * read-write {@code scratch}.
 */
final class EchoDevice implements VirtioDevice {

    static final int ECHO_F_BASE = 0;
    static final int ECHO_F_UPPER = 1;
    static final int DEVICE_ID = 1;
    static final long VERSION_1 = VirtioFeatures.bit(VirtioFeatures.VIRTIO_F_VERSION_1);

    private final int queueCount;
    private final int maxSize;
    private final long offered;
    private final boolean queueReset;
    private final FeatureRules rules;
    private final byte[] config;
    private final Arena arena = Arena.ofShared();

    private volatile Runnable configListener = () -> { };
    private volatile ActivationContext context;
    private final DeviceWorker[] workers;
    private final Virtqueue[] queues;
    private final AtomicIntegerArray kicks;
    final AtomicInteger activations = new AtomicInteger();
    final AtomicInteger resets = new AtomicInteger();
    final AtomicInteger echoed = new AtomicInteger();
    /** Per-chain delay, to keep traffic in flight. */
    volatile long delayNanos;

    EchoDevice() {
        this(2, 256, false);
    }

    EchoDevice(int queueCount, int maxSize, boolean queueReset) {
        this(queueCount, maxSize, queueReset, 8);
    }

    EchoDevice(int queueCount, int maxSize, boolean queueReset, int configSize) {
        this.config = new byte[configSize];
        this.queueCount = queueCount;
        this.maxSize = maxSize;
        this.queueReset = queueReset;
        this.offered = VERSION_1 | VirtioFeatures.bit(VirtioFeatures.VIRTIO_F_EVENT_IDX)
                | VirtioFeatures.bit(VirtioFeatures.VIRTIO_F_INDIRECT_DESC) | VirtioFeatures.bit(ECHO_F_BASE)
                | VirtioFeatures.bit(ECHO_F_UPPER)
                | (queueReset ? VirtioFeatures.bit(VirtioFeatures.VIRTIO_F_RING_RESET) : 0);
        this.rules = FeatureRules.builder(offered, bit -> "bit " + bit).require(ECHO_F_UPPER, ECHO_F_BASE).build();
        this.workers = new DeviceWorker[queueCount];
        this.queues = new Virtqueue[queueCount];
        this.kicks = new AtomicIntegerArray(queueCount);
    }

    @Override
    public int deviceId() {
        return DEVICE_ID;
    }

    @Override
    public long offeredFeatures() {
        return offered;
    }

    @Override
    public FeatureRules featureRules() {
        return rules;
    }

    @Override
    public int queueCount() {
        return queueCount;
    }

    @Override
    public int queueMaxSize(int index) {
        return maxSize;
    }

    @Override
    public int configSize() {
        return config.length;
    }

    @Override
    public synchronized int readConfig(int offset, int size) {
        int v = 0;
        for (int i = 0; i < size; i++) {
            int o = offset + i;
            v |= (o >= 0 && o < config.length ? config[o] & 0xFF : 0) << (8 * i);
        }
        return v;
    }

    @Override
    public synchronized void writeConfig(int offset, int size, int value) {
        for (int i = 0; i < size; i++) {
            int o = offset + i;
            if (o >= 4 && o < config.length) {
                config[o] = (byte) (value >>> (8 * i));
            }
        }
    }

    /** A device-side change of the read-only counter; tells the transport. */
    void changeConfig(int counter) {
        synchronized (this) {
            for (int i = 0; i < 4 && i < config.length; i++) {
                config[i] = (byte) (counter >>> (8 * i));
            }
        }
        configListener.run();
    }

    @Override
    public void setConfigChangeListener(Runnable listener) {
        this.configListener = listener;
    }

    @Override
    public synchronized void activate(ActivationContext ctx) {
        context = ctx;
        activations.incrementAndGet();
        for (int q = 0; q < queueCount; q++) {
            if (ctx.queues()[q] != null) {
                start(q, ctx.queues()[q]);
            }
        }
    }

    private void start(int q, Virtqueue vq) {
        queues[q] = vq;
        DescriptorChain chain = vq.newChain();
        MemorySegment scratch = arena.allocate(4096);
        ActivationContext ctx = context;
        workers[q] = new DeviceWorker("echo-" + q, () -> step(q, vq, chain, scratch, ctx), ctx.errors()).start();
    }

    private boolean step(int q, Virtqueue vq, DescriptorChain chain, MemorySegment scratch, ActivationContext ctx) {
        int done = 0;
        while (done < 64 && vq.pop(chain)) {
            long n = Math.min(chain.readableLength(), chain.writableLength());
            long pos = 0;
            while (pos < n) {
                long k = chain.read(pos, scratch, 0, Math.min(scratch.byteSize(), n - pos));
                chain.write(pos, scratch, 0, k);
                pos += k;
            }
            long delay = delayNanos;
            if (delay > 0) {
                java.util.concurrent.locks.LockSupport.parkNanos(delay);
            }
            vq.addUsed(chain, n);
            echoed.incrementAndGet();
            done++;
        }
        vq.flushUsed();
        if (done > 0 && vq.needsNotification()) {
            ctx.interrupt().queue(q);
        }
        return done == 64 || vq.enableNotifications();
    }

    @Override
    public void queueNotify(int index) {
        kicks.incrementAndGet(index);
        DeviceWorker w = workers[index];
        if (w != null) {
            w.wake();
        }
    }

    int kicks(int index) {
        return kicks.get(index);
    }

    @Override
    public synchronized void reset() {
        resets.incrementAndGet();
        for (int q = 0; q < queueCount; q++) {
            stopWorker(q);
        }
        context = null;
    }

    private void stopWorker(int q) {
        if (workers[q] != null) {
            workers[q].stop(5, TimeUnit.SECONDS);
            workers[q] = null;
        }
        queues[q] = null;
    }

    boolean anyWorkerRunning() {
        for (DeviceWorker w : workers) {
            if (w != null) {
                return true;
            }
        }
        return false;
    }

    ActivationContext context() {
        return context;
    }

    Virtqueue queue(int q) {
        return queues[q];
    }

    @Override
    public boolean supportsQueueReset() {
        return queueReset;
    }

    @Override
    public synchronized void stopQueue(int index) {
        stopWorker(index);
    }

    @Override
    public synchronized void restartQueue(int index, Virtqueue queue) {
        start(index, queue);
    }
}
