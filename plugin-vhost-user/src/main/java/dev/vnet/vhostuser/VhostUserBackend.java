package dev.vnet.vhostuser;

import dev.vnet.linux.ErrnoException;
import dev.vnet.net.NetFeatures;
import dev.vnet.net.VirtioNetDevice;
import dev.vnet.virtio.ActivationContext;
import dev.vnet.virtio.GuestErrorListener;
import dev.vnet.virtio.MemoryFault;
import dev.vnet.virtio.QueueConfig;
import dev.vnet.virtio.Virtqueue;
import dev.vnet.virtio.VirtqueueException;
import dev.vnet.virtio.VirtioFeatures;
import dev.vnet.virtio.VirtioInterrupt;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The back-end side of the vhost-user protocol for one {@link VirtioNetDevice}: it handles the front-end's
 * requests and plays the transport for the device, as the PCI transport does in an emulator.
 *
 * <p>Mapping onto the device contract: the acked features (SET_FEATURES) and the memory table are the
 * device's {@link ActivationContext}; the device is activated with no queue when the first ring starts,
 * and each ring joins or leaves it with {@link VirtioNetDevice#restartQueue}/{@link
 * VirtioNetDevice#stopQueue} (the per-queue API of {@code VIRTIO_F_RING_RESET}). A ring runs while it
 * has a size, addresses, a kick (SET_VRING_KICK starts it), is enabled, and memory is mapped; its
 * {@link Virtqueue} is opened on guest-physical addresses translated from the front-end's user
 * addresses and resumes at SET_VRING_BASE's index through {@link Virtqueue#restoreIndexes}. Kicks
 * reach {@link VirtioNetDevice#queueNotify} through the {@link KickPoller}; used-buffer notifications
 * write the ring's call eventfd. GET_VRING_BASE stops the ring and returns the next available index.
 * Queue pairs in use follow the enabled rings ({@link VirtioNetDevice#setActiveQueuePairs}); the
 * control queue stays with the front-end, as with every vhost-user net back-end.
 *
 * <p>{@link #handle} runs on the connection's thread; one front-end at a time. A malformed request is a
 * {@link ProtocolException}: the caller closes the connection and calls {@link #disconnect}, which
 * returns the back-end to its initial state for the next front-end.
 *
 * <p>A front-end that shrinks the memory it handed over (SET_MEM_TABLE seals what it can, see {@link
 * MemoryTable}) makes the next access there fault. A device worker that faults reports it ({@link
 * GuestErrorListener#memoryFault}); the back-end then needs a reset: it is logged once and counted
 * ({@link #memoryFaults}), no ring starts any more, the connection is closed ({@link #onMemoryFault}),
 * and {@link #disconnect} writes every ring's err eventfd before it resets the device for the next
 * front-end.
 */
public final class VhostUserBackend implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(VhostUserBackend.class);

    /** Net features that only concern the control queue, which the front-end keeps. */
    private static final long CONTROL_QUEUE_FEATURES = NetFeatures.bits(NetFeatures.VIRTIO_NET_F_CTRL_VQ,
            NetFeatures.VIRTIO_NET_F_CTRL_RX, NetFeatures.VIRTIO_NET_F_CTRL_VLAN, NetFeatures.VIRTIO_NET_F_CTRL_RX_EXTRA,
            NetFeatures.VIRTIO_NET_F_GUEST_ANNOUNCE, NetFeatures.VIRTIO_NET_F_CTRL_MAC_ADDR,
            NetFeatures.VIRTIO_NET_F_CTRL_GUEST_OFFLOADS);
    /** What we offer: multiqueue, REPLY_ACK and the MTU message. No logging, no RARP, no memory slots. */
    static final long PROTOCOL_FEATURES = bit(VhostUser.PROTOCOL_F_MQ) | bit(VhostUser.PROTOCOL_F_REPLY_ACK)
            | bit(VhostUser.PROTOCOL_F_NET_MTU);

    /** Result of one request: a reply payload (GET_*), or a status for REPLY_ACK (0 = success). */
    public record Result(byte[] payload, long status) {
        static final Result OK = new Result(null, 0);
        static final Result FAILED = new Result(null, 1);

        static Result reply(byte[] payload) {
            return new Result(payload, 0);
        }
    }

    private final VirtioNetDevice device;
    private final int pairs;
    private final long offered;
    private final Vring[] rings;
    private final KickPoller poller;
    private final VirtioInterrupt interrupt = new VirtioInterrupt() {
        @Override
        public void queue(int index) {
            if (index >= 0 && index < rings.length) {
                int fd = rings[index].callFd;
                if (fd >= 0) {
                    Native.signal(fd);
                }
            }
        }

        @Override
        public void config() {
            // Needs the back-end request channel (PROTOCOL_F_BACKEND_REQ), which is not offered.
        }
    };
    private final GuestErrorListener errors = new GuestErrorListener() {
        @Override
        public void guestError(String reason) {
            VhostUserBackend.this.guestError(reason);
        }

        @Override
        public void memoryFault(String reason) {
            VhostUserBackend.this.memoryFault(reason);
        }
    };
    /** Why the session's memory faulted (the device needs a reset), or null. Set from any thread. */
    private final AtomicReference<String> faulted = new AtomicReference<>();
    private final AtomicLong memoryFaults = new AtomicLong();
    private volatile Runnable onMemoryFault = () -> { };

    private boolean owner;
    private boolean featuresSet;
    private long acked;
    private long protocol;
    private MemoryTable memory;
    private boolean active;
    private int mtu;
    /** Set by a handler once it owns the current message's descriptors. */
    private boolean fdsTaken;

    /**
     * @param device the device to serve; its configured queue pairs are what GET_QUEUE_NUM reports
     */
    public VhostUserBackend(VirtioNetDevice device) {
        this.device = device;
        this.pairs = device.config().queuePairs();
        long f = device.offeredFeatures() & ~CONTROL_QUEUE_FEATURES
                & ~VirtioFeatures.bit(VirtioFeatures.VIRTIO_F_RING_RESET);
        if (pairs > 1) {
            f |= VirtioFeatures.bit(NetFeatures.VIRTIO_NET_F_MQ);
        }
        this.offered = f | bit(VhostUser.F_PROTOCOL_FEATURES);
        this.rings = new Vring[2 * pairs];
        for (int i = 0; i < rings.length; i++) {
            rings[i] = new Vring(i);
        }
        this.poller = new KickPoller(device.config().id() + "-kick", device::queueNotify);
    }

    private static long bit(int b) {
        return 1L << b;
    }

    /** The virtio features offered by GET_FEATURES (with VHOST_USER_F_PROTOCOL_FEATURES). */
    public long offeredFeatures() {
        return offered;
    }

    public VirtioNetDevice device() {
        return device;
    }

    /** The features acked with SET_FEATURES, 0 before. */
    public synchronized long ackedFeatures() {
        return acked;
    }

    public synchronized long ackedProtocolFeatures() {
        return protocol;
    }

    /** Whether ring {@code index} is in use by the device. */
    public synchronized boolean isRunning(int index) {
        return index >= 0 && index < rings.length && rings[index].running();
    }

    /** The MTU from NET_SET_MTU, or 0. */
    public synchronized int mtu() {
        return mtu;
    }

    /** Whether REPLY_ACK was negotiated, so a request with NEED_REPLY gets a status reply. */
    public synchronized boolean replyAck() {
        return (protocol & bit(VhostUser.PROTOCOL_F_REPLY_ACK)) != 0;
    }

    /**
     * Handles one request. The back-end owns the message's descriptors: kept or closed, also when this
     * throws.
     *
     * @throws ProtocolException the request is malformed or not offered; close the connection
     */
    public synchronized Result handle(Message m) throws ProtocolException {
        fdsTaken = false;
        try {
            return dispatch(m);
        } catch (ProtocolException | RuntimeException e) {
            // Handlers take descriptors only after every check passed.
            if (!fdsTaken) {
                for (int fd : m.fds()) {
                    Native.close(fd);
                }
            }
            throw e;
        }
    }

    private Result dispatch(Message m) throws ProtocolException {
        switch (m.request()) {
            case VhostUser.GET_FEATURES -> {
                noPayload(m);
                return Result.reply(Message.u64Payload(offered));
            }
            case VhostUser.SET_FEATURES -> {
                m.expectFds(0);
                return setFeatures(m.u64());
            }
            case VhostUser.GET_PROTOCOL_FEATURES -> {
                noPayload(m);
                return Result.reply(Message.u64Payload(PROTOCOL_FEATURES));
            }
            case VhostUser.SET_PROTOCOL_FEATURES -> {
                m.expectFds(0);
                long p = m.u64();
                if ((p & ~PROTOCOL_FEATURES) != 0) {
                    throw new ProtocolException("SET_PROTOCOL_FEATURES: unoffered bits 0x"
                            + Long.toHexString(p & ~PROTOCOL_FEATURES));
                }
                protocol = p;
                return Result.OK;
            }
            case VhostUser.SET_OWNER -> {
                noPayload(m);
                owner = true;
                return Result.OK;
            }
            case VhostUser.RESET_OWNER -> {
                noPayload(m);
                resetSession();
                return Result.OK;
            }
            case VhostUser.GET_QUEUE_NUM -> {
                noPayload(m);
                requireProtocol(m, VhostUser.PROTOCOL_F_MQ);
                return Result.reply(Message.u64Payload(pairs));
            }
            case VhostUser.SET_MEM_TABLE -> {
                return setMemTable(m);
            }
            case VhostUser.SET_VRING_NUM -> {
                Vring r = vringState(m);
                int num = m.buffer().getInt(4);
                int max = device.queueMaxSize(r.index);
                if (QueueConfig.sizeProblem(num, max) != null) {
                    throw new ProtocolException("SET_VRING_NUM: ring " + r.index + ": "
                            + QueueConfig.sizeProblem(num, max));
                }
                return reconfigure(r, () -> r.num = num);
            }
            case VhostUser.SET_VRING_ADDR -> {
                return setVringAddr(m);
            }
            case VhostUser.SET_VRING_BASE -> {
                Vring r = vringState(m);
                int base = m.buffer().getInt(4);
                if (base < 0 || base > 0xFFFF) {
                    throw new ProtocolException("SET_VRING_BASE: ring " + r.index + ": base " + Integer.toUnsignedString(base)
                            + " is not a split-ring index");
                }
                return reconfigure(r, () -> r.base = base);
            }
            case VhostUser.GET_VRING_BASE -> {
                Vring r = vringState(m);
                stop(r);
                r.started = false;
                int kick = r.kickFd;
                r.kickFd = -1;
                updatePoller();
                Native.close(kick);
                return Result.reply(Message.vringStatePayload(r.index, r.base));
            }
            case VhostUser.SET_VRING_KICK, VhostUser.SET_VRING_CALL, VhostUser.SET_VRING_ERR -> {
                return setVringFd(m);
            }
            case VhostUser.SET_VRING_ENABLE -> {
                Vring r = vringState(m);
                // QEMU sends it before SET_FEATURES once GET_FEATURES offered VHOST_USER_F_PROTOCOL_FEATURES
                // (always offered here), so the offer, not the ack, is what allows it.
                int on = m.buffer().getInt(4);
                if (on != 0 && on != 1) {
                    throw new ProtocolException("SET_VRING_ENABLE: ring " + r.index + ": value " + on);
                }
                r.enabled = on == 1;
                return refresh(r) ? Result.OK : Result.FAILED;
            }
            case VhostUser.NET_SET_MTU -> {
                m.expectFds(0);
                requireProtocol(m, VhostUser.PROTOCOL_F_NET_MTU);
                long v = m.u64();
                if (v < 68 || v > 65535) {
                    throw new ProtocolException("NET_SET_MTU: " + Long.toUnsignedString(v) + " outside 68..65535");
                }
                mtu = (int) v;
                LOG.info("{}: front-end MTU {}", device.config().id(), mtu);
                return Result.OK;
            }
            default -> throw new ProtocolException(VhostUser.requestName(m.request()) + " is not supported (not offered)");
        }
    }

    private static void noPayload(Message m) throws ProtocolException {
        // Front-ends send these with size 0; some (DPDK's virtio-user) send the u64 union anyway.
        if (m.size() != 0 && m.size() != 8) {
            throw new ProtocolException(VhostUser.requestName(m.request()) + ": payload of " + m.size() + " bytes");
        }
        m.expectFds(0);
    }

    private void requireProtocol(Message m, int feature) throws ProtocolException {
        if ((protocol & bit(feature)) == 0) {
            throw new ProtocolException(VhostUser.requestName(m.request()) + " without its protocol feature " + feature);
        }
    }

    /** A {@code vhost_vring_state} payload: checks size, no descriptors, the index. */
    private Vring vringState(Message m) throws ProtocolException {
        m.expectSize(8);
        m.expectFds(0);
        return ring(m, m.buffer().getInt(0));
    }

    private Vring ring(Message m, long index) throws ProtocolException {
        if (index < 0 || index >= rings.length) {
            throw new ProtocolException(VhostUser.requestName(m.request()) + ": ring " + Long.toUnsignedString(index)
                    + " outside 0.." + (rings.length - 1));
        }
        return rings[(int) index];
    }

    private Result setFeatures(long features) throws ProtocolException {
        if ((features & ~offered) != 0) {
            throw new ProtocolException("SET_FEATURES: unoffered bits 0x" + Long.toHexString(features & ~offered));
        }
        if (featuresSet && features == acked) {
            return Result.OK;
        }
        List<Vring> wasRunning = stopAll();
        deactivate();
        boolean first = !featuresSet;
        acked = features;
        featuresSet = true;
        LOG.info("{}: features 0x{} acked", device.config().id(), Long.toHexString(features));
        if (first && (features & bit(VhostUser.F_PROTOCOL_FEATURES)) == 0) {
            // Without the protocol-features extension a ring is enabled as soon as it starts.
            for (Vring r : rings) {
                r.enabled = true;
            }
        }
        return restart(wasRunning);
    }

    private Result setMemTable(Message m) throws ProtocolException {
        List<MemoryTable.Region> regions = MemoryTable.parse(m);
        List<Vring> wasRunning = stopAll();
        deactivate();
        if (memory != null) {
            memory.close();
            memory = null;
        }
        fdsTaken = true;
        try {
            memory = MemoryTable.map(regions, m.fds());
        } catch (ErrnoException e) {
            LOG.warn("{}: SET_MEM_TABLE: {}", device.config().id(), e.getMessage());
            return Result.FAILED;
        }
        LOG.info("{}: memory table of {} region(s), {} MiB, {} sealed against shrinking", device.config().id(),
                regions.size(), regions.stream().mapToLong(MemoryTable.Region::size).sum() >> 20,
                memory.sealed().stream().filter(Boolean::booleanValue).count());
        return restart(wasRunning);
    }

    private Result setVringAddr(Message m) throws ProtocolException {
        m.expectSize(40);
        m.expectFds(0);
        ByteBuffer b = m.buffer();
        Vring r = ring(m, Integer.toUnsignedLong(b.getInt(0)));
        int flags = b.getInt(4);
        if (flags != 0) {
            throw new ProtocolException("SET_VRING_ADDR: ring " + r.index + ": flags 0x" + Integer.toHexString(flags)
                    + " (dirty logging is not offered)");
        }
        long desc = b.getLong(8);
        long used = b.getLong(16);
        long avail = b.getLong(24);
        return reconfigure(r, () -> {
            r.descUser = desc;
            r.usedUser = used;
            r.availUser = avail;
            r.addrSet = true;
        });
    }

    private Result setVringFd(Message m) throws ProtocolException {
        long v = m.u64();
        if ((v & ~(VhostUser.VRING_IDX_MASK | VhostUser.VRING_NOFD_MASK)) != 0) {
            throw new ProtocolException(VhostUser.requestName(m.request()) + ": reserved bits in 0x" + Long.toHexString(v));
        }
        Vring r = ring(m, v & VhostUser.VRING_IDX_MASK);
        boolean noFd = (v & VhostUser.VRING_NOFD_MASK) != 0;
        m.expectFds(noFd ? 0 : 1);
        int fd = noFd ? -1 : m.fds()[0];
        fdsTaken = true;
        return switch (m.request()) {
            case VhostUser.SET_VRING_KICK -> {
                boolean wasRunning = stop(r);
                int old = r.kickFd;
                r.kickFd = fd;
                r.started = true;
                updatePoller();
                Native.close(old);
                yield start(r, wasRunning);
            }
            case VhostUser.SET_VRING_CALL -> reconfigure(r, () -> {
                Native.close(r.callFd);
                r.callFd = fd;
            });
            default -> reconfigure(r, () -> {
                Native.close(r.errFd);
                r.errFd = fd;
            });
        };
    }

    /** Applies a change to a ring, stopping it around the change when it runs. */
    private Result reconfigure(Vring r, Runnable change) {
        boolean wasRunning = stop(r);
        change.run();
        return start(r, wasRunning);
    }

    @SuppressWarnings("unused")
    private Result start(Vring r, boolean wasRunning) {
        return refresh(r) ? Result.OK : Result.FAILED;
    }

    private List<Vring> stopAll() {
        List<Vring> running = new ArrayList<>();
        for (Vring r : rings) {
            if (stop(r)) {
                running.add(r);
            }
        }
        return running;
    }

    private Result restart(List<Vring> wasRunning) {
        boolean ok = true;
        for (Vring r : rings) {
            boolean started = refresh(r);
            ok &= started || !wasRunning.contains(r);
        }
        return ok ? Result.OK : Result.FAILED;
    }

    private boolean ready(Vring r) {
        return faulted.get() == null && memory != null && featuresSet && r.num != 0 && r.addrSet && r.started
                && r.enabled;
    }

    /**
     * Starts or stops {@code r} to match its state.
     *
     * @return false when the ring should run but its configuration is unusable (a guest error)
     */
    private boolean refresh(Vring r) {
        boolean want = ready(r);
        if (!want) {
            stop(r);
            return true;
        }
        if (r.running()) {
            return true;
        }
        long features = deviceFeatures();
        long desc = memory.userToGuest(r.descUser, 16L * r.num);
        long avail = memory.userToGuest(r.availUser, 6L + 2L * r.num);
        long used = memory.userToGuest(r.usedUser, 6L + 8L * r.num);
        if (desc == -1 || avail == -1 || used == -1) {
            guestError(String.format("ring %d: addresses (desc 0x%x, avail 0x%x, used 0x%x) outside the memory table",
                    r.index, r.descUser, r.availUser, r.usedUser));
            return false;
        }
        Virtqueue vq;
        try {
            vq = Virtqueue.open(r.index, new QueueConfig(r.num, desc, avail, used), device.queueMaxSize(r.index),
                    memory.memory(), features, errors);
        } catch (VirtqueueException e) {
            guestError(e.getMessage());
            return false;
        }
        vq.restoreIndexes(r.base);
        if (!active) {
            device.activate(new ActivationContext(memory.memory(), features, new Virtqueue[device.queueCount()],
                    interrupt, errors));
            active = true;
        }
        device.restartQueue(r.index, vq);
        r.queue = vq;
        updatePoller();
        updatePairs();
        device.queueNotify(r.index);
        LOG.debug("{}: ring {} started at avail {} (size {})", device.config().id(), r.index, r.base, r.num);
        return true;
    }

    /** Stops {@code r} if it runs, keeping its next available index as the base. */
    private boolean stop(Vring r) {
        if (!r.running()) {
            return false;
        }
        device.stopQueue(r.index);
        r.base = r.queue.lastAvailIndex();
        r.queue = null;
        updatePoller();
        updatePairs();
        return true;
    }

    private long deviceFeatures() {
        return acked & ~bit(VhostUser.F_PROTOCOL_FEATURES);
    }

    private void deactivate() {
        if (active) {
            device.reset();
            active = false;
        }
    }

    private void updatePairs() {
        if (!active) {
            return;
        }
        int highest = 0;
        for (Vring r : rings) {
            if (r.running()) {
                highest = Math.max(highest, r.index / 2 + 1);
            }
        }
        device.setActiveQueuePairs(Math.max(1, highest));
    }

    private void updatePoller() {
        List<Integer> fds = new ArrayList<>();
        List<Integer> queues = new ArrayList<>();
        List<Integer> polled = new ArrayList<>();
        for (Vring r : rings) {
            if (r.running()) {
                if (r.kickFd >= 0) {
                    fds.add(r.kickFd);
                    queues.add(r.index);
                } else {
                    polled.add(r.index);
                }
            }
        }
        poller.update(new KickPoller.Watch(fds.stream().mapToInt(Integer::intValue).toArray(),
                queues.stream().mapToInt(Integer::intValue).toArray(),
                polled.stream().mapToInt(Integer::intValue).toArray()));
    }

    private void guestError(String reason) {
        LOG.warn("{}: guest error: {}", device.config().id(), reason);
        for (Vring r : rings) {
            int fd = r.errFd;
            if (fd >= 0 && (r.queue == null || r.queue.isBroken())) {
                Native.signal(fd);
            }
        }
    }

    /**
     * A device worker (or the connection's thread) faulted on the front-end's memory. Any thread; never
     * blocks on the back-end's lock, since the connection's thread may hold it while it joins that worker.
     */
    void memoryFault(String reason) {
        if (faulted.compareAndSet(null, reason)) {
            memoryFaults.incrementAndGet();
            LOG.warn("{}: guest memory access faulted (the front-end shrank its memory); the device needs"
                    + " a reset and the connection is closed: {}", device.config().id(), reason);
            try {
                onMemoryFault.run();
            } catch (RuntimeException e) {
                LOG.warn("{}: closing the connection after a memory fault failed: {}", device.config().id(),
                        e.toString());
            }
        } else {
            LOG.debug("{}: further memory fault: {}", device.config().id(), reason);
        }
    }

    /**
     * What ends the session after a memory fault (the server closes the connection); called once per
     * fault, from the faulting thread. Without it the back-end just stays in {@link #needsReset}.
     */
    void onMemoryFault(Runnable closeConnection) {
        this.onMemoryFault = closeConnection;
    }

    /** Sessions ended because an access to the front-end's memory faulted. */
    public long memoryFaults() {
        return memoryFaults.get();
    }

    /** Whether the front-end's memory faulted in this session (until {@link #disconnect} or RESET_OWNER). */
    public boolean needsReset() {
        return faulted.get() != null;
    }

    /** Per region of the current memory table: whether its file is sealed against shrinking; empty without one. */
    public synchronized List<Boolean> sealedRegions() {
        return memory == null ? List.of() : memory.sealed();
    }

    /**
     * The front-end went away (or RESET_OWNER): stop everything and forget the negotiation. After a memory
     * fault every ring's err eventfd is written first, the vhost-user way of saying "needs reset".
     */
    public synchronized void disconnect() {
        if (faulted.get() != null) {
            for (Vring r : rings) {
                if (r.errFd >= 0) {
                    Native.signal(r.errFd);
                }
            }
        }
        resetSession();
    }

    private void resetSession() {
        stopAll();
        deactivate();
        updatePoller();
        for (Vring r : rings) {
            r.clear();
        }
        if (memory != null) {
            memory.close();
            memory = null;
        }
        owner = false;
        featuresSet = false;
        acked = 0;
        protocol = 0;
        mtu = 0;
        faulted.set(null);
    }

    /**
     * One line per running ring for diagnostics: the device's next avail/used slots and the driver's
     * avail.idx and used.flags as they are in memory now.
     */
    public synchronized String describeRings() {
        if (faulted.get() != null) {
            return " memory faulted, needs reset";
        }
        StringBuilder sb = new StringBuilder();
        try {
            describeRings(sb);
        } catch (InternalError e) {
            if (!MemoryFault.is(e)) {
                throw e;
            }
            memoryFault("reading ring state for diagnostics: " + e.getMessage());
            sb.append(" memory faulted, needs reset");
        }
        return sb.toString();
    }

    private void describeRings(StringBuilder sb) {
        for (Vring r : rings) {
            Virtqueue q = r.queue;
            if (q != null) {
                long avail = memory.userToGuest(r.availUser, 4);
                long used = memory.userToGuest(r.usedUser, 4);
                int availIdx = Short.toUnsignedInt(memory.memory().slice(avail + 2, 2, dev.vnet.spi.Access.READ)
                        .get(java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED, 0));
                int usedFlags = Short.toUnsignedInt(memory.memory().slice(used, 2, dev.vnet.spi.Access.READ)
                        .get(java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED, 0));
                int usedIdx = Short.toUnsignedInt(memory.memory().slice(used + 2, 2, dev.vnet.spi.Access.READ)
                        .get(java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED, 0));
                int availFlags = Short.toUnsignedInt(memory.memory().slice(avail, 2, dev.vnet.spi.Access.READ)
                        .get(java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED, 0));
                sb.append(String.format(" ring%d[next_avail=%d avail.idx=%d avail.flags=%d next_used=%d used.idx=%d"
                        + " used.flags=%d%s]", r.index, q.lastAvailIndex(), availIdx, availFlags, q.nextUsedIndex(),
                        usedIdx, usedFlags, q.isBroken() ? " broken" : ""));
            }
        }
    }

    /** Whether SET_OWNER was received on this connection. */
    public synchronized boolean hasOwner() {
        return owner;
    }

    @Override
    public synchronized void close() {
        resetSession();
        poller.close();
    }
}
