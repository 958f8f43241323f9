package dev.vnet.vhostuser;

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
import java.nio.charset.StandardCharsets;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

/**
 * The C library calls a vhost-user back-end needs (Unix sockets with {@code SCM_RIGHTS}, eventfds,
 * {@code mmap} of the front-end's memory, {@code poll}), bound once through the FFM {@link Linker} in
 * the style of plugin-tap's {@code Libc}: each call that can fail captures {@code errno}; a failure
 * becomes a {@link NativeException} naming the call.
 *
 * <p>The per-thread call state is a {@link ThreadLocal} allocated once per thread, so the hot calls
 * (eventfd {@link #signal} from device workers, kick reads on the poller) allocate nothing.
 * Linux x86-64/aarch64 struct layouts (LP64).
 */
final class Native {

    static final int AF_UNIX = 1;
    static final int SOCK_STREAM = 1;
    static final int SOCK_CLOEXEC = 0x80000;
    static final int SOL_SOCKET = 1;
    static final int SCM_RIGHTS = 1;
    static final int MSG_CTRUNC = 0x8;
    static final int MSG_NOSIGNAL = 0x4000;
    static final int MSG_CMSG_CLOEXEC = 0x40000000;
    static final int SHUT_RDWR = 2;
    static final int EFD_CLOEXEC = 0x80000;
    static final int EFD_NONBLOCK = 0x800;
    static final int MFD_CLOEXEC = 1;
    static final int PROT_READ = 1;
    static final int PROT_WRITE = 2;
    static final int MAP_SHARED = 1;
    static final short POLLIN = 0x001;
    static final short POLLERR = 0x008;
    static final short POLLHUP = 0x010;
    static final short POLLNVAL = 0x020;
    static final int EINTR = 4;
    static final int EAGAIN = 11;
    static final int ENOENT = 2;
    static final int ECONNREFUSED = 111;

    /** {@code struct sockaddr_un}: sa_family_t + 108 bytes of path. */
    static final int SOCKADDR_UN_SIZE = 110;
    static final int SUN_PATH_MAX = 107;
    /** {@code struct msghdr} (LP64): name, namelen(+pad), iov, iovlen, control, controllen, flags(+pad). */
    static final long MSGHDR_SIZE = 56;
    /** {@code struct cmsghdr}: len (size_t), level, type; data follows, 8-aligned. */
    static final long CMSGHDR_SIZE = 16;

    private static final Linker LINKER = Linker.nativeLinker();
    private static final SymbolLookup LIBC = LINKER.defaultLookup();
    private static final StructLayout CALL_STATE = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO = CALL_STATE.varHandle(MemoryLayout.PathElement.groupElement("errno"));
    private static final Linker.Option ERRNO_OPTION = Linker.Option.captureCallState("errno");

