package dev.vnet.pci;

/**
 * Where each structure lives in BAR 0, the function's only BAR (64-bit, non-prefetchable memory). Every
 * structure starts on a 4 KiB page, as QEMU lays them out, so a host may map them separately:
 *
 * <pre>
 *   0x0000  common configuration   (4.1.4.3)  0x40 bytes
 *   0x1000  ISR status             (4.1.4.5)  1 byte
 *   0x2000  device configuration   (4.1.4.6)  device.configSize() bytes (at most 4 KiB)
 *   0x3000  notifications          (4.1.4.4)  num_queues * 4 bytes, queue_notify_off = queue index
 *   next    MSI-X table                       16 bytes per vector, queues + 1 vectors
 *   next    MSI-X PBA                         one bit per vector, in 64-bit words
 * </pre>
 *
 * The BAR size is the next power of two above the PBA's end.
 */
public final class BarLayout {

    public static final int BAR_INDEX = 0;
    static final int PAGE = 0x1000;

    public static final int COMMON_CFG_OFFSET = 0x0000;
    /** 4.1.4.3: the structure ends with queue_reset at 0x3A; 0x3C..0x3F (admin queues) read as 0. */
    public static final int COMMON_CFG_LENGTH = 0x40;
    public static final int ISR_CFG_OFFSET = 0x1000;
    public static final int ISR_CFG_LENGTH = 1;
    public static final int DEVICE_CFG_OFFSET = 0x2000;
    public static final int NOTIFY_CFG_OFFSET = 0x3000;
    /** 4.1.4.4: notify address of a queue = notify base + queue_notify_off * this. */
    public static final int NOTIFY_OFF_MULTIPLIER = 4;

    private final int queueCount;
    private final int deviceCfgLength;
    private final int notifyLength;
    private final int msixTableOffset;
    private final int msixVectors;
    private final int pbaOffset;
    private final int pbaLength;
    private final long barSize;

    /**
     * @throws IllegalArgumentException when the device does not fit the transport (a host configuration
     *                                  error, never a guest one)
     */
    public BarLayout(int queueCount, int deviceConfigSize) {
        if (queueCount < 1 || queueCount > MsixTable.MAX_VECTORS - 1) {
            throw new IllegalArgumentException("virtio-pci supports 1.." + (MsixTable.MAX_VECTORS - 1)
                    + " queues, device has " + queueCount);
        }
        if (deviceConfigSize < 0 || deviceConfigSize > PAGE) {
            throw new IllegalArgumentException("device configuration of " + deviceConfigSize + " bytes exceeds 4 KiB");
        }
        this.queueCount = queueCount;
        this.deviceCfgLength = deviceConfigSize;
        this.notifyLength = queueCount * NOTIFY_OFF_MULTIPLIER;
        this.msixVectors = queueCount + 1;
        this.msixTableOffset = NOTIFY_CFG_OFFSET + roundUp(notifyLength);
        this.pbaOffset = msixTableOffset + roundUp(msixVectors * MsixTable.PCI_MSIX_ENTRY_SIZE);
        this.pbaLength = ((msixVectors + 63) / 64) * 8;
        long end = pbaOffset + roundUp(pbaLength);
        this.barSize = Long.highestOneBit(end - 1) << 1;
    }

    private static int roundUp(int length) {
        return (length + PAGE - 1) & -PAGE;
    }

    public int queueCount() {
        return queueCount;
    }

    public int deviceCfgLength() {
        return deviceCfgLength;
    }

    public int notifyLength() {
        return notifyLength;
    }

    public int msixVectors() {
        return msixVectors;
    }

    public int msixTableOffset() {
        return msixTableOffset;
    }

    public int msixTableLength() {
        return msixVectors * MsixTable.PCI_MSIX_ENTRY_SIZE;
    }

    public int pbaOffset() {
        return pbaOffset;
    }

    public int pbaLength() {
        return pbaLength;
    }

    public long barSize() {
        return barSize;
    }
}
