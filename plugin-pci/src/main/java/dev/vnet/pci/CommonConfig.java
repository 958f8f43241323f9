package dev.vnet.pci;

import static dev.vnet.pci.VirtioPci.VIRTIO_MSI_NO_VECTOR;

import dev.vnet.virtio.DeviceStatus;
import dev.vnet.virtio.QueueConfig;
import java.util.Arrays;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.function.IntUnaryOperator;

/**
 * The common configuration structure, {@code struct virtio_pci_common_cfg} (virtio 1.2, 4.1.4.3):
 *
 * <pre>
 *   0x00 le32 device_feature_select  RW     0x16 le16 queue_select       RW
 *   0x04 le32 device_feature         RO     0x18 le16 queue_size         RW
 *   0x08 le32 driver_feature_select  RW     0x1A le16 queue_msix_vector  RW
 *   0x0C le32 driver_feature         RW     0x1C le16 queue_enable       RW
 *   0x10 le16 config_msix_vector     RW     0x1E le16 queue_notify_off   RO
 *   0x12 le16 num_queues             RO     0x20 le64 queue_desc         RW
 *   0x14 u8   device_status          RW     0x28 le64 queue_driver       RW
 *   0x15 u8   config_generation      RO     0x30 le64 queue_device       RW
 *                                           0x38 le16 queue_notify_data  RO
 *                                           0x3A le16 queue_reset        RW
 * </pre>
 *
 * <p>Access policy (4.1.3.1 makes the driver use each field's natural width): an access is decoded only
 * when its offset and size are exactly a field's, or a 32-bit half of a 64-bit queue address. Anything
 * else, like QEMU, reads 0 and is ignored. Read-only fields ignore writes.
 *
 * <p>Queue fields: with {@code queue_select} at or past {@code num_queues} they read 0 (so Linux's
 * {@code setup_vq} sees size 0, "unavailable") and ignore writes. While a queue is enabled, its size and
 * addresses ignore writes (4.1.4.3.2: the driver must not change them) and writing 0 to
 * {@code queue_enable} is ignored. Writing 1 to {@code queue_enable} asks the lifecycle, which refuses a
 * size that is 0, not a power of two or above the maximum ({@code queue_enable} stays 0 and the device
 * sets DEVICE_NEEDS_RESET). {@code queue_msix_vector} and {@code config_msix_vector} accept
 * {@link VirtioPci#VIRTIO_MSI_NO_VECTOR} and vectors inside the MSI-X table; any other value is stored as
 * NO_VECTOR, so the driver's read-back shows the failure (4.1.5.1.2, QEMU's behaviour).
 * {@code queue_notify_data} reads the queue index. {@code queue_reset} is live only when
 * VIRTIO_F_RING_RESET was negotiated and the device supports it, else it reads 0 and ignores writes.
 *
 * <p>Threads: accessed from vCPU threads serialized by the transport, except the vectors (read by
 * device workers raising interrupts, hence atomic) and {@code config_generation} (bumped by the device
 * from any thread).
 */
final class CommonConfig {

    static final int VIRTIO_PCI_COMMON_DFSELECT = 0x00;
    static final int VIRTIO_PCI_COMMON_DF = 0x04;
    static final int VIRTIO_PCI_COMMON_GFSELECT = 0x08;
    static final int VIRTIO_PCI_COMMON_GF = 0x0C;
    static final int VIRTIO_PCI_COMMON_MSIX = 0x10;
    static final int VIRTIO_PCI_COMMON_NUMQ = 0x12;
    static final int VIRTIO_PCI_COMMON_STATUS = 0x14;
    static final int VIRTIO_PCI_COMMON_CFGGENERATION = 0x15;
    static final int VIRTIO_PCI_COMMON_Q_SELECT = 0x16;
    static final int VIRTIO_PCI_COMMON_Q_SIZE = 0x18;
    static final int VIRTIO_PCI_COMMON_Q_MSIX = 0x1A;
    static final int VIRTIO_PCI_COMMON_Q_ENABLE = 0x1C;
    static final int VIRTIO_PCI_COMMON_Q_NOFF = 0x1E;
    static final int VIRTIO_PCI_COMMON_Q_DESCLO = 0x20;
    static final int VIRTIO_PCI_COMMON_Q_DESCHI = 0x24;
    static final int VIRTIO_PCI_COMMON_Q_AVAILLO = 0x28;
    static final int VIRTIO_PCI_COMMON_Q_AVAILHI = 0x2C;
    static final int VIRTIO_PCI_COMMON_Q_USEDLO = 0x30;
    static final int VIRTIO_PCI_COMMON_Q_USEDHI = 0x34;
    static final int VIRTIO_PCI_COMMON_Q_NDATA = 0x38;
    static final int VIRTIO_PCI_COMMON_Q_RESET = 0x3A;

