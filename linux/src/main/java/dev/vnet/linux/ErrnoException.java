package dev.vnet.linux;

/**
 * A failed C library call: which call, the {@code errno} it left, its symbolic name and the C library's
 * text for it. A host error, never a guest one: callers wrap it (the TAP backend into a
 * {@code BackendException} carrying the same {@code errno}) or report it with the failed request.
 */
public final class ErrnoException extends RuntimeException {

    private final String call;
    private final int errno;

    /**
     * @param call  what failed, such as {@code "ioctl(TUNSETIFF, vnet0)"}
     * @param errno the C {@code errno}
     */
    public ErrnoException(String call, int errno) {
        super(call + ": " + Errno.describe(errno));
        this.call = call;
        this.errno = errno;
    }

    /** The failed call, as given to the constructor. */
    public String call() {
        return call;
    }

    public int errno() {
        return errno;
    }

    /** The symbolic name, such as {@code EINVAL}. */
    public String errnoName() {
        return Errno.name(errno);
    }

    /** The C library's text, such as {@code "Invalid argument"}. */
    public String errnoText() {
        return Libc.strerror(errno);
    }
}
