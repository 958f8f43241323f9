package dev.vnet.tap;

import dev.vnet.linux.ErrnoException;
import dev.vnet.linux.Libc;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

/**
 * The Linux TUN/TAP driver's control interface ({@code include/uapi/linux/if_tun.h}): ioctl numbers,
 * {@code IFF_*} flags and one method per ioctl. Set-up path only: these methods allocate their
 * {@code struct ifreq} in a confined arena and throw {@link ErrnoException} on failure.
 *
 * <p>The ioctl numbers use the generic {@code _IOC} encoding ({@code 'T'} type) shared by x86-64,
 * aarch64 and riscv64.
 */
final class Tun {

    static final String DEVICE = "/dev/net/tun";

    static final long TUNSETIFF = 0x400454caL;
    static final long TUNSETPERSIST = 0x400454cbL;
    static final long TUNGETFEATURES = 0x800454cfL;
    static final long TUNSETOFFLOAD = 0x400454d0L;
    static final long TUNGETIFF = 0x800454d2L;
    static final long TUNSETSNDBUF = 0x400454d4L;
    static final long TUNGETVNETHDRSZ = 0x800454d7L;
    static final long TUNSETVNETHDRSZ = 0x400454d8L;
    static final long TUNSETQUEUE = 0x400454d9L;

    static final int IFF_TUN = 0x0001;
    static final int IFF_TAP = 0x0002;
    static final int IFF_MULTI_QUEUE = 0x0100;
    static final int IFF_ATTACH_QUEUE = 0x0200;
    static final int IFF_DETACH_QUEUE = 0x0400;
    static final int IFF_PERSIST = 0x0800;
    static final int IFF_NO_PI = 0x1000;
    static final int IFF_VNET_HDR = 0x4000;

    /** {@code sizeof(struct virtio_net_hdr_v1)}: what {@code TUNSETVNETHDRSZ} is set to. */
    static final int VNET_HDR_SIZE = 12;

    /** {@code IFNAMSIZ}: 15 name bytes and a NUL. */
    static final int IFNAMSIZ = 16;
    /** {@code sizeof(struct ifreq)} on 64-bit Linux: the name and a 24-byte union. */
    static final long IFREQ_SIZE = 40;
    /** Offset of {@code ifr_flags} (a short) in the union. */
    static final long IFREQ_FLAGS = 16;

    private Tun() {
    }

    /** Name and {@code IFF_*} flags of an interface, as {@code TUNSETIFF}/{@code TUNGETIFF} report them. */
    record IfReq(String name, int flags) {
    }

    /** Opens {@code /dev/net/tun} non-blocking and close-on-exec; the fd is not attached to a device yet. */
    static int openDevice(MemorySegment state, String path) {
        try (Arena arena = Arena.ofConfined()) {
            int fd = Libc.open(state, arena.allocateFrom(path), Libc.O_RDWR | Libc.O_NONBLOCK | Libc.O_CLOEXEC);
            if (fd < 0) {
                throw new ErrnoException("open(" + path + ")", Libc.errno(state));
            }
            return fd;
        }
    }

