package dev.vnet.net;

import dev.vnet.spi.BackendException;
import dev.vnet.spi.BackendQueue;
import dev.vnet.spi.SegmentList;
import dev.vnet.virtio.DescriptorChain;
import dev.vnet.virtio.Virtqueue;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * The receive side of one queue pair (virtio 1.2, 5.1.6.3 and 5.1.6.4): gathers guest buffers, lets the
 * backend read the next frame straight into them, then fixes up the header.
 *
 * <ul>
 *   <li>With MRG_RXBUF, as many chains as the frame needs (just enough when the backend's
 *       {@code peekLength()} is known, enough for the largest frame when it is -1, the unused ones
 *       un-popped afterwards), {@code num_buffers} = chains used. Without it, one chain per frame
 *       (Linux's small or big buffers) and {@code num_buffers} = 1; a frame larger than that chain is
 *       dropped and the chain stays available (QEMU).</li>
 *   <li>Flags only as negotiated: without GUEST_CSUM, NEEDS_CSUM is completed here and the flags are
 *       zero; a GSO type the driver did not accept is dropped.</li>
 *   <li>No buffers: the frame stays in the backend, RX notifications are enabled and the driver's
 *       refill kick wakes the worker (backpressure, no silent loss).</li>
 *   <li>The receive filter runs on the frame in guest memory; refused frames leave the chains unused.</li>
 * </ul>
 */
final class RxPath {

    private static final int BUDGET = 128;
    /** Backend faults in a row retried at once before the worker waits for a wakeup. */
    static final int MAX_CONSECUTIVE_ERRORS = 8;
    private static final ValueLayout.OfShort BE16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);
    private static final ValueLayout.OfShort LE16 =
            ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private enum Result { DONE, NO_FRAME, NO_BUFFERS, FAILED }

    private final int pair;
    private final Virtqueue vq;
    private final BackendQueue backendQueue;
    private final NetSession session;
    private final QueueStats stats;
    private final boolean vnetHeader;
    private final DescriptorChain chain;
    /** Every writable range of the chains gathered for one frame, from the header on. */
    private final SegmentList all;
    /** The same without the header, for a backend without vnet headers. */
    private final SegmentList data;
    private final int[] heads;
    private final long[] capacities;
    private int popped;
    private final MemorySegment header = Arena.ofAuto().allocate(NetHeader.SIZE);
    private final MemorySegment patch = Arena.ofAuto().allocate(2);
    private int consecutiveErrors;
    private MemorySegment discardBuffer;
    private SegmentList discardList;
    /** Whether {@link #gather} may re-enable kicks when the ring runs dry (false while busy polling). */
    private boolean arm = true;
    /** Frames and bytes delivered in the current batch, added to the stats once per batch. */
    private long batchPackets;
    private long batchBytes;
    /** Frames handled (delivered or dropped) so far, for the busy-poll probe. */
    private long handled;
    /** Recent frame size (a decaying maximum) that unknown-length reads offer guest buffers for. */
    private long expected;
    /** Guest buffers plus the bounce tail, for unknown-length reads with MRG_RXBUF. */
    private final SegmentList withTail;
    private MemorySegment bounce;
    /** A frame read without enough buffers for it, delivered first once the driver posts more. */
    private MemorySegment pending;
    private int pendingLength;
    /** What {@link #receive} returns when {@link #read} could not deliver a frame. */
    private Result readFailure;

    RxPath(int pair, Virtqueue vq, BackendQueue backendQueue, NetSession session, QueueStats stats) {
        this.pair = pair;
        this.vq = vq;
        this.backendQueue = backendQueue;
        this.session = session;
        this.stats = stats;
        this.vnetHeader = session.backend.vnetHeader();
        this.chain = vq.newChain();
        this.all = new SegmentList(4 * vq.size());
        this.data = new SegmentList(4 * vq.size());
        this.withTail = new SegmentList(4 * vq.size() + 1);
        this.heads = new int[vq.size()];
        this.capacities = new long[vq.size()];
    }

    Virtqueue queue() {
        return vq;
    }

    /** @return true when the budget ran out with frames possibly left */
    boolean process() {
        arm = true;
        return run();
    }

    /** Busy-poll probe: receives what is there without arming notifications. @return whether it did work */
    boolean poll() {
        long before = handled;
        arm = false;
        run();
        arm = true;
        return handled != before;
    }

    /** Receives up to {@link #BUDGET} frames; used entries are published and notified once per batch. */
    private boolean run() {
        if (vq.isBroken() || pair >= session.activePairs) {
            return false;
        }
        int done = 0;
        try {
            vq.disableNotifications();
            while (done < BUDGET) {
                if (receive() != Result.DONE) {
                    return false;
                }
                done++;
            }
            return true;
        } catch (IllegalStateException | IndexOutOfBoundsException e) {
            if (vq.memoryAlive() && alive(all)) {
                throw e; // a bug, not a vanished region
            }
            vq.fail("guest memory became unavailable: " + e.getMessage());
            return false;
        } finally {
            handled += done;
            flush();
        }
    }

    private static boolean alive(SegmentList list) {
        for (int i = 0; i < list.count(); i++) {
            if (!list.segment(i).scope().isAlive()) {
                return false;
            }
        }
        return true;
    }

    /**
     * Counts a backend fault. A few in a row are retried at once (a transient EIO must not strand a frame
     * that no readiness callback will announce again); past {@link #MAX_CONSECUTIVE_ERRORS} the worker
     * stops polling until the next kick or readiness wakeup, so a dead backend (closed under the device)
     * cannot make it spin.
     */
    private Result backendError() {
        stats.error();
        if (++consecutiveErrors >= MAX_CONSECUTIVE_ERRORS) {
            consecutiveErrors = 0;
            return Result.NO_FRAME;
        }
        return Result.DONE;
    }

    private void flush() {
        if (batchPackets > 0) {
            stats.packets(batchPackets, batchBytes);
            batchPackets = 0;
            batchBytes = 0;
        }
        vq.flushUsed();
        if (vq.needsNotification()) {
            stats.interrupt();
            session.interrupt().queue(vq.index());
        }
    }

    /**
     * Receives the backend's next frame. The rare cases (unknown length, backend errors) are methods of
     * their own so that the common one compiles to short code with few spills: the path is bound by its
     * stores, which queue behind the stores into lines the driver's core holds (docs/PERFORMANCE.md).
     */
    private Result receive() {
        if (pendingLength > 0) {
            return deliverPending();
        }
        int peek = peekLength();
        if (peek == 0) {
            return Result.NO_FRAME;
        }
        if (!session.linkUp()) {
            return discard(DropReason.LINK_DOWN);
        }
        int guestHeader = vnetHeader ? 0 : NetHeader.SIZE;
        if (peek < 0 && session.mergeable) {
            return receiveUnknownLength(guestHeader);
        }
        if (peek > 0 && (long) peek + guestHeader > NetHeader.MAX_BUFFER_LEN) {
            return discard(DropReason.TOO_BIG);
        }
        long needed = peek > 0 ? peek + guestHeader : NetHeader.MAX_BUFFER_LEN;
        Result gathered = gather(needed);
        if (gathered != Result.DONE) {
            return gathered;
        }
        if (!session.mergeable && peek > 0 && needed > all.totalLength()) {
            vq.unpop(popped);
            return discard(DropReason.TOO_BIG);
        }
        int n = read(vnetHeader ? all : withoutHeader());
        return n < 0 ? readFailure : complete(n);
    }

    private int peekLength() {
        try {
            return backendQueue.peekLength();
        } catch (BackendException e) {
            // Cannot tell: read into buffers for the largest frame, as with TAP. Returning here instead
            // would strand a frame the backend already announced (no further readable callback comes).
            stats.error();
            return -1;
        }
    }

    /** The gathered buffers after the guest's header, for a backend without vnet headers. */
    private SegmentList withoutHeader() {
        data.clear();
        ScatterLists.addSlice(data, all, NetHeader.SIZE, all.totalLength() - NetHeader.SIZE);
        return data;
    }

    /**
     * Lets the backend read its next frame into {@code into}.
     *
     * @return the frame's length; or -1 with the chains un-popped and {@link #readFailure} what
     *         {@link #receive} returns
     */
    private int read(SegmentList into) {
        int n;
        try {
            n = backendQueue.read(into);
        } catch (BackendException e) {
            vq.unpop(popped);
            stats.drop(DropReason.BACKEND_ERROR);
            readFailure = backendError();
            return -1;
        }
        if (consecutiveErrors != 0) { // no store per frame
            consecutiveErrors = 0;
        }
        if (n <= 0) {
            vq.unpop(popped);
            readFailure = Result.NO_FRAME;
            return -1;
        }
        if (n > into.totalLength()) {
            readFailure = drop(DropReason.TOO_BIG);
            return -1;
        }
        return n;
    }

    /**
     * A frame of unknown length (TAP) with MRG_RXBUF: offers buffers for the size recent frames had, plus a
     * bounce tail for the rest, instead of popping (and mostly un-popping) buffers for 64 KiB every frame.
     */
    private Result receiveUnknownLength(int guestHeader) {
        Result gathered = gather(Math.max(expected, 1));
        if (gathered != Result.DONE) {
            return gathered;
        }
        SegmentList target = vnetHeader ? all : withoutHeader();
        long guestCapacity = target.totalLength();
        if (bounce == null) {
            bounce = Arena.ofAuto().allocate(NetHeader.MAX_BUFFER_LEN, 64);
            pending = Arena.ofAuto().allocate(NetHeader.MAX_BUFFER_LEN, 64);
        }
        withTail.clear();
        ScatterLists.addSlice(withTail, target, 0, guestCapacity);
        withTail.add(bounce, 0, NetHeader.MAX_BUFFER_LEN - guestHeader);
        int n = read(withTail);
        if (n < 0) {
            return readFailure;
        }
        long total = (long) n + guestHeader;
        expected = Math.max(total, expected - (expected >> 4));
        if (n > guestCapacity) {
            long overflow = n - guestCapacity;
            Result more = gatherMore(total);
            if (more != Result.DONE) {
                // No buffers for the rest: keep the whole frame until the driver posts more.
                target.copyTo(0, pending, 0, guestCapacity);
                MemorySegment.copy(bounce, 0, pending, guestCapacity, overflow);
                pendingLength = n;
                vq.unpop(popped);
                return more;
            }
            all.copyFrom(bounce, 0, guestHeader + guestCapacity, overflow);
        }
        return complete(n);
    }

    /** Delivers the frame kept by {@link #receive} when the ring ran out of buffers for it. */
    private Result deliverPending() {
        int guestHeader = vnetHeader ? 0 : NetHeader.SIZE;
        long total = pendingLength + guestHeader;
        Result gathered = gather(total);
        if (gathered != Result.DONE) {
            return gathered;
        }
        all.copyFrom(pending, 0, guestHeader, pendingLength);
        int n = pendingLength;
        pendingLength = 0;
        return complete(n);
    }

    /** Checks, filters and completes a frame of {@code n} bytes (as the backend delivered it) now in {@link #all}. */
    private Result complete(int n) {
        int guestHeader = vnetHeader ? 0 : NetHeader.SIZE;
        long total = (long) n + guestHeader;
        if (total < NetHeader.SIZE + NetHeader.ETH_HLEN) {
            return drop(DropReason.SHORT_FRAME);
        }
        if (total - NetHeader.SIZE > session.rxFrameLimit && !isGso()) {
            return drop(DropReason.OVERSIZED);
        }
        if (!session.filter.accept(all, NetHeader.SIZE)) {
            return drop(DropReason.FILTERED);
        }
        int used = 0;
        long left = total;
        while (left > 0 && used < popped) {
            left -= Math.min(left, capacities[used]);
            used++;
        }
        if (!fixHeader(total, used)) {
            return drop(DropReason.UNSUPPORTED_OFFLOAD);
        }
        if (used < popped) {
            vq.unpop(popped - used);
        }
        left = total;
        for (int k = 0; k < used; k++) {
            long len = Math.min(left, capacities[k]);
            vq.addUsed(heads[k], len);
            left -= len;
        }
        batchPackets++;
        batchBytes += total - NetHeader.SIZE;
        return Result.DONE;
    }

    /** Drops the frame just read: its chains go back unused. */
    private Result drop(DropReason reason) {
        vq.unpop(popped);
        stats.drop(reason);
        return Result.DONE;
    }

    private boolean isGso() {
        return vnetHeader && (all.byteAt(NetHeader.OFF_GSO_TYPE) & ~NetHeader.VIRTIO_NET_HDR_GSO_ECN)
                != NetHeader.VIRTIO_NET_HDR_GSO_NONE;
    }

    /**
     * Pops chains until their writable space reaches {@code needed} (one chain without MRG_RXBUF). When the
     * ring runs dry first, everything is un-popped and notifications are enabled; the re-check compares
     * avail.idx with the last index the queue <em>saw</em> (not the rewound pop position), so only
     * buffers the driver published meanwhile count, and gathering restarts with them. Otherwise the frame
     * waits in the backend for the driver's next kick.
     *
     * <p>(Found by fuzzing: a re-check that counted the chains just given back as "arrived meanwhile" made
     * a mergeable frame larger than all posted buffers spin here forever, so the worker could not even be
     * stopped. {@code FuzzFindingsTest} keeps that case.)
     */
    private Result gather(long needed) {
        while (true) {
            all.clear();
            int n = 0; // chains popped, stored in the field once: stores are what this path is short of
            long capacity = 0;
            boolean dry = false;
            while (capacity < needed && n < heads.length) {
                if (!vq.pop(chain)) {
                    dry = true;
                    break;
                }
                if (n == 0 && chain.writableLength() < NetHeader.SIZE) {
                    return shortChain();
                }
                if (all.count() + chain.descriptorCount() > all.capacity()) {
                    vq.unpop(1);
                    break;
                }
                chain.writableRanges(all, 0);
                heads[n] = chain.head();
                capacities[n] = chain.writableLength();
                capacity += chain.writableLength();
                n++;
                if (!session.mergeable) {
                    break;
                }
            }
            popped = n;
            if (!dry) {
                return Result.DONE;
            }
            vq.unpop(n);
            popped = 0;
            if (vq.isBroken()) {
                return Result.FAILED;
            }
            if (!arm || !vq.enableNotifications()) {
                return Result.NO_BUFFERS;
            }
            vq.disableNotifications();
        }
    }

    private Result shortChain() {
        vq.fail("RX chain " + chain.head() + " has " + chain.writableLength()
                + " writable bytes, less than the 12-byte header");
        return Result.FAILED;
    }

    /**
     * Pops more chains (MRG_RXBUF) after those already in {@link #all} until their writable space reaches
     * {@code needed}; waits for nothing: NO_BUFFERS when the ring runs dry and no new buffers came.
     */
    private Result gatherMore(long needed) {
        long capacity = 0;
        for (int k = 0; k < popped; k++) {
            capacity += capacities[k];
        }
        while (capacity < needed) {
            if (popped == heads.length) {
                return Result.NO_BUFFERS;
            }
            if (!vq.pop(chain)) {
                if (vq.isBroken()) {
                    return Result.FAILED;
                }
                if (!arm || !vq.enableNotifications()) {
                    return Result.NO_BUFFERS;
                }
                vq.disableNotifications();
                continue;
            }
            if (all.count() + chain.descriptorCount() > all.capacity()) {
                vq.unpop(1);
                return Result.NO_BUFFERS;
            }
            chain.writableRanges(all, 0);
            heads[popped] = chain.head();
            capacities[popped] = chain.writableLength();
            capacity += chain.writableLength();
            popped++;
        }
        return Result.DONE;
    }

    /**
     * Makes the header at the start of {@link #all} what the driver may see: {@code num_buffers}, and
     * flags/GSO only as the driver accepts them.
     *
     * @return false when the frame carries an offload the driver refused that cannot be completed here
     */
    private boolean fixHeader(long total, int used) {
        if (vnetHeader && all.length(0) >= NetHeader.SIZE) {
            MemorySegment first = all.segment(0);
            long at = all.offset(0);
            if (first.get(LE16, at + NetHeader.OFF_FLAGS) == 0) {
                // No flags, no GSO (OFF_GSO_TYPE is the next byte): nothing to check, only num_buffers.
                first.set(LE16, at + NetHeader.OFF_NUM_BUFFERS, (short) (session.mergeable ? used : 1));
                return true;
            }
        }
        return fixHeaderOffloads(total, used);
    }

    /** {@link #fixHeader} for a header that carries offloads, lies across descriptors or is not the backend's. */
    private boolean fixHeaderOffloads(long total, int used) {
        // Linux's buffers hold the header in their first descriptor: edit it in guest memory, no copies.
        boolean inPlace = all.length(0) >= NetHeader.SIZE;
        MemorySegment header = inPlace ? all.segment(0) : this.header;
        long at = inPlace ? all.offset(0) : 0;
        if (!vnetHeader) {
            header.set(ValueLayout.JAVA_LONG_UNALIGNED, at, 0L);
            header.set(ValueLayout.JAVA_INT_UNALIGNED, at + 8, 0);
        } else {
            if (!inPlace) {
                all.copyTo(0, header, 0, NetHeader.SIZE);
            }
            long offloads = session.guestOffloads;
            boolean guestCsum = (offloads & (1L << NetFeatures.VIRTIO_NET_F_GUEST_CSUM)) != 0;
            int flagsAndType = header.get(LE16, at + NetHeader.OFF_FLAGS); // OFF_GSO_TYPE is the next byte
            int flags = flagsAndType & 0xFF;
            int gsoType = (flagsAndType >>> 8) & 0xFF;
            if (gsoType != NetHeader.VIRTIO_NET_HDR_GSO_NONE && !gsoAccepted(gsoType, offloads)) {
                return false;
            }
            if ((flags & NetHeader.VIRTIO_NET_HDR_F_NEEDS_CSUM) != 0 && !guestCsum) {
                int start = Short.toUnsignedInt(header.get(LE16, at + NetHeader.OFF_CSUM_START));
                int offset = Short.toUnsignedInt(header.get(LE16, at + NetHeader.OFF_CSUM_OFFSET));
                long length = total - NetHeader.SIZE;
                if (!SoftwareOffload.checksumFits(length, start, offset)) {
                    return false;
                }
                int value = SoftwareOffload.checksumValue(all, NetHeader.SIZE, length, start);
                patch.set(BE16, 0, (short) value);
                all.copyFrom(patch, 0, NetHeader.SIZE + (long) start + offset, 2);
            }
            int allowed = guestCsum ? flags & (NetHeader.VIRTIO_NET_HDR_F_NEEDS_CSUM
                    | NetHeader.VIRTIO_NET_HDR_F_DATA_VALID) : 0;
            if (allowed != flags) {
                header.set(ValueLayout.JAVA_BYTE, at + NetHeader.OFF_FLAGS, (byte) allowed);
            }
        }
        header.set(LE16, at + NetHeader.OFF_NUM_BUFFERS, (short) (session.mergeable ? used : 1));
        if (!inPlace) {
            all.copyFrom(header, 0, 0, NetHeader.SIZE);
        }
        return true;
    }

    private static boolean gsoAccepted(int gsoType, long offloads) {
        if ((gsoType & NetHeader.VIRTIO_NET_HDR_GSO_ECN) != 0
                && (offloads & (1L << NetFeatures.VIRTIO_NET_F_GUEST_ECN)) == 0) {
            return false;
        }
        int feature = switch (gsoType & ~NetHeader.VIRTIO_NET_HDR_GSO_ECN) {
            case NetHeader.VIRTIO_NET_HDR_GSO_TCPV4 -> NetFeatures.VIRTIO_NET_F_GUEST_TSO4;
            case NetHeader.VIRTIO_NET_HDR_GSO_TCPV6 -> NetFeatures.VIRTIO_NET_F_GUEST_TSO6;
            case NetHeader.VIRTIO_NET_HDR_GSO_UDP -> NetFeatures.VIRTIO_NET_F_GUEST_UFO;
            case NetHeader.VIRTIO_NET_HDR_GSO_UDP_L4 -> -1;
            default -> -2;
        };
        if (feature == -1) {
            return (offloads & (NetFeatures.bits(NetFeatures.VIRTIO_NET_F_GUEST_USO4,
                    NetFeatures.VIRTIO_NET_F_GUEST_USO6))) != 0;
        }
        return feature >= 0 && (offloads & (1L << feature)) != 0;
    }

    /** Consumes and drops the backend's next frame (link down, or too big for any buffer). */
    private Result discard(DropReason reason) {
        if (discardBuffer == null) {
            discardBuffer = Arena.ofAuto().allocate(NetHeader.MAX_BUFFER_LEN);
            discardList = new SegmentList(1);
        }
        discardList.clear();
        discardList.add(discardBuffer, 0, discardBuffer.byteSize());
        int n;
        try {
            n = backendQueue.read(discardList);
        } catch (BackendException e) {
            return backendError();
        }
        consecutiveErrors = 0;
        if (n <= 0) {
            return Result.NO_FRAME;
        }
        stats.drop(reason);
        return Result.DONE;
    }
}
