package dev.vnet.virtio;

/** A queue the driver configured cannot be used (bad size, misaligned or outside RAM); a guest error. */
public final class VirtqueueException extends Exception {

    public VirtqueueException(String message) {
        super(message, null, false, false);
    }
}
