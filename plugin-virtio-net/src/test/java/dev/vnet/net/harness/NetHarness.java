package dev.vnet.net.harness;

import dev.vnet.net.NetFeatures;
import dev.vnet.net.VirtioNetDevice;
import dev.vnet.testkit.DriverQueue;
import dev.vnet.testkit.FakeGuestMemory;
import dev.vnet.virtio.ActivationContext;
import dev.vnet.virtio.QueueConfig;
import dev.vnet.virtio.Virtqueue;
import dev.vnet.virtio.VirtqueueException;
import dev.vnet.virtio.VirtioFeatures;
import java.time.Duration;
import java.util.function.BooleanSupplier;

/**
 * Plays the virtio transport's role for one device, as narrowly as the {@code VirtioDevice} contract
 * allows, so that the PCI transport can replace it: negotiates features through the device's
 * {@code FeatureRules}, lays out the driver's queues with the testkit's {@link DriverQueue}, opens a
 * {@link Virtqueue} per enabled queue, activates the device with recording interrupt/error sinks,
 * forwards kicks ({@link #kick}) and config reads, and counts config changes (what a transport turns
 * into a config_generation bump plus a config interrupt).
 */
public final class NetHarness implements AutoCloseable {

    private final FakeGuestMemory memory;
    private final VirtioNetDevice device;
    private final TestInterrupts interrupts = new TestInterrupts();
    private DriverQueue[] queues;
    private long features;
    private int configChanges;
    private final boolean ownsMemory;

    public NetHarness(VirtioNetDevice device) {
        this(device, new FakeGuestMemory(0x10_0000L, 64L << 20), true);
    }

    public NetHarness(VirtioNetDevice device, FakeGuestMemory memory, boolean ownsMemory) {
        this.device = device;
        this.memory = memory;
        this.ownsMemory = ownsMemory;
        device.setConfigChangeListener(() -> {
            synchronized (this) {
                configChanges++;
            }
            interrupts.config();
        });
    }

    public VirtioNetDevice device() {
        return device;
    }

    public FakeGuestMemory memory() {
        return memory;
    }

    public TestInterrupts interrupts() {
        return interrupts;
    }

    public synchronized int configChanges() {
        return configChanges;
    }

    public long features() {
        return features;
    }

    public boolean has(int feature) {
        return VirtioFeatures.has(features, feature);
    }

    /**
     * FEATURES_OK: acks {@code wanted & offered}; fails when the rules refuse it (a transport would leave
     * FEATURES_OK clear).
     *
     * @return the acked set
     */
    public long negotiate(long wanted) {
        long acked = wanted & device.offeredFeatures();
        String violation = device.featureRules().violation(acked);
        if (violation != null) {
            throw new IllegalStateException("FEATURES_OK refused: " + violation);
        }
        features = acked;
        return acked;
    }

    /** Queue pairs in the layout the driver uses (5.1.2: 1 without MQ). */
    public int layoutPairs() {
        return has(NetFeatures.VIRTIO_NET_F_MQ) ? device.config().queuePairs() : 1;
    }

    /** Index of the control queue for the negotiated features, or -1. */
    public int ctrlIndex() {
        return has(NetFeatures.VIRTIO_NET_F_CTRL_VQ) ? 2 * layoutPairs() : -1;
    }

    /** Sets up every queue the driver uses at its maximum size and sets DRIVER_OK. */
    public void start() {
        int pairs = layoutPairs();
        int count = 2 * pairs + (ctrlIndex() >= 0 ? 1 : 0);
        queues = new DriverQueue[device.queueCount()];
        Virtqueue[] vqs = new Virtqueue[device.queueCount()];
        boolean indirect = has(VirtioFeatures.VIRTIO_F_INDIRECT_DESC);
        boolean event = has(VirtioFeatures.VIRTIO_F_EVENT_IDX);
        for (int i = 0; i < count; i++) {
            int max = i == ctrlIndex() ? Math.min(64, device.queueMaxSize(i)) : device.queueMaxSize(i);
            DriverQueue dq = new DriverQueue(memory, max, indirect, event);
            queues[i] = dq;
            try {
                vqs[i] = Virtqueue.open(i, new QueueConfig(max, dq.descAddr(), dq.availAddr(), dq.usedAddr()),
                        device.queueMaxSize(i), memory.memory(), features, interrupts);
            } catch (VirtqueueException e) {
                throw new IllegalStateException(e);
            }
        }
        device.activate(new ActivationContext(memory.memory(), features, vqs, interrupts, interrupts));
    }

    public DriverQueue queue(int index) {
        return queues[index];
    }

    /** {@code virtqueue_kick}: notifies the device when the ring asks for it. */
    public void kick(int index) {
        if (queues[index].kickPrepare()) {
            device.queueNotify(index);
        }
    }

    public int readConfig(int offset, int size) {
        return device.readConfig(offset, size);
    }

    /** Waits for {@code condition}, waking on any interrupt; false on timeout. */
    public boolean await(BooleanSupplier condition, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                return false;
            }
            interrupts.await(2);
        }
        return true;
    }

    /** Device reset (writing 0 to device_status). */
    public void reset() {
        device.reset();
    }

    @Override
    public void close() {
        device.close();
        if (ownsMemory) {
            memory.close();
        }
    }
}
