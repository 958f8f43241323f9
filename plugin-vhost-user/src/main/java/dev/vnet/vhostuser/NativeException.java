package dev.vnet.vhostuser;

/** A failed C library call: which call, and the {@code errno} it left. A host error, never a guest one. */
public final class NativeException extends RuntimeException {

    private static final long serialVersionUID = 1L;
    private final int errno;

    NativeException(String call, int errno, String text) {
        super(call + ": " + text + " (errno " + errno + ")");
        this.errno = errno;
    }

    public int errno() {
        return errno;
    }
}