    /** What the register block needs from the device lifecycle. */
    interface Host {
        /** The current {@code device_status}. */
        int status();

        /** The driver wrote {@code device_status}. */
        void writeStatus(int value);

        /** Whether {@code vector} names an MSI-X table entry. */
        boolean vectorInTable(int vector);

        /** Whether {@code queue_reset} is live (VIRTIO_F_RING_RESET negotiated and supported). */
        boolean queueResetNegotiated();

        /** The driver wrote 1 to {@code queue_reset}; the host stops the queue and calls {@link #resetQueue}. */
        void queueReset(int index);

        /** The driver wrote 1 to {@code queue_enable} of a disabled queue; false refuses it. */
        boolean queueEnable(int index);
    }

    private final int queueCount;
    private final long deviceFeatures;
    private final IntUnaryOperator maxSizes;
    private final Host host;

    private int deviceFeatureSelect;
    private int driverFeatureSelect;
    private long driverFeatures;
    private volatile int configVector;
    private int queueSelect;
    private final int[] queueSize;
    private final boolean[] queueEnabled;
    private final boolean[] queueInReset;
    private final long[] queueDesc;
    private final long[] queueDriver;
    private final long[] queueDevice;
    private final AtomicIntegerArray queueVector;
    /** Never reset: a change racing a reset must still look like a change. */
    private final AtomicInteger generation = new AtomicInteger();

    CommonConfig(int queueCount, long deviceFeatures, IntUnaryOperator maxSizes, Host host) {
        this.queueCount = queueCount;
        this.deviceFeatures = deviceFeatures;
        this.maxSizes = maxSizes;
        this.host = host;
        this.queueSize = new int[queueCount];
        this.queueEnabled = new boolean[queueCount];
        this.queueInReset = new boolean[queueCount];
        this.queueDesc = new long[queueCount];
        this.queueDriver = new long[queueCount];
        this.queueDevice = new long[queueCount];
        this.queueVector = new AtomicIntegerArray(queueCount);
        reset();
    }

    /** Virtio reset (4.1.4.3.1): every field to its initial value, all queues disabled, vectors NO_VECTOR. */
    void reset() {
        deviceFeatureSelect = 0;
        driverFeatureSelect = 0;
        driverFeatures = 0;
        configVector = VIRTIO_MSI_NO_VECTOR;
        queueSelect = 0;
        for (int q = 0; q < queueCount; q++) {
            resetQueueRegisters(q);
            queueInReset[q] = false;
        }
    }

    /** Per-queue reset (4.1.4.3.2, VIRTIO_F_RING_RESET): the queue's fields to defaults, queue_reset reads 1. */
    void resetQueue(int q) {
        resetQueueRegisters(q);
        queueInReset[q] = true;
    }

    private void resetQueueRegisters(int q) {
        queueSize[q] = maxSizes.applyAsInt(q);
        queueEnabled[q] = false;
        queueDesc[q] = 0;
        queueDriver[q] = 0;
        queueDevice[q] = 0;
        queueVector.set(q, VIRTIO_MSI_NO_VECTOR);
    }

    // ---- state the lifecycle and the interrupt path use ----

    long driverFeatures() {
        return driverFeatures;
    }

    int configVector() {
        return configVector;
    }

    /** Lock-free read for device workers. */
    int queueVector(int q) {
        return queueVector.get(q);
    }

    boolean queueEnabled(int q) {
        return queueEnabled[q];
    }

    boolean queueInReset(int q) {
        return queueInReset[q];
    }

    int queueSize(int q) {
        return queueSize[q];
    }

    QueueConfig queueConfig(int q) {
        return new QueueConfig(queueSize[q], queueDesc[q], queueDriver[q], queueDevice[q]);
    }

    int generation() {
        return generation.get() & 0xFF;
    }

    /** A device configuration change (4.1.4.3.1: config_generation changes whenever the config may have). */
    void bumpGeneration() {
        generation.incrementAndGet();
    }