    private static final MethodHandle SOCKET = bind("socket", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT));
    private static final MethodHandle SOCKETPAIR = bind("socketpair",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS));
    private static final MethodHandle BIND = bind("bind", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT));
    private static final MethodHandle LISTEN = bind("listen", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT));
    private static final MethodHandle ACCEPT4 = bind("accept4",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, ADDRESS, JAVA_INT));
    private static final MethodHandle CONNECT = bind("connect", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT));
    private static final MethodHandle SHUTDOWN = bind("shutdown", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT));
    private static final MethodHandle RECVMSG = bind("recvmsg", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_INT));
    private static final MethodHandle SENDMSG = bind("sendmsg", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_INT));
    private static final MethodHandle READ = bind("read", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG));
    private static final MethodHandle WRITE = bind("write", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG));
    private static final MethodHandle CLOSE = bind("close", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
    private static final MethodHandle POLL = bind("poll", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT));
    private static final MethodHandle EVENTFD = bind("eventfd", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT));
    private static final MethodHandle MEMFD_CREATE = bind("memfd_create", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
    private static final MethodHandle FTRUNCATE = bind("ftruncate", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG));
    private static final MethodHandle LSEEK = bind("lseek", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, JAVA_LONG, JAVA_INT));
    private static final MethodHandle MMAP = bind("mmap",
            FunctionDescriptor.of(ADDRESS, ADDRESS, JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_LONG));
    private static final MethodHandle MUNMAP = bind("munmap", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG));
    private static final MethodHandle UNLINK = bind("unlink", FunctionDescriptor.of(JAVA_INT, ADDRESS));
    private static final MethodHandle FCNTL = bind("fcntl", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT),
            Linker.Option.firstVariadicArg(2));
    private static final MethodHandle STRERROR = LINKER.downcallHandle(LIBC.findOrThrow("strerror"),
            FunctionDescriptor.of(ADDRESS, JAVA_INT));

    /** Per thread: the errno capture segment and an 8-byte buffer for eventfd reads/writes. */
    private record ThreadState(MemorySegment callState, MemorySegment u64) {
    }

    private static final ThreadLocal<ThreadState> STATE = ThreadLocal.withInitial(() -> {
        Arena arena = Arena.ofAuto();
        return new ThreadState(arena.allocate(CALL_STATE), arena.allocate(8, 8));
    });

    private Native() {
    }

    @SuppressWarnings("restricted")
    private static MethodHandle bind(String name, FunctionDescriptor descriptor, Linker.Option... extra) {
        Linker.Option[] options = new Linker.Option[extra.length + 1];
        options[0] = ERRNO_OPTION;
        System.arraycopy(extra, 0, options, 1, extra.length);
        return LINKER.downcallHandle(LIBC.findOrThrow(name), descriptor, options);
    }

    private static MemorySegment cs() {
        return STATE.get().callState();
    }

    private static int errno() {
        return (int) ERRNO.get(cs(), 0L);
    }

    private static NativeException fail(String call) {
        int e = errno();
        return new NativeException(call, e, strerror(e));
    }

    @SuppressWarnings("restricted")
    static String strerror(int errno) {
        try {
            MemorySegment text = (MemorySegment) STRERROR.invokeExact(errno);
            return text.equals(MemorySegment.NULL) ? "errno " + errno : text.reinterpret(256).getString(0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    // ---------------------------------------------------------------- sockets

    /** Fills a {@code sockaddr_un} for {@code path}. */
    static MemorySegment sockaddr(Arena arena, String path) {
        byte[] bytes = path.getBytes(StandardCharsets.UTF_8);
        if (bytes.length == 0 || bytes.length > SUN_PATH_MAX) {
            throw new IllegalArgumentException("socket path must be 1.." + SUN_PATH_MAX + " bytes: " + path);
        }
        MemorySegment sa = arena.allocate(SOCKADDR_UN_SIZE, 8);
        sa.set(JAVA_SHORT, 0, (short) AF_UNIX);
        MemorySegment.copy(bytes, 0, sa, ValueLayout.JAVA_BYTE, 2, bytes.length);
        return sa;
    }

    static int socket() {
        try {
            int fd = (int) SOCKET.invokeExact(cs(), AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
            if (fd < 0) {
                throw fail("socket(AF_UNIX)");
            }
            return fd;
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    static int[] socketpair() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment sv = arena.allocate(8, 4);
            int r = (int) SOCKETPAIR.invokeExact(cs(), AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv);
            if (r < 0) {
                throw fail("socketpair(AF_UNIX)");
            }
            return new int[] {sv.get(JAVA_INT, 0), sv.get(JAVA_INT, 4)};
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    static void bind(int fd, String path) {
        try (Arena arena = Arena.ofConfined()) {
            int r = (int) BIND.invokeExact(cs(), fd, sockaddr(arena, path), SOCKADDR_UN_SIZE);
            if (r < 0) {
                throw fail("bind(" + path + ")");
            }
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    static void listen(int fd, int backlog) {
        try {
            if ((int) LISTEN.invokeExact(cs(), fd, backlog) < 0) {
                throw fail("listen");
            }
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** Blocks for a connection; retries EINTR. */
    static int accept(int fd) {
        try {
            while (true) {
                int c = (int) ACCEPT4.invokeExact(cs(), fd, MemorySegment.NULL, MemorySegment.NULL, SOCK_CLOEXEC);
                if (c >= 0) {
                    return c;
                }
                if (errno() != EINTR) {
                    throw fail("accept");
                }
            }
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    static void connect(int fd, String path) {
        try (Arena arena = Arena.ofConfined()) {
            int r = (int) CONNECT.invokeExact(cs(), fd, sockaddr(arena, path), SOCKADDR_UN_SIZE);
            if (r < 0) {
                throw fail("connect(" + path + ")");
            }
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** Wakes threads blocked in accept/recv on {@code fd}; errors ignored. */
    static void shutdown(int fd) {
        try {
            int ignored = (int) SHUTDOWN.invokeExact(cs(), fd, SHUT_RDWR);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /**
     * One {@code recvmsg} of up to {@code length} bytes into {@code buf}, collecting passed descriptors
     * (with {@code MSG_CMSG_CLOEXEC}) into {@code fds}.
     *
     * @return bytes read (0 at end of stream); {@code fds.truncated} is set when the kernel dropped
     *         descriptors for lack of control space
     */
    static long recvmsg(int fd, MemorySegment buf, long length, FdBuffer fds) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment iov = arena.allocate(16, 8);
            iov.set(JAVA_LONG, 0, buf.address());
            iov.set(JAVA_LONG, 8, length);
            long controlLen = CMSGHDR_SIZE + 4L * FdBuffer.MAX_PER_RECV;
            MemorySegment control = arena.allocate(controlLen, 8);
            MemorySegment msg = arena.allocate(MSGHDR_SIZE, 8);
            msg.set(JAVA_LONG, 16, iov.address());
            msg.set(JAVA_LONG, 24, 1);
            msg.set(JAVA_LONG, 32, control.address());
            msg.set(JAVA_LONG, 40, controlLen);
            long n;
            while (true) {
                n = (long) RECVMSG.invokeExact(cs(), fd, msg, MSG_CMSG_CLOEXEC);
                if (n >= 0) {
                    break;
                }
                if (errno() != EINTR) {
                    throw fail("recvmsg");
                }
            }
            long got = msg.get(JAVA_LONG, 40);
            int flags = msg.get(JAVA_INT, 48);
            // Walk the control messages (CMSG_FIRSTHDR / CMSG_NXTHDR).
            long off = 0;
            while (off + CMSGHDR_SIZE <= got) {
                long clen = control.get(JAVA_LONG, off);
                int level = control.get(JAVA_INT, off + 8);
                int type = control.get(JAVA_INT, off + 12);
                if (clen < CMSGHDR_SIZE || off + clen > got) {
                    break;
                }
                if (level == SOL_SOCKET && type == SCM_RIGHTS) {
                    for (long p = off + CMSGHDR_SIZE; p + 4 <= off + clen; p += 4) {
                        fds.add(control.get(JAVA_INT, p));
                    }
                }
                off += (clen + 7) & ~7L;
            }
            if ((flags & MSG_CTRUNC) != 0) {
                fds.truncated = true;
            }
            return n;
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** Sends all of {@code buf[0, length)}; {@code fds} (may be empty) ride on the first byte. */
    static void sendmsg(int fd, MemorySegment buf, long length, int[] fds) {
        try (Arena arena = Arena.ofConfined()) {
            long sent = 0;
            boolean first = true;
            while (sent < length || first) {
                MemorySegment iov = arena.allocate(16, 8);
                iov.set(JAVA_LONG, 0, buf.address() + sent);
                iov.set(JAVA_LONG, 8, length - sent);
                MemorySegment msg = arena.allocate(MSGHDR_SIZE, 8);
                msg.set(JAVA_LONG, 16, iov.address());
                msg.set(JAVA_LONG, 24, 1);
                if (first && fds.length > 0) {
                    long clen = CMSGHDR_SIZE + 4L * fds.length;
                    MemorySegment control = arena.allocate((clen + 7) & ~7L, 8);
                    control.set(JAVA_LONG, 0, clen);
                    control.set(JAVA_INT, 8, SOL_SOCKET);
                    control.set(JAVA_INT, 12, SCM_RIGHTS);
                    for (int i = 0; i < fds.length; i++) {
                        control.set(JAVA_INT, CMSGHDR_SIZE + 4L * i, fds[i]);
                    }
                    msg.set(JAVA_LONG, 32, control.address());
                    msg.set(JAVA_LONG, 40, (clen + 7) & ~7L);
                }
                long n = (long) SENDMSG.invokeExact(cs(), fd, msg, MSG_NOSIGNAL);
                if (n < 0) {
                    if (errno() == EINTR) {
                        continue;
                    }
                    throw fail("sendmsg");
                }
                sent += n;
                first = false;
                if (length == 0) {
                    break;
                }
            }
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    // ---------------------------------------------------------------- fds, eventfds

    static void close(int fd) {
        if (fd < 0) {
            return;
        }
        try {
            int ignored = (int) CLOSE.invokeExact(cs(), fd);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    static int eventfd(boolean nonBlocking) {
        try {
            int fd = (int) EVENTFD.invokeExact(cs(), 0, EFD_CLOEXEC | (nonBlocking ? EFD_NONBLOCK : 0));
            if (fd < 0) {
                throw fail("eventfd");
            }
            return fd;
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** Adds 1 to an eventfd (a call, a kick, an error). False when the write failed. */
    static boolean signal(int fd) {
        MemorySegment b = STATE.get().u64();
        b.set(JAVA_LONG, 0, 1L);
        try {
            return (long) WRITE.invokeExact(cs(), fd, b, 8L) == 8;
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** Reads (and so clears) an eventfd's counter; -1 when nothing was there or the read failed. */
    static long drain(int fd) {
        MemorySegment b = STATE.get().u64();
        try {
            long n = (long) READ.invokeExact(cs(), fd, b, 8L);
            return n == 8 ? b.get(JAVA_LONG, 0) : -1;
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    static void setNonBlocking(int fd) {
        try {
            int flags = (int) FCNTL.invokeExact(cs(), fd, 3 /* F_GETFL */, 0);
            if (flags < 0 || (int) FCNTL.invokeExact(cs(), fd, 4 /* F_SETFL */, flags | 0x800) < 0) {
                throw fail("fcntl(O_NONBLOCK)");
            }
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** Reads up to {@code length} bytes; retries EINTR. */
    static long read(int fd, MemorySegment buf, long length) {
        try {
            while (true) {
                long n = (long) READ.invokeExact(cs(), fd, buf, length);
                if (n >= 0) {
                    return n;
                }
                if (errno() != EINTR) {
                    throw fail("read");
                }
            }
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /**
     * {@code poll} over {@code count} entries of {@code pollfds} (8 bytes each).
     *
     * @return ready entries, 0 on timeout or EINTR
     */
    static int poll(MemorySegment pollfds, int count, int timeoutMillis) {
        try {
            int n = (int) POLL.invokeExact(cs(), pollfds, (long) count, timeoutMillis);
            if (n < 0) {
                if (errno() == EINTR) {
                    return 0;
                }
                throw fail("poll");
            }
            return n;
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    // ---------------------------------------------------------------- memory

    static int memfdCreate(String name, long size) {
        try (Arena arena = Arena.ofConfined()) {
            int fd = (int) MEMFD_CREATE.invokeExact(cs(), arena.allocateFrom(name), MFD_CLOEXEC);
            if (fd < 0) {
                throw fail("memfd_create");
            }
            if ((int) FTRUNCATE.invokeExact(cs(), fd, size) < 0) {
                NativeException e = fail("ftruncate");
                close(fd);
                throw e;
            }
            return fd;
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /**
     * Maps {@code length} bytes of {@code fd} from {@code offset} (page aligned) shared and read-write.
     *
     * @return a native segment of {@code length} bytes; release it with {@link #munmap}
     */
    @SuppressWarnings("restricted")
    /** The size of the file behind {@code fd} (lseek to its end), or -1 when it has none (an eventfd, a pipe). */
    static long fileSize(int fd) {
        try {
            return (long) LSEEK.invokeExact(cs(), fd, 0L, 2 /* SEEK_END */);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    static MemorySegment mmap(int fd, long length, long offset) {
        try {
            MemorySegment p = (MemorySegment) MMAP.invokeExact(cs(), MemorySegment.NULL, length, PROT_READ | PROT_WRITE,
                    MAP_SHARED, fd, offset);
            if (p.address() == -1L) {
                throw fail("mmap(" + length + " bytes at offset " + offset + ")");
            }
            return p.reinterpret(length);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    static void munmap(MemorySegment mapping) {
        try {
            int ignored = (int) MUNMAP.invokeExact(cs(), mapping, mapping.byteSize());
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    static void unlink(String path) {
        try (Arena arena = Arena.ofConfined()) {
            int ignored = (int) UNLINK.invokeExact(cs(), arena.allocateFrom(path));
        } catch (Throwable t) {
            throw rethrow(t);
        }
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

    /** Descriptors received with one message; the receiver owns and must close or keep each. */
    static final class FdBuffer {
        /** Control space per recvmsg: a memory table has at most 8 regions; room for a few more. */
        static final int MAX_PER_RECV = 32;
        private final int[] fds = new int[MAX_PER_RECV * 4];
        private int count;
        boolean truncated;

        void add(int fd) {
            if (count < fds.length) {
                fds[count++] = fd;
            } else {
                close(fd);
                truncated = true;
            }
        }

        int count() {
            return count;
        }

        int[] take() {
            int[] r = java.util.Arrays.copyOf(fds, count);
            count = 0;
            truncated = false;
            return r;
        }

        void closeAll() {
            for (int i = 0; i < count; i++) {
                close(fds[i]);
            }
            count = 0;
            truncated = false;
        }
    }
}
