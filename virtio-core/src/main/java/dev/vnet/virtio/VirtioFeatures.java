package dev.vnet.virtio;

/** Device-independent feature bits (virtio 1.2 section 6, "Reserved Feature Bits"). */
public final class VirtioFeatures {

    /** 6: the driver may use descriptors with VIRTQ_DESC_F_INDIRECT (2.7.5.3). */
    public static final int VIRTIO_F_INDIRECT_DESC = 28;
    /** 6: used_event / avail_event notification suppression (2.7.7, 2.7.10). */
    public static final int VIRTIO_F_EVENT_IDX = 29;
    /** 6: compliance with virtio 1.x; mandatory for the modern transport. */
    public static final int VIRTIO_F_VERSION_1 = 32;
    /** 6: the device is behind an IOMMU / has restricted access to memory. */
    public static final int VIRTIO_F_ACCESS_PLATFORM = 33;
    /** 6: packed virtqueue layout. */
    public static final int VIRTIO_F_RING_PACKED = 34;
    /** 6: buffers are used in the order they were made available. */
    public static final int VIRTIO_F_IN_ORDER = 35;
    /** 6: platform-specific memory ordering. */
    public static final int VIRTIO_F_ORDER_PLATFORM = 36;
    /** 6: SR-IOV. */
    public static final int VIRTIO_F_SR_IOV = 37;
    /** 6: the driver passes extra data in its notifications. */
    public static final int VIRTIO_F_NOTIFICATION_DATA = 38;
    /** 6: per-queue reset through {@code queue_reset} (4.1.4.3). */
    public static final int VIRTIO_F_RING_RESET = 40;

    private VirtioFeatures() {
    }

    public static long bit(int feature) {
        return 1L << feature;
    }

    public static boolean has(long features, int feature) {
        return (features & (1L << feature)) != 0;
    }
}
