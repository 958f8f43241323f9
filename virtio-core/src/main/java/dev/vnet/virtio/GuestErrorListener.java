package dev.vnet.virtio;

/**
 * Receives guest driver errors found by the engine or the device: a bad descriptor, a ring outside
 * memory, an impossible avail index. The transport's implementation sets DEVICE_NEEDS_RESET and raises a
 * configuration interrupt (virtio 1.2, 2.1.2). Called from any thread; must not throw.
 */
@FunctionalInterface
public interface GuestErrorListener {

    /** @param reason what the guest did, for the log; the guest only sees the status bit */
    void guestError(String reason);

    /**
     * A device worker's access to guest memory faulted ({@link MemoryFault}): the memory behind a mapping
     * went away under the device, as when a vhost-user front-end truncates its guest RAM. The worker has
     * stopped. The default treats it as a guest error (DEVICE_NEEDS_RESET); a transport whose memory is
     * the peer's to shrink may end the session instead. Called from the worker; must not throw or block.
     *
     * @param reason which worker, and the JVM's message
     */
    default void memoryFault(String reason) {
        guestError(reason);
    }
}