    // ---- register access ----

    /** Whether {@code (offset, size)} names a field, or half of a 64-bit field. */
    static boolean decodes(long offset, int size) {
        if (offset < 0 || offset >= BarLayout.COMMON_CFG_LENGTH) {
            return false;
        }
        int o = (int) offset;
        return switch (o) {
            case VIRTIO_PCI_COMMON_DFSELECT, VIRTIO_PCI_COMMON_DF, VIRTIO_PCI_COMMON_GFSELECT, VIRTIO_PCI_COMMON_GF,
                 VIRTIO_PCI_COMMON_Q_DESCHI, VIRTIO_PCI_COMMON_Q_AVAILHI, VIRTIO_PCI_COMMON_Q_USEDHI -> size == 4;
            case VIRTIO_PCI_COMMON_Q_DESCLO, VIRTIO_PCI_COMMON_Q_AVAILLO, VIRTIO_PCI_COMMON_Q_USEDLO ->
                    size == 4 || size == 8;
            case VIRTIO_PCI_COMMON_MSIX, VIRTIO_PCI_COMMON_NUMQ, VIRTIO_PCI_COMMON_Q_SELECT, VIRTIO_PCI_COMMON_Q_SIZE,
                 VIRTIO_PCI_COMMON_Q_MSIX, VIRTIO_PCI_COMMON_Q_ENABLE, VIRTIO_PCI_COMMON_Q_NOFF,
                 VIRTIO_PCI_COMMON_Q_NDATA, VIRTIO_PCI_COMMON_Q_RESET -> size == 2;
            case VIRTIO_PCI_COMMON_STATUS, VIRTIO_PCI_COMMON_CFGGENERATION -> size == 1;
            default -> false;
        };
    }

    long read(long offset, int size) {
        if (!decodes(offset, size)) {
            return 0;
        }
        int o = (int) offset;
        switch (o) {
            case VIRTIO_PCI_COMMON_DFSELECT:
                return Integer.toUnsignedLong(deviceFeatureSelect);
            case VIRTIO_PCI_COMMON_DF:
                return half(deviceFeatures, deviceFeatureSelect);
            case VIRTIO_PCI_COMMON_GFSELECT:
                return Integer.toUnsignedLong(driverFeatureSelect);
            case VIRTIO_PCI_COMMON_GF:
                return half(driverFeatures, driverFeatureSelect);
            case VIRTIO_PCI_COMMON_MSIX:
                return configVector;
            case VIRTIO_PCI_COMMON_NUMQ:
                return queueCount;
            case VIRTIO_PCI_COMMON_STATUS:
                return host.status() & 0xFF;
            case VIRTIO_PCI_COMMON_CFGGENERATION:
                return generation();
            case VIRTIO_PCI_COMMON_Q_SELECT:
                return queueSelect;
            default:
                break;
        }
        int q = queueSelect;
        if (q >= queueCount) {
            return 0;
        }
        return switch (o) {
            case VIRTIO_PCI_COMMON_Q_SIZE -> queueSize[q];
            case VIRTIO_PCI_COMMON_Q_MSIX -> queueVector.get(q);
            case VIRTIO_PCI_COMMON_Q_ENABLE -> queueEnabled[q] ? 1 : 0;
            case VIRTIO_PCI_COMMON_Q_NOFF, VIRTIO_PCI_COMMON_Q_NDATA -> q;
            case VIRTIO_PCI_COMMON_Q_DESCLO -> size == 8 ? queueDesc[q] : queueDesc[q] & 0xFFFF_FFFFL;
            case VIRTIO_PCI_COMMON_Q_DESCHI -> queueDesc[q] >>> 32;
            case VIRTIO_PCI_COMMON_Q_AVAILLO -> size == 8 ? queueDriver[q] : queueDriver[q] & 0xFFFF_FFFFL;
            case VIRTIO_PCI_COMMON_Q_AVAILHI -> queueDriver[q] >>> 32;
            case VIRTIO_PCI_COMMON_Q_USEDLO -> size == 8 ? queueDevice[q] : queueDevice[q] & 0xFFFF_FFFFL;
            case VIRTIO_PCI_COMMON_Q_USEDHI -> queueDevice[q] >>> 32;
            case VIRTIO_PCI_COMMON_Q_RESET -> host.queueResetNegotiated() && queueInReset[q] ? 1 : 0;
            default -> 0;
        };
    }

