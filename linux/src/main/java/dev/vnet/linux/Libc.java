package dev.vnet.linux;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

/**
 * The C library calls vnet's Linux plugins make, bound once through the FFM {@link Linker}. Every call
 * that can fail captures {@code errno} into a caller-owned segment ({@link #newCallState}); one segment
 * per calling thread, allocated up front, so that per-packet calls ({@link #readv}, {@link #writev},
 * {@link #read} and {@link #write} on an eventfd) allocate nothing. Methods return the raw C result;
 * callers read {@link #errno} when it is negative, or use {@link #check} to turn that into an
 * {@link ErrnoException}.
 *
 * <p>Only what is generic lives here; protocol structures (TUN's {@code struct ifreq}, the
 * {@code SCM_RIGHTS} {@code msghdr} of vhost-user) stay with the plugin that builds them. Constants
 * are the Linux generic-ABI values (x86-64, aarch64, riscv64); struct layouts are LP64.
 */
public final class Libc {

    // <fcntl.h>
    public static final int O_RDWR = 0x2;
    public static final int O_NONBLOCK = 0x800;
    public static final int O_CLOEXEC = 0x80000;
    public static final int F_GETFD = 1;
    public static final int F_GETFL = 3;
    public static final int F_SETFL = 4;
    /** {@code fcntl(fd, F_ADD_SEALS, seals)} on a memfd or hugetlbfs/shmem file. */
    public static final int F_ADD_SEALS = 1033;
    public static final int F_GET_SEALS = 1034;
    /** No further seal may be added (set on a memfd created without {@code MFD_ALLOW_SEALING}). */
    public static final int F_SEAL_SEAL = 0x1;
    /** The file may not shrink: {@code ftruncate} to less fails with {@code EPERM}. */
    public static final int F_SEAL_SHRINK = 0x2;
    public static final int F_SEAL_GROW = 0x4;
    // <sys/eventfd.h>
    public static final int EFD_NONBLOCK = O_NONBLOCK;
    public static final int EFD_CLOEXEC = O_CLOEXEC;
    // <sys/mman.h>
    public static final int PROT_READ = 0x1;
    public static final int PROT_WRITE = 0x2;
    public static final int MAP_SHARED = 0x1;
    public static final int MFD_CLOEXEC = 0x1;
    public static final int MFD_ALLOW_SEALING = 0x2;
    // <sys/socket.h>
    public static final int AF_UNIX = 1;
    public static final int SOCK_STREAM = 1;
    public static final int SOCK_CLOEXEC = O_CLOEXEC;
    public static final int SHUT_RDWR = 2;
    // <poll.h>
    public static final short POLLIN = 0x001;
    public static final short POLLOUT = 0x004;
    public static final short POLLERR = 0x008;
    public static final short POLLHUP = 0x010;
    public static final short POLLNVAL = 0x020;
    /** Most {@code iovec}s one {@code readv}/{@code writev} takes ({@code UIO_MAXIOV}). */
    public static final int IOV_MAX = 1024;

    /** {@code struct iovec { void *iov_base; size_t iov_len; }}: 16 bytes. */
    public static final long IOVEC_SIZE = 16;
    /** {@code struct pollfd { int fd; short events; short revents; }}: 8 bytes. */
    public static final long POLLFD_SIZE = 8;
    static final long POLLFD_EVENTS = 4;
    static final long POLLFD_REVENTS = 6;

    private static final Linker LINKER = Linker.nativeLinker();
    private static final SymbolLookup LIBC = LINKER.defaultLookup();
    private static final StructLayout CALL_STATE = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO =
            CALL_STATE.varHandle(MemoryLayout.PathElement.groupElement("errno"));
    private static final Linker.Option ERRNO_OPTION = Linker.Option.captureCallState("errno");
    private static final Linker.Option VARIADIC_AFTER_2 = Linker.Option.firstVariadicArg(2);

