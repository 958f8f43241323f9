package dev.vnet.spi;

/**
 * A guest-physical span that cannot be used as asked. Thrown by {@link GuestMemory} on the calling
 * thread (a device worker or a vCPU thread inside a register write); the virtio engine catches it and
 * turns it into a guest error, it never reaches the host.
 */
public final class GuestMemoryException extends RuntimeException {

    /** Why the span was refused. */
    public enum Reason {
        /** {@code gpa + length} wraps past 2^64, or the length is negative. */
        OVERFLOW,
        /** No region holds the first byte. */
        UNMAPPED,
        /** The span starts in one region and ends outside it. */
        CROSSES_REGION,
        /** A write to a region the host mapped read-only. */
        READ_ONLY
    }

    private final long gpa;
    private final long length;
    private final Reason reason;

    public GuestMemoryException(Reason reason, long gpa, long length) {
        super(reason + " guest span [0x" + Long.toHexString(gpa) + ", +" + Long.toUnsignedString(length) + ")", null,
                false, false);
        this.gpa = gpa;
        this.length = length;
        this.reason = reason;
    }

    public long gpa() {
        return gpa;
    }

    public long length() {
        return length;
    }

    public Reason reason() {
        return reason;
    }
}
