package dev.vnet.tap;

import dev.vnet.linux.Errno;
import dev.vnet.linux.ErrnoException;
import dev.vnet.linux.Libc;
import dev.vnet.spi.BackendException;
import dev.vnet.spi.BackendQueue;
import dev.vnet.spi.NetBackend;
import dev.vnet.spi.Offloads;
import dev.vnet.spi.ReadinessListener;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.List;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A Linux TAP interface as a {@link NetBackend}: one non-blocking fd per queue pair (several with
 * {@code IFF_MULTI_QUEUE}), frames with the 12-byte {@code virtio_net_hdr_v1} in front
 * ({@code IFF_VNET_HDR}, {@code TUNSETVNETHDRSZ} 12), zero-copy {@code readv}/{@code writev} and one poll
 * thread per queue for readiness. Obtain one from {@link TapBackendProvider} (or {@link #open}).
 *
 * <p>Byte order: the vnet header is little-endian, as virtio 1.x requires. The kernel uses the host's
 * order unless {@code TUNSETVNETLE} says otherwise; on the little-endian hosts this backend supports
 * ({@link Tap}) the two agree, so it does not issue {@code TUNSETVNETLE}. A big-endian port would.
 *
 * <p>Offloads: {@link #supportedOffloads()} is what this kernel's {@code TUNSETOFFLOAD} accepted when
 * probed at open (bit by bit, {@code EINVAL} meaning unknown); the interface starts with none enabled,
 * so the kernel completes checksums and segments before frames reach the guest until
 * {@link #setOffloads} says what the guest takes. The kernel accepts {@code TUN_F_USO4} and
 * {@code TUN_F_USO6} only together: asking for one of them enables neither. TX (guest to kernel) always
 * accepts NEEDS_CSUM and every GSO type the kernel knows, whatever was enabled.
 *
 * <p>Thread use follows {@link NetBackend}: {@link #setOffloads}, {@link #setActiveQueues} and
 * {@link #close} are synchronized; each queue's reads and writes come from that queue's worker.
 */
public final class TapBackend implements NetBackend {

    private static final Logger LOG = LoggerFactory.getLogger(TapBackend.class);
    private static final long JOIN_MILLIS = 5_000;

    private final String ifname;
    private final int supportedOffloads;
    private final boolean multiQueue;
    private final Arena arena;
    private final MemorySegment controlState;
    private final TapQueue[] queues;
    private final boolean[] attached;
    private volatile ReadinessListener listener;
    private volatile boolean closed;
    private int offloads;
    private int activeQueues;

    private TapBackend(String ifname, int supportedOffloads, boolean multiQueue, int[] fds, int[] eventFds,
            Arena arena) {
        this.ifname = ifname;
        this.supportedOffloads = supportedOffloads;
        this.multiQueue = multiQueue;
        this.arena = arena;
        this.controlState = Libc.newCallState(arena);
        this.queues = new TapQueue[fds.length];
        this.attached = new boolean[fds.length];
        for (int i = 0; i < fds.length; i++) {
            queues[i] = new TapQueue(this, i, fds[i], eventFds[i], arena);
            attached[i] = true;
        }
        this.activeQueues = fds.length;
    }

    /**
     * Opens a TAP backend as {@code options} say ({@link TapBackendProvider} lists them).
     *
     * @param maxQueues the most queue pairs the device uses
     * @throws IllegalArgumentException for an unknown or invalid option, naming it
     * @throws BackendException         when the host cannot provide the device; the message says what to fix
     */
    public static TapBackend open(java.util.Map<String, Object> options, int maxQueues) {
        return open(TapOptions.parse(options, maxQueues), Tun.DEVICE);
    }

    static TapBackend open(TapOptions options, String devicePath) {
        if (!Tap.isAvailable()) {
            Throwable cause = Tap.unavailabilityCause();
            int errno = cause instanceof ErrnoException e ? e.errno() : 0;
            BackendException ex = new BackendException("TAP is unavailable: " + cause.getMessage(), errno);
            ex.initCause(cause);
            throw ex;
        }
        int queueCount = options.queues();
        int[] fds = new int[queueCount];
        int[] eventFds = new int[queueCount];
        Arrays.fill(fds, -1);
        Arrays.fill(eventFds, -1);
        boolean handedIn = options.mode() == TapOptions.Mode.FDS;
        Arena arena = Arena.ofShared();
        MemorySegment state = Libc.newCallState(arena);
        try {
            String ifname = handedIn ? adopt(state, options.fds(), fds) : create(state, options, devicePath, fds);
            for (int fd : fds) {
                Tun.setVnetHdrSize(state, fd, Tun.VNET_HDR_SIZE);
                if (options.sndbuf() > 0) {
                    Tun.setSndbuf(state, fd, options.sndbuf());
                }
            }
            int supported = probeOffloads(state, fds[0]);
            for (int i = 0; i < queueCount; i++) {
                eventFds[i] = Libc.eventfd(state, 0, Libc.EFD_NONBLOCK | Libc.EFD_CLOEXEC);
                if (eventFds[i] < 0) {
                    throw new ErrnoException("eventfd", Libc.errno(state));
                }
            }
            TapBackend backend = new TapBackend(ifname, supported, queueCount > 1, fds, eventFds, arena);
            try {
                for (TapQueue queue : backend.queues) {
                    queue.start();
                }
            } catch (RuntimeException | Error e) {
                backend.close(); // stops the threads that did start, closes every fd and the arena
                throw e;
            }
            LOG.info("tap {}: {} queue pair{}, {}, offloads the kernel accepts: {}", ifname, queueCount,
                    queueCount == 1 ? "" : "s", handedIn ? "fds handed in" : options.mode().name().toLowerCase(),
                    Offloads.toString(supported));
            return backend;
        } catch (RuntimeException | Error e) {
            if (!arena.scope().isAlive()) {
                throw e; // the backend existed and closed itself
            }
            for (int i = 0; i < queueCount; i++) {
                if (!handedIn) { // handed-in fds stay the host's until open succeeds
                    Libc.closeQuietly(state, fds[i]);
                }
                Libc.closeQuietly(state, eventFds[i]);
            }
            arena.close();
            if (e instanceof ErrnoException errno) {
                BackendException ex = new BackendException(errno.getMessage(), errno.errno());
                ex.initCause(errno);
                throw ex;
            }
            throw e;
        }
    }

    /** Creates or attaches to {@code options.ifname()}, one fd per queue. */
    private static String create(MemorySegment state, TapOptions options, String devicePath, int[] fds) {
        String name = options.ifname();
        boolean template = name.isEmpty() || name.contains("%");
        boolean exists = !template && Tun.interfaceExists(state, name);
        if (options.mode() == TapOptions.Mode.CREATE && exists) {
            throw new BackendException("interface " + name + " already exists (tap option 'mode' = \"create\"); pick"
                    + " another 'ifname' or use mode \"attach\"", Errno.EEXIST);
        }
        if (options.mode() == TapOptions.Mode.ATTACH && !exists) {
            throw new BackendException("no interface " + name + " to attach to (tap option 'mode' = \"attach\");"
                    + " create it first, e.g. ip tuntap add dev " + name + " mode tap vnet_hdr"
                    + (fds.length > 1 ? " multi_queue" : ""), Errno.ENODEV);
        }
        boolean multiQueue = fds.length > 1;
        if (multiQueue && !Tap.supportsMultiQueue()) {
            throw new BackendException("tap option 'queues' = " + fds.length + " needs IFF_MULTI_QUEUE, which this"
                    + " kernel's TUN driver lacks", Errno.EINVAL);
        }
        int flags = Tun.IFF_TAP | Tun.IFF_NO_PI | Tun.IFF_VNET_HDR | (multiQueue ? Tun.IFF_MULTI_QUEUE : 0);
        for (int i = 0; i < fds.length; i++) {
            try {
                fds[i] = Tun.openDevice(state, devicePath);
            } catch (ErrnoException e) {
                throw Tap.deviceProblem(devicePath, e);
            }
            try {
                name = Tun.setIff(state, fds[i], name, flags);
            } catch (ErrnoException e) {
                throw explainSetIff(e, name, exists || i > 0, multiQueue);
            }
        }
        return name;
    }

    private static RuntimeException explainSetIff(ErrnoException e, String name, boolean exists, boolean multiQueue) {
        String shown = name.isEmpty() ? "tap%d" : name;
        String hint = switch (e.errno()) {
            case Errno.EPERM, Errno.EACCES -> exists
                    ? "not allowed to attach to " + shown + ": it belongs to another user or group (ip tuntap add ... user"
                            + " <name>), or CAP_NET_ADMIN is missing"
                    : "creating " + shown + " needs CAP_NET_ADMIN: run as root, or create it beforehand with ip tuntap"
                            + " add dev <name> mode tap vnet_hdr" + (multiQueue ? " multi_queue" : "")
                            + " user <you> and use mode \"attach\"";
            case Errno.EINVAL -> exists
                    ? "interface " + shown + " exists but is not a TAP device with " + (multiQueue ? "" : "no ")
                            + "IFF_MULTI_QUEUE (a TUN device, another kind of link, or the other queue mode)"
                    : "the kernel refused the TAP flags for " + shown;
            case Errno.EBUSY -> "interface " + shown + " is in use: a single-queue TAP takes one fd, and another"
                    + " process holds it";
            default -> "cannot set up TAP interface " + shown;
        };
        ErrnoException wrapped = new ErrnoException(hint + "; ioctl(TUNSETIFF)", e.errno());
        wrapped.initCause(e);
        return wrapped;
    }

    /** Validates fds the host handed in and makes them non-blocking. */
    private static String adopt(MemorySegment state, List<Integer> given, int[] fds) {
        String name = null;
        for (int i = 0; i < fds.length; i++) {
            int fd = given.get(i);
            if (Libc.fcntl(state, fd, Libc.F_GETFD, 0) < 0) {
                throw new ErrnoException("handed-in fd " + fd + " is not open; fcntl(F_GETFD)", Libc.errno(state));
            }
            Tun.IfReq ifr;
            try {
                ifr = Tun.getIff(state, fd);
            } catch (ErrnoException e) {
                String hint = e.errno() == Errno.EINVAL || e.errno() == Errno.ENOTTY
                        ? "handed-in fd " + fd + " is not a /dev/net/tun fd"
                        : "handed-in fd " + fd + " is not attached to an interface (TUNSETIFF it, or attach its queue)";
                ErrnoException wrapped = new ErrnoException(hint + "; ioctl(TUNGETIFF)", e.errno());
                wrapped.initCause(e);
                throw wrapped;
            }
            int needed = Tun.IFF_TAP | Tun.IFF_NO_PI | Tun.IFF_VNET_HDR | (fds.length > 1 ? Tun.IFF_MULTI_QUEUE : 0);
            if ((ifr.flags() & needed) != needed) {
                throw new BackendException("handed-in fd " + fd + " (" + ifr.name() + ") lacks "
                        + Tun.flagsToString(needed & ~ifr.flags()) + "; open it with TUNSETIFF "
                        + Tun.flagsToString(needed), Errno.EINVAL);
            }
            if (name != null && !name.equals(ifr.name())) {
                throw new BackendException("handed-in fds belong to different interfaces: " + name + " and "
                        + ifr.name(), Errno.EINVAL);
            }
            name = ifr.name();
            Libc.setNonBlocking(state, fd);
        }
        // Ownership passes only once open succeeds (the caller closes nothing of the host's on failure).
        for (int i = 0; i < fds.length; i++) {
            fds[i] = given.get(i);
        }
        return name;
    }

    /** Tries each TUNSETOFFLOAD bit on its own (with CSUM, which all build on), then turns all off. */
    private static int probeOffloads(MemorySegment state, int fd) {
        int supported = 0;
        if (Tun.setOffload(state, fd, Offloads.CSUM) == 0) {
            supported = Offloads.CSUM;
            for (int bit : new int[] {Offloads.TSO4, Offloads.TSO6, Offloads.UFO}) {
                if (Tun.setOffload(state, fd, Offloads.CSUM | bit) == 0) {
                    supported |= bit;
                }
            }
            int tso = supported & (Offloads.TSO4 | Offloads.TSO6);
            if (tso != 0 && Tun.setOffload(state, fd, Offloads.CSUM | tso | Offloads.TSO_ECN) == 0) {
                supported |= Offloads.TSO_ECN;
            }
            // The driver takes USO only for both families at once.
            if (Tun.setOffload(state, fd, Offloads.CSUM | Offloads.USO4 | Offloads.USO6) == 0) {
                supported |= Offloads.USO4 | Offloads.USO6;
            }
        }
        int errno = Tun.setOffload(state, fd, 0);
        if (errno != 0) {
            throw new ErrnoException("ioctl(TUNSETOFFLOAD, 0)", errno);
        }
        return supported;
    }

    // ---- NetBackend ----

    /** Always true: frames carry the 12-byte {@code virtio_net_hdr_v1} in front. */
    @Override
    public boolean vnetHeader() {
        return true;
    }

    @Override
    public int supportedOffloads() {
        return supportedOffloads;
    }

    /**
     * {@inheritDoc}
     *
     * <p>Normalized before {@code TUNSETOFFLOAD}: without {@code CSUM} nothing else is enabled, without
     * TSO4/TSO6 no TSO_ECN, and USO4/USO6 only as a pair (see the class comment).
     *
     * @throws IllegalArgumentException for bits outside {@link #supportedOffloads()}
     * @throws BackendException         when the kernel refuses
     */
    @Override
    public synchronized void setOffloads(int offloads) {
        checkOpen();
        if ((offloads & ~supportedOffloads) != 0) {
            throw new IllegalArgumentException("tap " + ifname + " cannot offload "
                    + Offloads.toString(offloads & ~supportedOffloads) + "; supported: "
                    + Offloads.toString(supportedOffloads));
        }
        int arg = (offloads & Offloads.CSUM) == 0 ? 0 : offloads;
        if ((arg & (Offloads.USO4 | Offloads.USO6)) != (Offloads.USO4 | Offloads.USO6)) {
            arg &= ~(Offloads.USO4 | Offloads.USO6);
        }
        if ((arg & (Offloads.TSO4 | Offloads.TSO6)) == 0) {
            arg &= ~Offloads.TSO_ECN;
        }
        int errno = Tun.setOffload(controlState, queues[0].fd(), arg);
        if (errno != 0) {
            throw new BackendException("tap " + ifname + ": TUNSETOFFLOAD " + Offloads.toString(arg) + " failed: "
                    + Errno.describe(errno), errno);
        }
        this.offloads = arg;
    }

    /** The offloads in force (after the normalization {@link #setOffloads} describes). */
    public synchronized int offloads() {
        return offloads;
    }

    @Override
    public int maxQueuePairs() {
        return queues.length;
    }

    /**
     * {@inheritDoc}
     *
     * <p>Attaches the newly wanted queues first, then detaches the rest, so the interface never has none.
     * The kernel sends nothing to a detached queue (its {@link BackendQueue#read} returns 0 and its
     * listener stays quiet); a device should not write to it either.
     *
     * @throws IllegalArgumentException unless {@code 1 <= pairs <= maxQueuePairs()}
     */
    @Override
    public synchronized void setActiveQueues(int pairs) {
        checkOpen();
        if (pairs < 1 || pairs > queues.length) {
            throw new IllegalArgumentException("tap " + ifname + ": cannot use " + pairs + " queue pairs; it has "
                    + queues.length);
        }
        if (!multiQueue) {
            return;
        }
        try {
            for (int i = 0; i < pairs; i++) {
                if (!attached[i]) {
                    Tun.setQueue(controlState, queues[i].fd(), true);
                    attached[i] = true;
                }
            }
            for (int i = pairs; i < queues.length; i++) {
                if (attached[i]) {
                    Tun.setQueue(controlState, queues[i].fd(), false);
                    attached[i] = false;
                }
            }
        } catch (ErrnoException e) {
            BackendException ex = new BackendException("tap " + ifname + ": " + e.getMessage(), e.errno());
            ex.initCause(e);
            throw ex;
        }
        activeQueues = pairs;
    }

    /** The queue pairs in use, as {@link #setActiveQueues} last set them. */
    public synchronized int activeQueues() {
        return activeQueues;
    }

    @Override
    public BackendQueue queue(int index) {
        return queues[index];
    }

    @Override
    public void setReadinessListener(ReadinessListener listener) {
        this.listener = listener;
    }

    /** The interface's name, such as {@code tap0}. */
    public String ifname() {
        return ifname;
    }

    /**
     * Stops the poll threads (waking each through its eventfd and joining it), then closes every queue fd
     * (including handed-in ones) and eventfd and frees the native memory. A non-persistent interface
     * disappears with its last fd. Call it after the device's workers stopped using the queues.
     */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        for (TapQueue queue : queues) {
            queue.stop(controlState);
        }
        boolean stopped = true;
        for (TapQueue queue : queues) {
            try {
                if (!queue.join(JOIN_MILLIS)) {
                    stopped = false;
                    LOG.error("tap {}: poll thread {} did not stop; leaving its fds open", ifname,
                            queue.pollThread().getName());
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                stopped = false;
            }
        }
        if (!stopped) {
            return; // closing fds under a running poll would risk another file reusing their numbers
        }
        for (TapQueue queue : queues) {
            Libc.closeQuietly(controlState, queue.fd());
            Libc.closeQuietly(controlState, queue.eventFd());
        }
        try {
            arena.close();
        } catch (IllegalStateException e) {
            LOG.warn("tap {}: native memory still in use at close (a worker is inside a call)", ifname);
        }
        LOG.debug("tap {}: closed", ifname);
    }

    @Override
    public String toString() {
        return "TapBackend[" + ifname + ", " + queues.length + " queue pair" + (queues.length == 1 ? "" : "s") + "]";
    }

    // ---- for the queues ----

    ReadinessListener listener() {
        return listener;
    }

    void checkOpen() {
        if (closed) {
            throw new BackendException("tap " + ifname + " is closed", Errno.EBADF);
        }
    }

    /** Queue {@code index}, for tests that inspect fds and threads. */
    TapQueue tapQueue(int index) {
        return queues[index];
    }
}