    // int open(const char *path, int flags, ... /* mode_t mode */)
    private static final MethodHandle OPEN = bind("open",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT), ERRNO_OPTION, VARIADIC_AFTER_2);
    // int close(int fd)
    private static final MethodHandle CLOSE = bind("close", FunctionDescriptor.of(JAVA_INT, JAVA_INT),
            ERRNO_OPTION);
    // int ioctl(int fd, unsigned long request, ...): a pointer argument ...
    private static final MethodHandle IOCTL_PTR = bind("ioctl",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG, ADDRESS), ERRNO_OPTION, VARIADIC_AFTER_2);
    // ... or an integer one (TUNSETOFFLOAD takes the bits by value)
    private static final MethodHandle IOCTL_LONG = bind("ioctl",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_LONG), ERRNO_OPTION, VARIADIC_AFTER_2);
    // int fcntl(int fd, int cmd, ... /* int arg */)
    private static final MethodHandle FCNTL = bind("fcntl",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT), ERRNO_OPTION, VARIADIC_AFTER_2);
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
    // int socket(int domain, int type, int protocol), socketpair(..., int sv[2])
    private static final MethodHandle SOCKET = bind("socket",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT), ERRNO_OPTION);
    private static final MethodHandle SOCKETPAIR = bind("socketpair",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS), ERRNO_OPTION);
    // int bind(int fd, const struct sockaddr *addr, socklen_t len), connect: the same shape
    private static final MethodHandle BIND = bind("bind",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT), ERRNO_OPTION);
    private static final MethodHandle CONNECT = bind("connect",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT), ERRNO_OPTION);
    // int listen(int fd, int backlog), shutdown(int fd, int how)
    private static final MethodHandle LISTEN = bind("listen",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT), ERRNO_OPTION);
    private static final MethodHandle SHUTDOWN = bind("shutdown",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT), ERRNO_OPTION);
    // int accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags)
    private static final MethodHandle ACCEPT4 = bind("accept4",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, ADDRESS, JAVA_INT), ERRNO_OPTION);
    // ssize_t recvmsg(int fd, struct msghdr *msg, int flags), sendmsg
    private static final MethodHandle RECVMSG = bind("recvmsg",
            FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_INT), ERRNO_OPTION);
    private static final MethodHandle SENDMSG = bind("sendmsg",
            FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_INT), ERRNO_OPTION);
    // int memfd_create(const char *name, unsigned int flags)
    private static final MethodHandle MEMFD_CREATE = bind("memfd_create",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT), ERRNO_OPTION);
    // int ftruncate(int fd, off_t length)
    private static final MethodHandle FTRUNCATE = bind("ftruncate",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG), ERRNO_OPTION);
    // int fstat(int fd, struct stat *st)
    private static final MethodHandle FSTAT = bind("fstat",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS), ERRNO_OPTION);
    // void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t offset), munmap
    private static final MethodHandle MMAP = bind("mmap",
            FunctionDescriptor.of(ADDRESS, ADDRESS, JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_LONG), ERRNO_OPTION);
    private static final MethodHandle MUNMAP = bind("munmap",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG), ERRNO_OPTION);
    // int unlink(const char *path)
    private static final MethodHandle UNLINK = bind("unlink", FunctionDescriptor.of(JAVA_INT, ADDRESS), ERRNO_OPTION);
    // char *strerror(int errnum)
    private static final MethodHandle STRERROR = bind("strerror", FunctionDescriptor.of(ADDRESS, JAVA_INT));

    private Libc() {
    }

    @SuppressWarnings("restricted") // the point of this class; the JVM needs --enable-native-access
    private static MethodHandle bind(String name, FunctionDescriptor descriptor, Linker.Option... options) {
        return LINKER.downcallHandle(LIBC.findOrThrow(name), descriptor, options);
    }

    /** A segment for one thread's captured {@code errno}; reuse it for all that thread's calls. */
    public static MemorySegment newCallState(Arena arena) {
        return arena.allocate(CALL_STATE);
    }

    /** The {@code errno} the last failed call through {@code state} left. */
    public static int errno(MemorySegment state) {
        return (int) ERRNO.get(state, 0L);
    }

    /**
     * {@code result} when it is not negative; else an {@link ErrnoException} for {@code call} with the
     * {@code errno} in {@code state}.
     */
    public static int check(int result, MemorySegment state, String call) {
        if (result < 0) {
            throw new ErrnoException(call, errno(state));
        }
        return result;
    }

    /** {@link #check(int, MemorySegment, String)} for the {@code ssize_t} calls. */
    public static long check(long result, MemorySegment state, String call) {
        if (result < 0) {
            throw new ErrnoException(call, errno(state));
        }
        return result;
    }

    // ---------------------------------------------------------------- files, descriptors

    public static int open(MemorySegment state, MemorySegment path, int flags) {
        try {
            return (int) OPEN.invokeExact(state, path, flags, 0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public static int close(MemorySegment state, int fd) {
        try {
            return (int) CLOSE.invokeExact(state, fd);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public static int ioctl(MemorySegment state, int fd, long request, MemorySegment arg) {
        try {
            return (int) IOCTL_PTR.invokeExact(state, fd, request, arg);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public static int ioctl(MemorySegment state, int fd, long request, long arg) {
        try {
            return (int) IOCTL_LONG.invokeExact(state, fd, request, arg);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public static int fcntl(MemorySegment state, int fd, int cmd, int arg) {
        try {
            return (int) FCNTL.invokeExact(state, fd, cmd, arg);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public static long readv(MemorySegment state, int fd, MemorySegment iov, int count) {
        try {
            return (long) READV.invokeExact(state, fd, iov, count);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public static long writev(MemorySegment state, int fd, MemorySegment iov, int count) {
        try {
            return (long) WRITEV.invokeExact(state, fd, iov, count);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public static long read(MemorySegment state, int fd, MemorySegment buf, long n) {
        try {
            return (long) READ.invokeExact(state, fd, buf, n);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public static long write(MemorySegment state, int fd, MemorySegment buf, long n) {
        try {
            return (long) WRITE.invokeExact(state, fd, buf, n);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public static int poll(MemorySegment state, MemorySegment fds, long count, int timeoutMillis) {
        try {
            return (int) POLL.invokeExact(state, fds, count, timeoutMillis);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public static int eventfd(MemorySegment state, int initval, int flags) {
        try {
            return (int) EVENTFD.invokeExact(state, initval, flags);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public static int unlink(MemorySegment state, MemorySegment path) {
        try {
            return (int) UNLINK.invokeExact(state, path);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    // ---------------------------------------------------------------- network

    public static int ifNameToIndex(MemorySegment state, MemorySegment name) {
        try {
            return (int) IF_NAMETOINDEX.invokeExact(state, name);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public static int socket(MemorySegment state, int domain, int type, int protocol) {
        try {
            return (int) SOCKET.invokeExact(state, domain, type, protocol);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** {@code socketpair}: the two descriptors land in {@code sv} (8 bytes). */
    public static int socketpair(MemorySegment state, int domain, int type, int protocol, MemorySegment sv) {
        try {
            return (int) SOCKETPAIR.invokeExact(state, domain, type, protocol, sv);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public static int bind(MemorySegment state, int fd, MemorySegment address, int length) {
        try {
            return (int) BIND.invokeExact(state, fd, address, length);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public static int connect(MemorySegment state, int fd, MemorySegment address, int length) {
        try {
            return (int) CONNECT.invokeExact(state, fd, address, length);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public static int listen(MemorySegment state, int fd, int backlog) {
        try {
            return (int) LISTEN.invokeExact(state, fd, backlog);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** {@code accept4} without the peer's address. */
    public static int accept4(MemorySegment state, int fd, int flags) {
        try {
            return (int) ACCEPT4.invokeExact(state, fd, MemorySegment.NULL, MemorySegment.NULL, flags);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public static int shutdown(MemorySegment state, int fd, int how) {
        try {
            return (int) SHUTDOWN.invokeExact(state, fd, how);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public static long recvmsg(MemorySegment state, int fd, MemorySegment msghdr, int flags) {
        try {
            return (long) RECVMSG.invokeExact(state, fd, msghdr, flags);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public static long sendmsg(MemorySegment state, int fd, MemorySegment msghdr, int flags) {
        try {
            return (long) SENDMSG.invokeExact(state, fd, msghdr, flags);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    // ---------------------------------------------------------------- memory

    public static int memfdCreate(MemorySegment state, MemorySegment name, int flags) {
        try {
            return (int) MEMFD_CREATE.invokeExact(state, name, flags);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public static int ftruncate(MemorySegment state, int fd, long length) {
        try {
            return (int) FTRUNCATE.invokeExact(state, fd, length);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** {@code fstat} into {@code stat}, at least {@code FileStatus.STAT_SIZE} (144) bytes. */
    public static int fstat(MemorySegment state, int fd, MemorySegment stat) {
        try {
            return (int) FSTAT.invokeExact(state, fd, stat);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /**
     * {@code mmap(NULL, length, prot, flags, fd, offset)}.
     *
     * @return the mapping as a zero-length segment, or one whose address is -1 ({@code MAP_FAILED})
     */
    public static MemorySegment mmap(MemorySegment state, long length, int prot, int flags, int fd, long offset) {
        try {
            return (MemorySegment) MMAP.invokeExact(state, MemorySegment.NULL, length, prot, flags, fd, offset);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public static int munmap(MemorySegment state, MemorySegment address, long length) {
        try {
            return (int) MUNMAP.invokeExact(state, address, length);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** The C library's text for {@code errno}, such as "Input/output error". */
    @SuppressWarnings("restricted")
    public static String strerror(int errno) {
        try {
            MemorySegment text = (MemorySegment) STRERROR.invokeExact(errno);
            return text.equals(MemorySegment.NULL) ? "errno " + errno : text.reinterpret(256).getString(0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    // ---- small helpers for set-up paths (they may allocate; never used per packet) ----

    /** Sets {@code O_NONBLOCK} on {@code fd}. */
    public static void setNonBlocking(MemorySegment state, int fd) {
        int flags = fcntl(state, fd, F_GETFL, 0);
        if (flags < 0) {
            throw new ErrnoException("fcntl(F_GETFL)", errno(state));
        }
        if ((flags & O_NONBLOCK) == 0 && fcntl(state, fd, F_SETFL, flags | O_NONBLOCK) < 0) {
            throw new ErrnoException("fcntl(F_SETFL, O_NONBLOCK)", errno(state));
        }
    }

    /** Closes {@code fd}, ignoring errors (Linux releases the descriptor even when close fails). */
    public static void closeQuietly(MemorySegment state, int fd) {
        if (fd >= 0) {
            close(state, fd);
        }
    }

    /** Stores {@code (address, length)} as iovec {@code index} of {@code iov}. */
    public static void setIovec(MemorySegment iov, int index, long address, long length) {
        iov.set(JAVA_LONG, index * IOVEC_SIZE, address);
        iov.set(JAVA_LONG, index * IOVEC_SIZE + 8, length);
    }

    /** Stores pollfd {@code index} of {@code fds}, clearing its {@code revents}. */
    public static void setPollFd(MemorySegment fds, int index, int fd, short events) {
        long base = index * POLLFD_SIZE;
        fds.set(JAVA_INT, base, fd);
        fds.set(JAVA_SHORT, base + POLLFD_EVENTS, events);
        fds.set(JAVA_SHORT, base + POLLFD_REVENTS, (short) 0);
    }

    public static short revents(MemorySegment fds, int index) {
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
