package dev.vnet.spi;

/**
 * One RX/TX queue pair of a {@link NetBackend}. Each queue is used by a single device worker thread
 * (a platform thread: native calls pin virtual threads), so implementations need no locking between
 * {@link #read} and {@link #write} callers; {@link ReadinessListener} calls come from another thread.
 *
 * <p>Frames include the 12-byte {@code virtio_net_hdr_v1} in front exactly when
 * {@link NetBackend#vnetHeader()} is true.
 */
public interface BackendQueue {

    /**
     * Sends one frame gathered from {@code frame}'s ranges (TAP: one {@code writev}).
     *
     * @return true when sent or consumed; false when the backend is full right now, in which case it
     *         calls {@link ReadinessListener#writable} once it has room
     * @throws BackendException on a host fault; the frame is lost, the queue stays usable
     */
    boolean write(SegmentList frame);

    /**
     * Receives one frame scattered into {@code buffers} (TAP: one {@code readv}).
     *
     * @return the frame's length; 0 when none is waiting, in which case the backend calls
     *         {@link ReadinessListener#readable} once one is; a value above
     *         {@code buffers.totalLength()} means the frame did not fit and was truncated
     * @throws BackendException on a host fault
     */
    int read(SegmentList buffers);

    /**
     * The length of the next frame (with its vnet header, if any) without consuming it, so that a device
     * can gather just enough guest buffers; 0 when none is waiting (the backend then calls
     * {@link ReadinessListener#readable} once one is, as after a {@link #read} returning 0); -1 when the
     * backend cannot tell
     * (TAP), in which case the device offers buffers for the largest frame.
     */
    int peekLength();
}
