package dev.vnet.tap;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

/**
 * The C library calls the TAP backend needs, bound once through the FFM {@link Linker}. Every call that
 * can fail captures {@code errno} into a caller-owned segment ({@link #newCallState}); one segment per
 * calling thread, allocated up front, so that the per-packet calls ({@link #readv}, {@link #writev},
 * {@link #write} on the eventfd) allocate nothing. Methods return the raw C result; callers read
 * {@link #errno} when it is negative.
 *
 * <p>Constants are the Linux generic-ABI values (x86-64, aarch64, riscv64); {@link Tap#isAvailable()}
 * refuses other platforms.
 */
final class Libc {

    // <fcntl.h>, <sys/eventfd.h>, <poll.h>
    static final int O_RDWR = 0x2;
    static final int O_NONBLOCK = 0x800;
    static final int O_CLOEXEC = 0x80000;
    static final int F_GETFL = 3;
    static final int F_SETFL = 4;
    static final int F_GETFD = 1;
    static final int EFD_NONBLOCK = O_NONBLOCK;
    static final int EFD_CLOEXEC = O_CLOEXEC;
    static final short POLLIN = 0x001;
    static final short POLLOUT = 0x004;
    static final short POLLERR = 0x008;
    static final short POLLHUP = 0x010;
    static final short POLLNVAL = 0x020;
    /** Most {@code iovec}s one {@code readv}/{@code writev} takes ({@code UIO_MAXIOV}). */
    static final int IOV_MAX = 1024;

    /** {@code struct iovec { void *iov_base; size_t iov_len; }}: 16 bytes. */
    static final long IOVEC_SIZE = 16;
    /** {@code struct pollfd { int fd; short events; short revents; }}: 8 bytes. */
    static final long POLLFD_SIZE = 8;
    static final long POLLFD_EVENTS = 4;
    static final long POLLFD_REVENTS = 6;

    private static final Linker LINKER = Linker.nativeLinker();
    private static final SymbolLookup LIBC = LINKER.defaultLookup();
    private static final StructLayout CALL_STATE = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO =
            CALL_STATE.varHandle(MemoryLayout.PathElement.groupElement("errno"));
    private static final Linker.Option ERRNO_OPTION = Linker.Option.captureCallState("errno");