    void write(long offset, int size, long value) {
        if (!decodes(offset, size)) {
            return;
        }
        int o = (int) offset;
        int v32 = (int) value;
        int v16 = v32 & 0xFFFF;
        switch (o) {
            case VIRTIO_PCI_COMMON_DFSELECT -> deviceFeatureSelect = v32;
            case VIRTIO_PCI_COMMON_GFSELECT -> driverFeatureSelect = v32;
            case VIRTIO_PCI_COMMON_GF -> writeDriverFeatures(v32);
            case VIRTIO_PCI_COMMON_MSIX -> configVector = acceptVector(v16);
            case VIRTIO_PCI_COMMON_STATUS -> host.writeStatus(v32 & 0xFF);
            case VIRTIO_PCI_COMMON_Q_SELECT -> queueSelect = v16;
            case VIRTIO_PCI_COMMON_DF, VIRTIO_PCI_COMMON_NUMQ, VIRTIO_PCI_COMMON_CFGGENERATION,
                 VIRTIO_PCI_COMMON_Q_NOFF, VIRTIO_PCI_COMMON_Q_NDATA -> {
                // read-only
            }
            default -> writeQueueField(o, size, value);
        }
    }

    private static long half(long features, int select) {
        return switch (select) {
            case 0 -> features & 0xFFFF_FFFFL;
            case 1 -> features >>> 32;
            default -> 0;
        };
    }

    private void writeDriverFeatures(int value) {
        if ((host.status() & DeviceStatus.FEATURES_OK) != 0 || driverFeatureSelect > 1 || driverFeatureSelect < 0) {
            return; // 3.1.1: features are fixed once FEATURES_OK is set
        }
        int shift = 32 * driverFeatureSelect;
        driverFeatures = (driverFeatures & ~(0xFFFF_FFFFL << shift)) | (Integer.toUnsignedLong(value) << shift);
    }

    private int acceptVector(int vector) {
        return vector == VIRTIO_MSI_NO_VECTOR || host.vectorInTable(vector) ? vector : VIRTIO_MSI_NO_VECTOR;
    }

    private void writeQueueField(int o, int size, long value) {
        int q = queueSelect;
        if (q >= queueCount) {
            return;
        }
        int v16 = (int) value & 0xFFFF;
        switch (o) {
            case VIRTIO_PCI_COMMON_Q_MSIX -> queueVector.set(q, acceptVector(v16));
            case VIRTIO_PCI_COMMON_Q_ENABLE -> {
                if (v16 == 1 && !queueEnabled[q] && host.queueEnable(q)) {
                    queueEnabled[q] = true;
                    queueInReset[q] = false;
                }
            }
            case VIRTIO_PCI_COMMON_Q_RESET -> {
                if (v16 == 1 && host.queueResetNegotiated()) {
                    host.queueReset(q);
                }
            }
            default -> {
                if (queueEnabled[q]) {
                    return;
                }
                switch (o) {
                    case VIRTIO_PCI_COMMON_Q_SIZE -> queueSize[q] = v16;
                    case VIRTIO_PCI_COMMON_Q_DESCLO -> queueDesc[q] = low(queueDesc[q], size, value);
                    case VIRTIO_PCI_COMMON_Q_DESCHI -> queueDesc[q] = high(queueDesc[q], value);
                    case VIRTIO_PCI_COMMON_Q_AVAILLO -> queueDriver[q] = low(queueDriver[q], size, value);
                    case VIRTIO_PCI_COMMON_Q_AVAILHI -> queueDriver[q] = high(queueDriver[q], value);
                    case VIRTIO_PCI_COMMON_Q_USEDLO -> queueDevice[q] = low(queueDevice[q], size, value);
                    case VIRTIO_PCI_COMMON_Q_USEDHI -> queueDevice[q] = high(queueDevice[q], value);
                    default -> {
                        // nothing else is writable
                    }
                }
            }
        }
    }

    private static long low(long old, int size, long value) {
        return size == 8 ? value : (old & 0xFFFF_FFFF_0000_0000L) | (value & 0xFFFF_FFFFL);
    }

    private static long high(long old, long value) {
        return (old & 0xFFFF_FFFFL) | (value << 32);
    }

    @Override
    public String toString() {
        return "CommonConfig[select=" + queueSelect + ", sizes=" + Arrays.toString(queueSize) + "]";
    }
}
