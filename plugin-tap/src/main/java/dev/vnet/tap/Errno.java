package dev.vnet.tap;

/**
 * The Linux {@code errno} values the TAP backend acts on, and symbolic names for messages. Values are
 * the Linux generic ones (identical on x86-64, aarch64 and riscv64).
 */
final class Errno {

    static final int EPERM = 1;
    static final int ENOENT = 2;
    static final int EINTR = 4;
    static final int EIO = 5;
    static final int ENXIO = 6;
    static final int EBADF = 9;
    static final int EAGAIN = 11;
    static final int ENOMEM = 12;
    static final int EACCES = 13;
    static final int EFAULT = 14;
    static final int EBUSY = 16;
    static final int EEXIST = 17;
    static final int ENODEV = 19;
    static final int EINVAL = 22;
    static final int ENOTTY = 25;
    static final int EPIPE = 32;
    static final int EBADFD = 77;
    static final int EMSGSIZE = 90;
    static final int EOPNOTSUPP = 95;
    static final int ENETDOWN = 100;
    static final int ENOBUFS = 105;

    private Errno() {
    }

    /** The symbolic name, such as {@code EAGAIN}, or {@code errno 123} for one not listed here. */
    static String name(int errno) {
        return switch (errno) {
            case EPERM -> "EPERM";
            case ENOENT -> "ENOENT";
            case EINTR -> "EINTR";
            case EIO -> "EIO";
            case ENXIO -> "ENXIO";
            case EBADF -> "EBADF";
            case EAGAIN -> "EAGAIN";
            case ENOMEM -> "ENOMEM";
            case EACCES -> "EACCES";
            case EFAULT -> "EFAULT";
            case EBUSY -> "EBUSY";
            case EEXIST -> "EEXIST";
            case ENODEV -> "ENODEV";
            case EINVAL -> "EINVAL";
            case ENOTTY -> "ENOTTY";
            case EPIPE -> "EPIPE";
            case EBADFD -> "EBADFD";
            case EMSGSIZE -> "EMSGSIZE";
            case EOPNOTSUPP -> "EOPNOTSUPP";
            case ENETDOWN -> "ENETDOWN";
            case ENOBUFS -> "ENOBUFS";
            default -> "errno " + errno;
        };
    }

    /** {@code "EIO (Input/output error)"}: the name and the C library's text. */
    static String describe(int errno) {
        String text;
        try {
            text = Libc.strerror(errno);
        } catch (RuntimeException | LinkageError e) {
            text = "no description";
        }
        return name(errno) + " (" + text + ")";
    }
}
