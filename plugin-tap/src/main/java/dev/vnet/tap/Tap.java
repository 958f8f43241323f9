package dev.vnet.tap;

import dev.vnet.linux.Errno;
import dev.vnet.linux.ErrnoException;
import dev.vnet.linux.Libc;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import java.util.Locale;
import java.util.Set;

/**
 * Whether this JVM can use Linux TAP devices, in the manner of Netty's {@code Epoll}: check
 * {@link #isAvailable()} before relying on the {@code tap} backend, and show
 * {@link #unavailabilityCause()} to the user when it is not.
 *
 * <p>The probe runs once, on first use: the platform must be Linux on a little-endian generic-ABI
 * architecture (x86-64, aarch64, riscv64: the {@code virtio_net_hdr} is then little-endian without
 * {@code TUNSETVNETLE}, and the ioctl numbers are the generic ones), the FFM linker must bind the C
 * library, {@code /dev/net/tun} must open read-write, and its driver must offer {@code IFF_TAP},
 * {@code IFF_NO_PI} and {@code IFF_VNET_HDR}. Opening {@code /dev/net/tun} needs no privilege; creating an
 * interface later needs {@code CAP_NET_ADMIN} (or an interface created beforehand for this user).
 */
public final class Tap {

    private static final Set<String> ARCHES = Set.of("amd64", "x86_64", "aarch64", "riscv64");

    private static final class Probe {
        static final Throwable CAUSE;
        static final int FEATURES;

        static {
            int[] features = {0};
            Throwable cause;
            try {
                cause = probe(features);
            } catch (Throwable t) { // LinkageError, IllegalCallerException (native access denied), ...
                cause = t;
            }
            CAUSE = cause;
            FEATURES = features[0];
        }
    }

    private Tap() {
    }

    /** Whether the {@code tap} backend can work here. */
    public static boolean isAvailable() {
        return Probe.CAUSE == null;
    }

    /** Why the {@code tap} backend cannot work here, or null when {@link #isAvailable()}. */
    public static Throwable unavailabilityCause() {
        return Probe.CAUSE;
    }

    /** Throws {@link UnsatisfiedLinkError} with {@link #unavailabilityCause()} when TAP is unavailable. */
    public static void ensureAvailability() {
        if (Probe.CAUSE != null) {
            throw (UnsatisfiedLinkError) new UnsatisfiedLinkError("TAP is unavailable: " + Probe.CAUSE.getMessage())
                    .initCause(Probe.CAUSE);
        }
    }

    /**
     * The {@code IFF_*} flags the kernel's TUN driver supports ({@code TUNGETFEATURES}), such as
     * {@code IFF_TAP | IFF_NO_PI | IFF_VNET_HDR | IFF_MULTI_QUEUE}; 0 when unavailable.
     */
    public static int features() {
        return Probe.FEATURES;
    }

    /** Whether the driver supports multiqueue TAP ({@code IFF_MULTI_QUEUE}). */
    public static boolean supportsMultiQueue() {
        return (Probe.FEATURES & Tun.IFF_MULTI_QUEUE) != 0;
    }

    private static Throwable probe(int[] features) {
        String os = System.getProperty("os.name", "");
        if (!os.toLowerCase(Locale.ROOT).startsWith("linux")) {
            return new UnsupportedOperationException("TAP devices need Linux; this is " + os);
        }
        String arch = System.getProperty("os.arch", "");
        if (!ARCHES.contains(arch) || ByteOrder.nativeOrder() != ByteOrder.LITTLE_ENDIAN) {
            return new UnsupportedOperationException("the TAP backend supports x86-64, aarch64 and riscv64; this is "
                    + arch);
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = Libc.newCallState(arena);
            int fd;
            try {
                fd = Tun.openDevice(state, Tun.DEVICE);
            } catch (ErrnoException e) {
                return deviceProblem(Tun.DEVICE, e);
            }
            try {
                int f = Tun.features(state, fd);
                int needed = Tun.IFF_TAP | Tun.IFF_NO_PI | Tun.IFF_VNET_HDR;
                if ((f & needed) != needed) {
                    return new UnsupportedOperationException("the kernel's TUN driver lacks "
                            + Tun.flagsToString(needed & ~f) + " (TUNGETFEATURES gave " + Tun.flagsToString(f) + ")");
                }
                features[0] = f;
                return null;
            } finally {
                Libc.closeQuietly(state, fd);
            }
        }
    }

    /** A message that says what to fix when {@code /dev/net/tun} cannot be opened. */
    static ErrnoException deviceProblem(String path, ErrnoException e) {
        String hint = switch (e.errno()) {
            case Errno.ENOENT -> path + " is missing: load the tun module (modprobe tun) or, in a container,"
                    + " pass the device in (docker run --device /dev/net/tun --cap-add NET_ADMIN)";
            case Errno.ENODEV, Errno.ENXIO -> "the kernel has no TUN/TAP driver behind " + path
                    + " (CONFIG_TUN): load the tun module (modprobe tun)";
            case Errno.EACCES, Errno.EPERM -> "access to " + path + " is denied: run as root, or make the device"
                    + " read-writable for this user (and give CAP_NET_ADMIN to create interfaces)";
            default -> "cannot open " + path;
        };
        ErrnoException wrapped = new ErrnoException(hint + "; open(" + path + ")", e.errno());
        wrapped.initCause(e);
        return wrapped;
    }
}
