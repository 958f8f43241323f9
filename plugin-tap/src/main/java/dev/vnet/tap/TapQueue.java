package dev.vnet.tap;

import dev.vnet.linux.Errno;
import dev.vnet.linux.Libc;
import dev.vnet.spi.BackendException;
import dev.vnet.spi.BackendQueue;
import dev.vnet.spi.ReadinessListener;
import dev.vnet.spi.SegmentList;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One TAP queue: one non-blocking fd of the interface, used with one {@code readv}/{@code writev} per
 * frame straight from and into the caller's {@link SegmentList} ranges (guest RAM), through an
 * {@code iovec} array allocated once and reused. Nothing is allocated per frame.
 *
 * <p>Readiness: when {@link #read} finds no frame ({@code EAGAIN}) it arms {@code POLLIN}, when
 * {@link #write} finds the socket buffer full it arms {@code POLLOUT}, and wakes this queue's poll
 * thread through an eventfd if the event was not armed already. The poll thread (a platform thread)
 * polls {@code [tap fd, eventfd]} with the armed events, disarms what fired and calls the
 * {@link ReadinessListener} once per arming. Poll is level-triggered, so a frame that arrives between
 * {@code EAGAIN} and the arming is not missed.
 *
 * <p>RX and TX keep separate iovec arrays and errno slots, so a device may read and write from two
 * threads; each direction must stay on one thread.
 */
final class TapQueue implements BackendQueue, Runnable {

    private static final Logger LOG = LoggerFactory.getLogger(TapQueue.class);

    /** Largest frame the bounce path handles: vnet header, Ethernet + VLAN header and a 64 KiB packet. */
    static final int BOUNCE_SIZE = Tun.VNET_HDR_SIZE + 18 + 65535;

    private final TapBackend backend;
    private final int index;
    private final int fd;
    private final int eventFd;
    private final Arena arena;

    private final MemorySegment rxState;
    private final MemorySegment txState;
    private final MemorySegment pollState;
    private final MemorySegment pollFds;
    private final MemorySegment one;
    private final MemorySegment drain;
    private MemorySegment rxIov = MemorySegment.NULL;
    private MemorySegment txIov = MemorySegment.NULL;
    private MemorySegment rxBounce;
    private MemorySegment txBounce;

    private final AtomicBoolean readArmed = new AtomicBoolean();
    private final AtomicBoolean writeArmed = new AtomicBoolean();
    private volatile boolean stopping;
    private final Thread thread;

    TapQueue(TapBackend backend, int index, int fd, int eventFd, Arena arena) {
        this.backend = backend;
        this.index = index;
        this.fd = fd;
        this.eventFd = eventFd;
        this.arena = arena;
        rxState = Libc.newCallState(arena);
        txState = Libc.newCallState(arena);
        pollState = Libc.newCallState(arena);
        pollFds = arena.allocate(2 * Libc.POLLFD_SIZE, 8);
        one = arena.allocate(ValueLayout.JAVA_LONG);
        one.set(ValueLayout.JAVA_LONG, 0, 1L);
        drain = arena.allocate(ValueLayout.JAVA_LONG);
        thread = Thread.ofPlatform().daemon(true).name("vnet-tap-" + backend.ifname() + "-q" + index).unstarted(this);
    }

    int fd() {
        return fd;
    }

    int eventFd() {
        return eventFd;
    }

    Thread pollThread() {
        return thread;
    }

    void start() {
        thread.start();
    }

    // ---- data path ----

    /**
     * {@inheritDoc}
     *
     * <p>{@code buffers} must hold at least the 12-byte vnet header (the kernel refuses smaller reads
     * with {@code EINVAL} and drops the frame) and consist of native segments. The kernel writes the
     * 10-byte {@code virtio_net_hdr} and zeroes (recent kernels) or skips (older ones) the last two
     * bytes, {@code num_buffers}: the device fills that field itself.
     */
    @Override
    public int read(SegmentList buffers) {
        backend.checkOpen();
        if (buffers.totalLength() < Tun.VNET_HDR_SIZE) {
            throw new IllegalArgumentException("RX buffers of " + buffers.totalLength()
                    + " bytes cannot hold the 12-byte vnet header");
        }
        int count = buffers.count();
        if (count > Libc.IOV_MAX) {
            return readBounced(buffers);
        }
        if (rxIov.byteSize() < count * Libc.IOVEC_SIZE) {
            rxIov = allocateIov(buffers.capacity());
        }
        fill(rxIov, buffers);
        return readv(rxIov, count);
    }

    /**
     * One {@code readv} of {@code count} iovecs, retried on EINTR.
     *
     * @return the frame's length; 0 when none is waiting (the fd is then armed for the readable callback)
     */
    private int readv(MemorySegment iov, int count) {
        for (;;) {
            long n = Libc.readv(rxState, fd, iov, count);
            if (n > 0) {
                return (int) n;
            }
            int errno = n == 0 ? Errno.EAGAIN : Libc.errno(rxState);
            if (errno == Errno.EINTR) {
                continue;
            }
            if (errno == Errno.EAGAIN) {
                armRead();
                return 0;
            }
            throw fault("readv", errno);
        }
    }

    @Override
    public boolean write(SegmentList frame) {
        backend.checkOpen();
        int count = frame.count();
        if (count > Libc.IOV_MAX) {
            return writeBounced(frame);
        }
        if (txIov.byteSize() < count * Libc.IOVEC_SIZE) {
            txIov = allocateIov(frame.capacity());
        }
        fill(txIov, frame);
        return writev(txIov, count);
    }

    /** TAP cannot tell a frame's length without reading it. */
    @Override
    public int peekLength() {
        return -1;
    }

    private boolean writev(MemorySegment iov, int count) {
        for (;;) {
            long n = Libc.writev(txState, fd, iov, count);
            if (n >= 0) {
                return true;
            }
            int errno = Libc.errno(txState);
            if (errno == Errno.EINTR) {
                continue;
            }
            if (errno == Errno.EAGAIN) {
                armWrite();
                return false;
            }
            throw fault("writev", errno);
        }
    }

    /** More ranges than one {@code writev} takes: gather into a bounce buffer first (rare; never Linux's driver). */
    private boolean writeBounced(SegmentList frame) {
        if (frame.totalLength() > BOUNCE_SIZE) {
            throw new BackendException("tap " + backend.ifname() + " queue " + index + ": frame of "
                    + frame.totalLength() + " bytes in " + frame.count() + " ranges is too large", Errno.EMSGSIZE);
        }
        if (txBounce == null) {
            txBounce = arena.allocate(BOUNCE_SIZE + Libc.IOVEC_SIZE, 8);
        }
        long length = frame.copyTo(0, txBounce, Libc.IOVEC_SIZE, frame.totalLength());
        Libc.setIovec(txBounce, 0, txBounce.address() + Libc.IOVEC_SIZE, length);
        return writev(txBounce, 1);
    }

    /** More ranges than one {@code readv} takes: read into a bounce buffer, then scatter. */
    private int readBounced(SegmentList buffers) {
        if (rxBounce == null) {
            rxBounce = arena.allocate(BOUNCE_SIZE + Libc.IOVEC_SIZE, 8);
        }
        long room = Math.min(buffers.totalLength(), BOUNCE_SIZE);
        Libc.setIovec(rxBounce, 0, rxBounce.address() + Libc.IOVEC_SIZE, room);
        int n = readv(rxBounce, 1);
        if (n > 0) {
            buffers.copyFrom(rxBounce, Libc.IOVEC_SIZE, 0, Math.min(n, room));
        }
        return n;
    }

    private MemorySegment allocateIov(int capacity) {
        int entries = Math.min(Math.max(capacity, 1), Libc.IOV_MAX);
        return arena.allocate(entries * Libc.IOVEC_SIZE, 8);
    }

    private static void fill(MemorySegment iov, SegmentList list) {
        for (int i = 0, n = list.count(); i < n; i++) {
            if (!list.segment(i).isNative()) {
                throw new IllegalArgumentException("range " + i + " is not in native memory; TAP needs native"
                        + " guest RAM");
            }
            Libc.setIovec(iov, i, list.address(i), list.length(i));
        }
    }

    private BackendException fault(String call, int errno) {
        return new BackendException("tap " + backend.ifname() + " queue " + index + ": " + call + " failed: "
                + Errno.describe(errno), errno);
    }

    // ---- readiness ----

    private void armRead() {
        if (!readArmed.getAndSet(true)) {
            wake(rxState);
        }
    }

    private void armWrite() {
        if (!writeArmed.getAndSet(true)) {
            wake(txState);
        }
    }

    /** Makes the poll thread re-read the armed events (or notice {@link #stopping}). */
    private void wake(MemorySegment state) {
        // EAGAIN would mean the counter is near 2^64: the thread is awake anyway.
        Libc.write(state, eventFd, one, 8);
    }

    /** Asks the poll thread to end; {@link #join} waits for it. */
    void stop(MemorySegment state) {
        stopping = true;
        wake(state);
    }

    boolean join(long timeoutMillis) throws InterruptedException {
        if (thread.getState() == Thread.State.NEW) {
            return true;
        }
        return thread.join(java.time.Duration.ofMillis(timeoutMillis));
    }

    /** The poll loop: waits for the armed events or the eventfd, until {@link #stop}. */
    @Override
    public void run() {
        while (!stopping) {
            short events = (short) ((readArmed.get() ? Libc.POLLIN : 0) | (writeArmed.get() ? Libc.POLLOUT : 0));
            // A negative fd is skipped: with nothing armed, POLLERR of a detached queue must not spin.
            Libc.setPollFd(pollFds, 0, events == 0 ? -1 : fd, events);
            Libc.setPollFd(pollFds, 1, eventFd, Libc.POLLIN);
            int n = Libc.poll(pollState, pollFds, 2, -1);
            if (n < 0) {
                int errno = Libc.errno(pollState);
                if (errno != Errno.EINTR) {
                    LOG.warn("tap {} queue {}: poll failed: {}", backend.ifname(), index, Errno.describe(errno));
                    pause();
                }
                continue;
            }
            if ((Libc.revents(pollFds, 1) & Libc.POLLIN) != 0) {
                Libc.read(pollState, eventFd, drain, 8);
            }
            short revents = Libc.revents(pollFds, 0);
            if (stopping || revents == 0) {
                continue;
            }
            // On POLLERR/POLLHUP wake both directions: the worker's next call reports the error.
            boolean failed = (revents & (Libc.POLLERR | Libc.POLLHUP | Libc.POLLNVAL)) != 0;
            boolean readable = (failed || (revents & Libc.POLLIN) != 0) && readArmed.getAndSet(false);
            boolean writable = (failed || (revents & Libc.POLLOUT) != 0) && writeArmed.getAndSet(false);
            ReadinessListener listener = backend.listener();
            if (listener == null) {
                continue;
            }
            try {
                if (readable) {
                    listener.readable(index);
                }
                if (writable) {
                    listener.writable(index);
                }
            } catch (RuntimeException e) {
                LOG.error("tap {} queue {}: readiness listener failed", backend.ifname(), index, e);
            }
        }
    }

    private static void pause() {
        try {
            TimeUnit.MILLISECONDS.sleep(10);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
