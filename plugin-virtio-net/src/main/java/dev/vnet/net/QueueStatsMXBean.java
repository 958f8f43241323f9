package dev.vnet.net;

/**
 * Per-queue counters of a virtio-net device, registered as
 * {@code dev.vnet:type=VirtioNet,id=<device id>,queue=<index>}.
 */
public interface QueueStatsMXBean {

    /** The virtqueue index (rx(i) = 2i, tx(i) = 2i + 1, control last). */
    int getQueueIndex();

    /** {@code rx}, {@code tx} or {@code ctrl}. */
    String getKind();

    /** Frames delivered to the guest (RX), sent to the backend (TX), or commands completed (control). */
    long getPackets();

    /** Frame bytes (without the virtio header). */
    long getBytes();

    /** All drops. */
    long getDrops();

    long getDropsShortFrame();

    long getDropsOversized();

    long getDropsLinkDown();

    long getDropsBadHeader();

    long getDropsFiltered();

    long getDropsTooBig();

    long getDropsUnsupportedOffload();

    long getDropsBackendError();

    /** Backend faults and control commands answered with VIRTIO_NET_ERR. */
    long getErrors();

    /** Driver notifications (queue_notify writes) for this queue. */
    long getKicks();

    /** Used-buffer notifications sent to the driver. */
    long getInterrupts();
}
