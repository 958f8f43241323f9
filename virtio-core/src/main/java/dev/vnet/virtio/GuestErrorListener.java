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
}
