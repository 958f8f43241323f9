package dev.vnet.pci;

/**
 * The notification area (virtio 1.2, 4.1.4.4): queue {@code q}'s notify address is
 * {@code q * notify_off_multiplier} ({@code queue_notify_off} is the queue index, the multiplier is
 * {@link BarLayout#NOTIFY_OFF_MULTIPLIER}).
 *
 * <p>Like QEMU and cloud-hypervisor, the queue is identified by the address; the value written (the
 * queue index, or with VIRTIO_F_NOTIFICATION_DATA a 32-bit notification) is not needed. Accepted:
 * 2-byte writes (Linux's {@code iowrite16}) and 4-byte writes (notification data) at a queue's notify
 * address. Other sizes, offsets between two queues' addresses and offsets past the last queue are
 * ignored; reads return 0. A kick never does work on the vCPU thread: it only wakes the worker (or is
 * remembered until DRIVER_OK, see {@link DeviceLifecycle#kick}).
 */
final class NotifyRegion {

    private final DeviceLifecycle lifecycle;
    private final int queueCount;

    NotifyRegion(DeviceLifecycle lifecycle, int queueCount) {
        this.lifecycle = lifecycle;
        this.queueCount = queueCount;
        reset();
    }

    void reset() {
        // stateless: pending kicks live in the lifecycle
    }

    long read(long offset, int size) {
        return 0;
    }

    void write(long offset, int size, long value) {
        if ((size != 2 && size != 4) || offset < 0 || offset % BarLayout.NOTIFY_OFF_MULTIPLIER != 0) {
            return;
        }
        long queue = offset / BarLayout.NOTIFY_OFF_MULTIPLIER;
        if (queue < queueCount) {
            lifecycle.kick((int) queue);
        }
    }
}