    // int open(const char *path, int flags, ... /* mode_t mode */)
    private static final MethodHandle OPEN = bind("open",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT), ERRNO_OPTION,
            Linker.Option.firstVariadicArg(2));
    // int close(int fd)
    private static final MethodHandle CLOSE = bind("close", FunctionDescriptor.of(JAVA_INT, JAVA_INT),
            ERRNO_OPTION);
    // int ioctl(int fd, unsigned long request, ...): a pointer argument ...
    private static final MethodHandle IOCTL_PTR = bind("ioctl",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG, ADDRESS), ERRNO_OPTION,
            Linker.Option.firstVariadicArg(2));
    // ... or an integer one (TUNSETOFFLOAD takes the bits by value)
    private static final MethodHandle IOCTL_LONG = bind("ioctl",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_LONG), ERRNO_OPTION,
            Linker.Option.firstVariadicArg(2));
    // int fcntl(int fd, int cmd, ... /* int arg */)
    private static final MethodHandle FCNTL = bind("fcntl",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT), ERRNO_OPTION,
            Linker.Option.firstVariadicArg(2));
    // ssize_t readv(int fd, const struct iovec *iov, int iovcnt) and writev
    private static final MethodHandle READV = bind("readv",
            FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_INT), ERRNO_OPTION);
    private static final MethodHandle WRITEV = bind("writev",
            FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_INT), ERRNO_OPTION);
    // ssize_t read(int fd, void *buf, size_t n) and write
    private static final MethodHandle READ = bind("read",
            FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG), ERRNO_OPTION);
    private static final MethodHandle WRITE = bind("write",
            FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG), ERRNO_OPTION);
    // int poll(struct pollfd *fds, nfds_t nfds, int timeout)
    private static final MethodHandle POLL = bind("poll",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT), ERRNO_OPTION);
    // int eventfd(unsigned int initval, int flags)
    private static final MethodHandle EVENTFD = bind("eventfd",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT), ERRNO_OPTION);
    // unsigned int if_nametoindex(const char *ifname)
    private static final MethodHandle IF_NAMETOINDEX = bind("if_nametoindex",
            FunctionDescriptor.of(JAVA_INT, ADDRESS), ERRNO_OPTION);
    // char *strerror(int errnum)
    private static final MethodHandle STRERROR = bind("strerror", FunctionDescriptor.of(ADDRESS, JAVA_INT));

    private Libc() {
    }

    @SuppressWarnings("restricted") // the point of this class; the JVM needs --enable-native-access
    private static MethodHandle bind(String name, FunctionDescriptor descriptor, Linker.Option... options) {
        return LINKER.downcallHandle(LIBC.findOrThrow(name), descriptor, options);
    }

    /** A segment for one thread's captured {@code errno}; reuse it for all that thread's calls. */
    static MemorySegment newCallState(Arena arena) {
        return arena.allocate(CALL_STATE);
    }

    /** The {@code errno} the last failed call through {@code state} left. */
    static int errno(MemorySegment state) {
        return (int) ERRNO.get(state, 0L);
    }

    static int open(MemorySegment state, MemorySegment path, int flags) {
        try {
            return (int) OPEN.invokeExact(state, path, flags, 0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    static int close(MemorySegment state, int fd) {
        try {
            return (int) CLOSE.invokeExact(state, fd);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    static int ioctl(MemorySegment state, int fd, long request, MemorySegment arg) {
        try {
            return (int) IOCTL_PTR.invokeExact(state, fd, request, arg);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    static int ioctl(MemorySegment state, int fd, long request, long arg) {
        try {
            return (int) IOCTL_LONG.invokeExact(state, fd, request, arg);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    static int fcntl(MemorySegment state, int fd, int cmd, int arg) {
        try {
            return (int) FCNTL.invokeExact(state, fd, cmd, arg);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    static long readv(MemorySegment state, int fd, MemorySegment iov, int count) {
        try {
            return (long) READV.invokeExact(state, fd, iov, count);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    static long writev(MemorySegment state, int fd, MemorySegment iov, int count) {
        try {
            return (long) WRITEV.invokeExact(state, fd, iov, count);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    static long read(MemorySegment state, int fd, MemorySegment buf, long n) {
        try {
            return (long) READ.invokeExact(state, fd, buf, n);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    static long write(MemorySegment state, int fd, MemorySegment buf, long n) {
        try {
            return (long) WRITE.invokeExact(state, fd, buf, n);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    static int poll(MemorySegment state, MemorySegment fds, long count, int timeoutMillis) {
        try {
            return (int) POLL.invokeExact(state, fds, count, timeoutMillis);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    static int eventfd(MemorySegment state, int initval, int flags) {
        try {
            return (int) EVENTFD.invokeExact(state, initval, flags);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    static int ifNameToIndex(MemorySegment state, MemorySegment name) {
        try {
            return (int) IF_NAMETOINDEX.invokeExact(state, name);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** The C library's text for {@code errno}, such as "Input/output error". */
    @SuppressWarnings("restricted")
    static String strerror(int errno) {
        try {
            MemorySegment text = (MemorySegment) STRERROR.invokeExact(errno);
            return text.equals(MemorySegment.NULL) ? "errno " + errno : text.reinterpret(256).getString(0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    // ---- small helpers for the set-up path (they allocate; never used per packet) ----

    /** Sets {@code O_NONBLOCK} on {@code fd}. */
    static void setNonBlocking(MemorySegment state, int fd) {
        int flags = fcntl(state, fd, F_GETFL, 0);
        if (flags < 0) {
            throw new ErrnoException("fcntl(F_GETFL)", errno(state));
        }
        if ((flags & O_NONBLOCK) == 0 && fcntl(state, fd, F_SETFL, flags | O_NONBLOCK) < 0) {
            throw new ErrnoException("fcntl(F_SETFL, O_NONBLOCK)", errno(state));
        }
    }

    /** Closes {@code fd}, ignoring errors (Linux releases the descriptor even when close fails). */
    static void closeQuietly(MemorySegment state, int fd) {
        if (fd >= 0) {
            close(state, fd);
        }
    }

    /** Stores {@code (address, length)} as iovec {@code index} of {@code iov}. */
    static void setIovec(MemorySegment iov, int index, long address, long length) {
        iov.set(ValueLayout.JAVA_LONG, index * IOVEC_SIZE, address);
        iov.set(ValueLayout.JAVA_LONG, index * IOVEC_SIZE + 8, length);
    }

    /** Stores pollfd {@code index} of {@code fds}, clearing its {@code revents}. */
    static void setPollFd(MemorySegment fds, int index, int fd, short events) {
        long base = index * POLLFD_SIZE;
        fds.set(JAVA_INT, base, fd);
        fds.set(JAVA_SHORT, base + POLLFD_EVENTS, events);
        fds.set(JAVA_SHORT, base + POLLFD_REVENTS, (short) 0);
    }

    static short revents(MemorySegment fds, int index) {
        return fds.get(JAVA_SHORT, index * POLLFD_SIZE + POLLFD_REVENTS);
    }

    private static RuntimeException rethrow(Throwable t) {
        if (t instanceof RuntimeException r) {
            throw r;
        }
        if (t instanceof Error e) {
            throw e;
        }
        throw new IllegalStateException(t);
    }
}
