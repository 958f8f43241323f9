package dev.vnet.vhostuser;

import dev.vnet.linux.Errno;
import dev.vnet.linux.ErrnoException;
import dev.vnet.linux.FileStatus;
import dev.vnet.linux.Libc;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

/**
 * The C library as a vhost-user back-end uses it: Unix sockets with {@code SCM_RIGHTS} ({@code struct
 * sockaddr_un}, {@code msghdr} and {@code cmsghdr} are built here), eventfds, {@code mmap} of the
 * front-end's memory, {@code poll}. The calls themselves are the shared {@link Libc}; this class adds
 * a per-thread errno segment, EINTR retries, and turns failures into {@link ErrnoException}s naming the
 * call.
 *
 * <p>The per-thread call state is a {@link ThreadLocal} allocated once per thread, so the hot calls
 * (eventfd {@link #signal} from device workers, kick reads on the poller) allocate nothing.
 * Linux x86-64/aarch64 struct layouts (LP64).
 */
final class Native {

    static final int SOL_SOCKET = 1;
    static final int SCM_RIGHTS = 1;
    static final int MSG_CTRUNC = 0x8;
    static final int MSG_NOSIGNAL = 0x4000;
    static final int MSG_CMSG_CLOEXEC = 0x40000000;

    /** {@code struct sockaddr_un}: sa_family_t + 108 bytes of path. */
    static final int SOCKADDR_UN_SIZE = 110;
    static final int SUN_PATH_MAX = 107;
    /** {@code struct msghdr} (LP64): name, namelen(+pad), iov, iovlen, control, controllen, flags(+pad). */
    static final long MSGHDR_SIZE = 56;
    /** {@code struct cmsghdr}: len (size_t), level, type; data follows, 8-aligned. */
    static final long CMSGHDR_SIZE = 16;

    /** Per thread: the errno capture segment and an 8-byte buffer for eventfd reads/writes. */
    private record ThreadState(MemorySegment callState, MemorySegment u64) {
    }

    private static final ThreadLocal<ThreadState> STATE = ThreadLocal.withInitial(() -> {
        Arena arena = Arena.ofAuto();
        return new ThreadState(Libc.newCallState(arena), arena.allocate(8, 8));
    });

    private Native() {
    }

    private static MemorySegment cs() {
        return STATE.get().callState();
    }

    // ---------------------------------------------------------------- sockets

    /** Fills a {@code sockaddr_un} for {@code path}. */
    static MemorySegment sockaddr(Arena arena, String path) {
        byte[] bytes = path.getBytes(StandardCharsets.UTF_8);
        if (bytes.length == 0 || bytes.length > SUN_PATH_MAX) {
            throw new IllegalArgumentException("socket path must be 1.." + SUN_PATH_MAX + " bytes: " + path);
        }
        MemorySegment sa = arena.allocate(SOCKADDR_UN_SIZE, 8);
        sa.set(JAVA_SHORT, 0, (short) Libc.AF_UNIX);
        MemorySegment.copy(bytes, 0, sa, ValueLayout.JAVA_BYTE, 2, bytes.length);
        return sa;
    }

    static int socket() {
        MemorySegment s = cs();
        return Libc.check(Libc.socket(s, Libc.AF_UNIX, Libc.SOCK_STREAM | Libc.SOCK_CLOEXEC, 0), s, "socket(AF_UNIX)");
    }

