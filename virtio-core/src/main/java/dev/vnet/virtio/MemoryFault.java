package dev.vnet.virtio;

/**
 * Recognises a fault in an access to mapped guest memory. When the file behind a shared mapping shrinks
 * under it (a vhost-user front-end truncating the memfd of its guest RAM), the next access past the new
 * end raises {@code SIGBUS}; HotSpot does not crash for an access made through {@code Unsafe} or a
 * {@code MemorySegment}: it skips the instruction and throws an {@link InternalError} ("a fault occurred
 * in an unsafe memory access operation", or "... a recent unsafe memory access operation in compiled
 * Java code") in the accessing thread, possibly a few instructions after the access. A load that faulted
 * returns garbage until then, which the engine treats like any other hostile guest value.
 */
public final class MemoryFault {

    private static final String MARKER = "unsafe memory access operation";

    private MemoryFault() {
    }

    /** Whether {@code t} is the JVM's error for a faulting memory access. */
    public static boolean is(Throwable t) {
        return t instanceof InternalError && t.getMessage() != null && t.getMessage().contains(MARKER);
    }
}
