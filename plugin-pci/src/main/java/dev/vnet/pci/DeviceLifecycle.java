package dev.vnet.pci;

import dev.vnet.spi.GuestMemory;
import dev.vnet.virtio.ActivationContext;
import dev.vnet.virtio.DeviceStatus;
import dev.vnet.virtio.GuestErrorListener;
import dev.vnet.virtio.QueueConfig;
import dev.vnet.virtio.VirtioDevice;
import dev.vnet.virtio.VirtioFeatures;
import dev.vnet.virtio.Virtqueue;
import dev.vnet.virtio.VirtqueueException;
import java.util.Arrays;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The device status machine of the transport (virtio 1.2, 2.1, 3.1 and 4.1.4.3.2): validates status
 * writes, negotiates features, builds the queues at DRIVER_OK, resets, and turns guest errors into
 * DEVICE_NEEDS_RESET.
 *
 * <ul>
 *   <li>Writing 0 resets: {@link VirtioDevice#reset} (which joins the workers), then every virtio
 *       register block. The reset completes inside the write, so the next read of
 *       {@code device_status} returns 0, and it only returns 0 once the device has stopped. If the
 *       device's reset fails the status stays non-zero (with DEVICE_NEEDS_RESET) and the driver keeps
 *       polling; writing 0 again retries.</li>
 *   <li>Any other write is checked with {@link DeviceStatus#isLegal}; an illegal one (a regression,
 *       skipping a step, unknown bits) is ignored and the status keeps its value.</li>
 *   <li>FEATURES_OK is refused (the bit stays clear on read-back, 3.1.1 step 6) when the driver acked a
 *       bit the device did not offer, broke a dependency ({@link dev.vnet.virtio.FeatureRules}) or did not
 *       ack VIRTIO_F_VERSION_1 (required by the modern transport, 4.1.2.2).</li>
 *   <li>DRIVER_OK opens every enabled queue ({@link Virtqueue#open}); a bad one sets DEVICE_NEEDS_RESET
 *       and raises a configuration interrupt instead of activating. Otherwise it calls
 *       {@link VirtioDevice#activate} and replays the kicks that came before DRIVER_OK.</li>
 *   <li>A guest error (from the engine, a device worker or a refused register write) sets
 *       DEVICE_NEEDS_RESET once and, with DRIVER_OK set, raises a configuration interrupt (2.1.2).</li>
 * </ul>
 *
 * <p>MSI-X state is PCI state, not virtio state: a virtio reset keeps the MSI-X enable and function-mask
 * bits and the table (addresses, data, per-vector masks), and clears only the pending bits. The virtio
 * vectors ({@code config_msix_vector}, {@code queue_msix_vector}) return to NO_VECTOR with the rest of
 * the common configuration.
 *
 * <p>Threads: register writes arrive on vCPU threads holding the transport lock. {@link #guestError} and
 * {@link #configChanged} may come from any thread (device workers, backend threads) and take no lock, so
 * a worker reporting an error while a vCPU thread joins it in {@link #reset} cannot deadlock.
 */
final class DeviceLifecycle implements CommonConfig.Host, GuestErrorListener {

    private static final Logger LOG = LoggerFactory.getLogger(DeviceLifecycle.class);
    /** Bits a refused FEATURES_OK write may not set. */
    private static final int FEATURES_OK_AND_LATER = DeviceStatus.FEATURES_OK | DeviceStatus.DRIVER_OK;

    private final VirtioDevice device;
    private final GuestMemory memory;
    private final MsixTable msix;
    private final IsrRegion isr;
    private final CommonConfig common;
    private final InterruptRouter interrupts;
    private final int queueCount;

    /** The driver's bits; DEVICE_NEEDS_RESET is kept apart because workers set it without the lock. */
    private volatile int driverStatus;
    private final AtomicBoolean needsReset = new AtomicBoolean();
    /** Why DEVICE_NEEDS_RESET was set (the first guest error since the last reset), for diagnostics. */
    private volatile String needsResetReason;
    private boolean active;
    private long features;
    private Virtqueue[] queues;
    private final boolean[] pendingKicks;

    DeviceLifecycle(VirtioDevice device, GuestMemory memory, MsixTable msix, IsrRegion isr) {
        this.device = device;
        this.memory = memory;
        this.msix = msix;
        this.isr = isr;
        this.queueCount = device.queueCount();
        this.common = new CommonConfig(queueCount, device.offeredFeatures(), device::queueMaxSize, this);
        this.interrupts = new InterruptRouter(common, msix, isr, queueCount);
        this.pendingKicks = new boolean[queueCount];
        this.queues = new Virtqueue[queueCount];
    }

    CommonConfig common() {
        return common;
    }

    InterruptRouter interrupts() {
        return interrupts;
    }

    boolean isActive() {
        return active;
    }

    // ---- CommonConfig.Host ----

    @Override
    public int status() {
        return driverStatus | (needsReset.get() ? DeviceStatus.DEVICE_NEEDS_RESET : 0);
    }

    @Override
    public void writeStatus(int value) {
        if (value == 0) {
            reset();
            return;
        }
        int current = status();
        if (!DeviceStatus.isLegal(current, value)) {
            LOG.debug("ignoring illegal status write {} -> {}", DeviceStatus.toString(current),
                    DeviceStatus.toString(value));
            return;
        }
        int added = value & ~current;
        int next = value & ~DeviceStatus.DEVICE_NEEDS_RESET;
        if ((added & DeviceStatus.FEATURES_OK) != 0) {
            String problem = featureProblem(common.driverFeatures());
            if (problem != null) {
                LOG.info("refusing FEATURES_OK: {}", problem);
                next &= ~FEATURES_OK_AND_LATER;
            } else {
                features = common.driverFeatures();
            }
        }
        driverStatus = next;
        if ((added & DeviceStatus.DRIVER_OK) != 0 && (next & DeviceStatus.DRIVER_OK) != 0) {
            activate();
        }
    }

    private String featureProblem(long acked) {
        if (!VirtioFeatures.has(acked, VirtioFeatures.VIRTIO_F_VERSION_1)) {
            return "VIRTIO_F_VERSION_1 not acked (required by virtio-pci modern)";
        }
        return device.featureRules().violation(acked);
    }

    @Override
    public boolean vectorInTable(int vector) {
        return vector >= 0 && vector < msix.vectors();
    }

    @Override
    public boolean queueResetNegotiated() {
        return device.supportsQueueReset() && VirtioFeatures.has(common.driverFeatures(), VirtioFeatures.VIRTIO_F_RING_RESET)
                && (driverStatus & DeviceStatus.FEATURES_OK) != 0;
    }

    @Override
    public void queueReset(int index) {
        if (active && queues[index] != null) {
            device.stopQueue(index);
            queues[index] = null;
        }
        pendingKicks[index] = false;
        common.resetQueue(index);
    }

    @Override
    public boolean queueEnable(int index) {
        String problem = QueueConfig.sizeProblem(common.queueSize(index), device.queueMaxSize(index));
        if (problem != null) {
            guestError("queue " + index + " enabled with " + problem);
            return false;
        }
        if (!active) {
            return true;
        }
        if (!common.queueInReset(index)) {
            guestError("queue " + index + " enabled after DRIVER_OK without a queue reset");
            return false;
        }
        try {
            Virtqueue queue = Virtqueue.open(index, common.queueConfig(index), device.queueMaxSize(index), memory,
                    features, this);
            device.restartQueue(index, queue);
            queues[index] = queue;
            return true;
        } catch (VirtqueueException e) {
            guestError(e.getMessage());
            return false;
        }
    }

    // ---- lifecycle ----

    private void activate() {
        if (needsReset.get()) {
            LOG.info("DRIVER_OK while the device needs a reset; not activating");
            interrupts.config();
            return;
        }
        Virtqueue[] opened = new Virtqueue[queueCount];
        for (int q = 0; q < queueCount; q++) {
            if (!common.queueEnabled(q)) {
                continue;
            }
            try {
                opened[q] = Virtqueue.open(q, common.queueConfig(q), device.queueMaxSize(q), memory, features, this);
            } catch (VirtqueueException e) {
                guestError(e.getMessage());
                return;
            }
        }
        queues = opened;
        try {
            device.activate(new ActivationContext(memory, features, opened.clone(), interrupts, this));
        } catch (RuntimeException e) {
            LOG.error("device activation failed", e);
            guestError("activation failed: " + e);
            return;
        }
        active = true;
        for (int q = 0; q < queueCount; q++) {
            if (pendingKicks[q]) {
                pendingKicks[q] = false;
                if (opened[q] != null) {
                    device.queueNotify(q);
                }
            }
        }
    }

    /** A kick from the notify area: to the device once active, else remembered for DRIVER_OK. */
    void kick(int index) {
        if (active) {
            if (queues[index] != null) {
                device.queueNotify(index);
            }
        } else if (driverStatus != 0) {
            pendingKicks[index] = true;
        }
    }

    /** Virtio reset (2.4 and 4.1.4.3.2): stop the device, then the register blocks; PCI state stays. */
    void reset() {
        try {
            device.reset();
        } catch (RuntimeException e) {
            LOG.error("device reset failed; status stays non-zero", e);
            needsReset.set(true);
            return;
        }
        active = false;
        queues = new Virtqueue[queueCount];
        features = 0;
        Arrays.fill(pendingKicks, false);
        common.reset();
        isr.reset();
        msix.clearPending();
        driverStatus = 0;
        needsReset.set(false);
        needsResetReason = null;
    }

    /** The guest error that set DEVICE_NEEDS_RESET, or null. */
    String needsResetReason() {
        return needsResetReason;
    }

    @Override
    public void guestError(String reason) {
        if (needsReset.compareAndSet(false, true)) {
            needsResetReason = reason;
            LOG.warn("guest error, device needs reset: {}", reason);
            if ((driverStatus & DeviceStatus.DRIVER_OK) != 0) {
                interrupts.config();
            }
        } else {
            LOG.debug("further guest error: {}", reason);
        }
    }

    /** The device changed its configuration (any thread). */
    void configChanged() {
        common.bumpGeneration();
        if ((driverStatus & DeviceStatus.DRIVER_OK) != 0) {
            interrupts.config();
        }
    }
}