    /** {@code TUNGETFEATURES}: the {@code IFF_*} flags this kernel's driver accepts in {@code TUNSETIFF}. */
    static int features(MemorySegment state, int fd) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(JAVA_INT);
            if (Libc.ioctl(state, fd, TUNGETFEATURES, out) < 0) {
                throw new ErrnoException("ioctl(TUNGETFEATURES)", Libc.errno(state));
            }
            return out.get(JAVA_INT, 0);
        }
    }

    /**
     * {@code TUNSETIFF}: creates interface {@code name} (a {@code %d} template, or empty for the kernel's
     * {@code tap%d}) or attaches {@code fd} to the existing one.
     *
     * @return the interface's actual name
     */
    static String setIff(MemorySegment state, int fd, String name, int flags) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment ifr = ifreq(arena, name, flags);
            if (Libc.ioctl(state, fd, TUNSETIFF, ifr) < 0) {
                throw new ErrnoException("ioctl(TUNSETIFF, " + (name.isEmpty() ? "tap%d" : name) + ")",
                        Libc.errno(state));
            }
            return name(ifr);
        }
    }

    /** {@code TUNGETIFF}: the name and flags of the interface {@code fd} is attached to. */
    static IfReq getIff(MemorySegment state, int fd) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment ifr = arena.allocate(IFREQ_SIZE);
            if (Libc.ioctl(state, fd, TUNGETIFF, ifr) < 0) {
                throw new ErrnoException("ioctl(TUNGETIFF, fd " + fd + ")", Libc.errno(state));
            }
            return new IfReq(name(ifr), Short.toUnsignedInt(ifr.get(JAVA_SHORT, IFREQ_FLAGS)));
        }
    }

    /** {@code TUNSETVNETHDRSZ}. */
    static void setVnetHdrSize(MemorySegment state, int fd, int size) {
        setInt(state, fd, TUNSETVNETHDRSZ, size, "TUNSETVNETHDRSZ");
    }

    /** {@code TUNGETVNETHDRSZ}. */
    static int vnetHdrSize(MemorySegment state, int fd) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(JAVA_INT);
            if (Libc.ioctl(state, fd, TUNGETVNETHDRSZ, out) < 0) {
                throw new ErrnoException("ioctl(TUNGETVNETHDRSZ)", Libc.errno(state));
            }
            return out.get(JAVA_INT, 0);
        }
    }

    /** {@code TUNSETSNDBUF}: bytes the fd may have in flight towards the kernel before writes get EAGAIN. */
    static void setSndbuf(MemorySegment state, int fd, int bytes) {
        setInt(state, fd, TUNSETSNDBUF, bytes, "TUNSETSNDBUF");
    }

    /**
     * {@code TUNSETOFFLOAD} with the {@code TUN_F_*} bits by value.
     *
     * @return 0, or the errno ({@code EINVAL}: a bit this kernel does not know)
     */
    static int setOffload(MemorySegment state, int fd, int offloads) {
        return Libc.ioctl(state, fd, TUNSETOFFLOAD, offloads) < 0 ? Libc.errno(state) : 0;
    }

    /** {@code TUNSETQUEUE}: attaches ({@code IFF_ATTACH_QUEUE}) or detaches a multiqueue fd. */
    static void setQueue(MemorySegment state, int fd, boolean attach) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment ifr = ifreq(arena, "", attach ? IFF_ATTACH_QUEUE : IFF_DETACH_QUEUE);
            if (Libc.ioctl(state, fd, TUNSETQUEUE, ifr) < 0) {
                throw new ErrnoException("ioctl(TUNSETQUEUE, " + (attach ? "IFF_ATTACH_QUEUE" : "IFF_DETACH_QUEUE")
                        + ")", Libc.errno(state));
            }
        }
    }

    /** Whether an interface of this name exists in the calling thread's network namespace. */
    static boolean interfaceExists(MemorySegment state, String name) {
        try (Arena arena = Arena.ofConfined()) {
            return Libc.ifNameToIndex(state, arena.allocateFrom(name)) != 0;
        }
    }

    private static void setInt(MemorySegment state, int fd, long request, int value, String what) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment in = arena.allocate(JAVA_INT);
            in.set(JAVA_INT, 0, value);
            if (Libc.ioctl(state, fd, request, in) < 0) {
                throw new ErrnoException("ioctl(" + what + ", " + value + ")", Libc.errno(state));
            }
        }
    }

    private static MemorySegment ifreq(Arena arena, String name, int flags) {
        byte[] bytes = name.getBytes(StandardCharsets.US_ASCII);
        if (bytes.length >= IFNAMSIZ) {
            throw new IllegalArgumentException("interface name longer than 15 bytes: " + name);
        }
        MemorySegment ifr = arena.allocate(IFREQ_SIZE); // zeroed
        MemorySegment.copy(bytes, 0, ifr, JAVA_BYTE, 0, bytes.length);
        ifr.set(JAVA_SHORT, IFREQ_FLAGS, (short) flags);
        return ifr;
    }

    private static String name(MemorySegment ifr) {
        return ifr.asSlice(0, IFNAMSIZ).getString(0, StandardCharsets.US_ASCII);
    }

    /** Flags in {@code IFF_TAP|IFF_NO_PI} form, for messages. */
    static String flagsToString(int flags) {
        String[] names = {"IFF_TUN", "IFF_TAP", "", "", "IFF_NAPI", "IFF_NAPI_FRAGS", "IFF_NO_CARRIER", "",
            "IFF_MULTI_QUEUE", "IFF_ATTACH_QUEUE", "IFF_DETACH_QUEUE", "IFF_PERSIST", "IFF_NO_PI",
            "IFF_ONE_QUEUE", "IFF_VNET_HDR", "IFF_TUN_EXCL"};
        StringBuilder sb = new StringBuilder();
        for (int bit = 0; bit < 16; bit++) {
            if ((flags & (1 << bit)) != 0) {
                sb.append(sb.isEmpty() ? "" : "|")
                        .append(names[bit].isEmpty() ? "0x" + Integer.toHexString(1 << bit) : names[bit]);
            }
        }
        return sb.isEmpty() ? "none" : sb.toString();
    }
}
