package dev.vnet.spi;

/**
 * A host-side fault in a {@link NetBackend} (an {@code EIO} from TAP, a closed peer). Devices count and
 * survive it: the frame is dropped, its chain is still returned to the guest, the queue keeps running.
 */
public final class BackendException extends RuntimeException {

    private final int errno;

    /** @param errno the C {@code errno} behind the fault, or 0 when there is none */
    public BackendException(String message, int errno) {
        super(message);
        this.errno = errno;
    }

    public BackendException(String message, Throwable cause) {
        super(message, cause);
        this.errno = 0;
    }

    public int errno() {
        return errno;
    }
}