    static int[] socketpair() {
        MemorySegment s = cs();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment sv = arena.allocate(8, 4);
            Libc.check(Libc.socketpair(s, Libc.AF_UNIX, Libc.SOCK_STREAM | Libc.SOCK_CLOEXEC, 0, sv), s,
                    "socketpair(AF_UNIX)");
            return new int[] {sv.get(JAVA_INT, 0), sv.get(JAVA_INT, 4)};
        }
    }

    static void bind(int fd, String path) {
        MemorySegment s = cs();
        try (Arena arena = Arena.ofConfined()) {
            Libc.check(Libc.bind(s, fd, sockaddr(arena, path), SOCKADDR_UN_SIZE), s, "bind(" + path + ")");
        }
    }

    static void listen(int fd, int backlog) {
        MemorySegment s = cs();
        Libc.check(Libc.listen(s, fd, backlog), s, "listen");
    }

    /** Blocks for a connection; retries EINTR. */
    static int accept(int fd) {
        MemorySegment s = cs();
        while (true) {
            int c = Libc.accept4(s, fd, Libc.SOCK_CLOEXEC);
            if (c >= 0 || Libc.errno(s) != Errno.EINTR) {
                return Libc.check(c, s, "accept");
            }
        }
    }

    static void connect(int fd, String path) {
        MemorySegment s = cs();
        try (Arena arena = Arena.ofConfined()) {
            Libc.check(Libc.connect(s, fd, sockaddr(arena, path), SOCKADDR_UN_SIZE), s, "connect(" + path + ")");
        }
    }

    /** Wakes threads blocked in accept/recv on {@code fd}; errors ignored. */
    static void shutdown(int fd) {
        Libc.shutdown(cs(), fd, Libc.SHUT_RDWR);
    }

    /**
     * One {@code recvmsg} of up to {@code length} bytes into {@code buf}, collecting passed descriptors
     * (with {@code MSG_CMSG_CLOEXEC}) into {@code fds}.
     *
     * @return bytes read (0 at end of stream); {@code fds.truncated} is set when the kernel dropped
     *         descriptors for lack of control space
     */
    static long recvmsg(int fd, MemorySegment buf, long length, FdBuffer fds) {
        MemorySegment s = cs();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment iov = arena.allocate(Libc.IOVEC_SIZE, 8);
            Libc.setIovec(iov, 0, buf.address(), length);
            long controlLen = CMSGHDR_SIZE + 4L * FdBuffer.MAX_PER_RECV;
            MemorySegment control = arena.allocate(controlLen, 8);
            MemorySegment msg = arena.allocate(MSGHDR_SIZE, 8);
            msg.set(JAVA_LONG, 16, iov.address());
            msg.set(JAVA_LONG, 24, 1);
            msg.set(JAVA_LONG, 32, control.address());
            msg.set(JAVA_LONG, 40, controlLen);
            long n;
            do {
                n = Libc.recvmsg(s, fd, msg, MSG_CMSG_CLOEXEC);
            } while (n < 0 && Libc.errno(s) == Errno.EINTR);
            Libc.check(n, s, "recvmsg");
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
        }
    }

    /** Sends all of {@code buf[0, length)}; {@code fds} (may be empty) ride on the first byte. */
    static void sendmsg(int fd, MemorySegment buf, long length, int[] fds) {
        MemorySegment s = cs();
        try (Arena arena = Arena.ofConfined()) {
            long sent = 0;
            boolean first = true;
            while (sent < length || first) {
                MemorySegment iov = arena.allocate(Libc.IOVEC_SIZE, 8);
                Libc.setIovec(iov, 0, buf.address() + sent, length - sent);
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
                long n = Libc.sendmsg(s, fd, msg, MSG_NOSIGNAL);
                if (n < 0 && Libc.errno(s) == Errno.EINTR) {
                    continue;
                }
                sent += Libc.check(n, s, "sendmsg");
                first = false;
                if (length == 0) {
                    break;
                }
            }
        }
    }

    // ---------------------------------------------------------------- fds, eventfds

    static void close(int fd) {
        Libc.closeQuietly(cs(), fd);
    }

    static int eventfd(boolean nonBlocking) {
        MemorySegment s = cs();
        return Libc.check(Libc.eventfd(s, 0, Libc.EFD_CLOEXEC | (nonBlocking ? Libc.EFD_NONBLOCK : 0)), s, "eventfd");
    }

    /** Adds 1 to an eventfd (a call, a kick, an error). False when the write failed. */
    static boolean signal(int fd) {
        ThreadState t = STATE.get();
        t.u64().set(JAVA_LONG, 0, 1L);
        return Libc.write(t.callState(), fd, t.u64(), 8L) == 8;
    }

    /** Reads (and so clears) an eventfd's counter; -1 when nothing was there or the read failed. */
    static long drain(int fd) {
        ThreadState t = STATE.get();
        return Libc.read(t.callState(), fd, t.u64(), 8L) == 8 ? t.u64().get(JAVA_LONG, 0) : -1;
    }

    static void setNonBlocking(int fd) {
        Libc.setNonBlocking(cs(), fd);
    }

    /** Reads up to {@code length} bytes; retries EINTR. */
    static long read(int fd, MemorySegment buf, long length) {
        MemorySegment s = cs();
        long n;
        do {
            n = Libc.read(s, fd, buf, length);
        } while (n < 0 && Libc.errno(s) == Errno.EINTR);
        return Libc.check(n, s, "read");
    }

    /**
     * {@code poll} over {@code count} entries of {@code pollfds} (8 bytes each).
     *
     * @return ready entries, 0 on timeout or EINTR
     */
    static int poll(MemorySegment pollfds, int count, int timeoutMillis) {
        MemorySegment s = cs();
        int n = Libc.poll(s, pollfds, count, timeoutMillis);
        if (n < 0 && Libc.errno(s) == Errno.EINTR) {
            return 0;
        }
        return Libc.check(n, s, "poll");
    }

    // ---------------------------------------------------------------- memory

    /** A memfd of {@code size} bytes, close-on-exec; sealable ({@code MFD_ALLOW_SEALING}) when asked. */
    static int memfdCreate(String name, long size, boolean allowSealing) {
        MemorySegment s = cs();
        try (Arena arena = Arena.ofConfined()) {
            int flags = Libc.MFD_CLOEXEC | (allowSealing ? Libc.MFD_ALLOW_SEALING : 0);
            int fd = Libc.check(Libc.memfdCreate(s, arena.allocateFrom(name), flags), s, "memfd_create");
            if (Libc.ftruncate(s, fd, size) < 0) {
                ErrnoException e = new ErrnoException("ftruncate", Libc.errno(s));
                close(fd);
                throw e;
            }
            return fd;
        }
    }

    /** A memfd that cannot be sealed, as QEMU's {@code memory-backend-memfd,seal=off} makes. */
    static int memfdCreate(String name, long size) {
        return memfdCreate(name, size, false);
    }

    /** {@code fstat(fd)}: type and size. */
    static FileStatus fileStatus(int fd) {
        return FileStatus.of(cs(), fd);
    }

    /**
     * Makes sure the file behind {@code fd} cannot shrink: adds {@code F_SEAL_SHRINK}, or finds it there
     * already. Sealing is refused with {@code EPERM} for a memfd made without {@code MFD_ALLOW_SEALING}
     * (or already carrying {@code F_SEAL_SEAL}) and with {@code EINVAL} on file systems without seals;
     * neither is an error here.
     *
     * @return whether the file is now sealed against shrinking
     */
    static boolean sealShrink(int fd) {
        MemorySegment s = cs();
        if (Libc.fcntl(s, fd, Libc.F_ADD_SEALS, Libc.F_SEAL_SHRINK) == 0) {
            return true;
        }
        int seals = Libc.fcntl(s, fd, Libc.F_GET_SEALS, 0);
        return seals >= 0 && (seals & Libc.F_SEAL_SHRINK) != 0;
    }

    /**
     * Maps {@code length} bytes of {@code fd} from {@code offset} (page aligned) shared and read-write.
     *
     * @return a native segment of {@code length} bytes; release it with {@link #munmap}
     */
    @SuppressWarnings("restricted")
    static MemorySegment mmap(int fd, long length, long offset) {
        MemorySegment s = cs();
        MemorySegment p = Libc.mmap(s, length, Libc.PROT_READ | Libc.PROT_WRITE, Libc.MAP_SHARED, fd, offset);
        if (p.address() == -1L) {
            throw new ErrnoException("mmap(" + length + " bytes at offset " + offset + ")", Libc.errno(s));
        }
        return p.reinterpret(length);
    }

    static void munmap(MemorySegment mapping) {
        Libc.munmap(cs(), mapping, mapping.byteSize());
    }

    static void unlink(String path) {
        try (Arena arena = Arena.ofConfined()) {
            Libc.unlink(cs(), arena.allocateFrom(path));
        }
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
