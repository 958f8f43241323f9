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
 * The transmit side of one queue pair (virtio 1.2, 5.1.6.2): pops chains, reads the 12-byte
 * {@code virtio_net_hdr_v1} from whatever descriptor layout holds it, checks it against what was
 * negotiated, and hands the frame to the backend as ranges of guest memory.
 *
 * <p>With a vnet-header backend the header travels with the frame (zero copy, offloads intact).
 * Without one, the header is stripped and a NEEDS_CSUM checksum is completed in software: the two
 * checksum bytes are replaced by a range of a small native buffer, so the frame is still not copied.
 *
 * <p>Short, oversized and bad-header frames and frames sent while the link is down are dropped and
 * counted; their chains still go back to the used ring with length 0. A chain too short for the header
 * is a protocol violation (QEMU: "bad tx header") and breaks the queue: DEVICE_NEEDS_RESET.
 * When the backend is full the chain is un-popped and the worker waits for {@code writable}.
 */
final class TxPath {

    private static final int BUDGET = 128;
    private static final ValueLayout.OfShort BE16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);

    private enum Result { DONE, BLOCKED, FAILED }

    private final Virtqueue vq;
    private final BackendQueue backendQueue;
    private final NetSession session;
    private final QueueStats stats;
    private final boolean vnetHeader;
    private final DescriptorChain chain;
    private final SegmentList frame;
    private final SegmentList stripped;
    private final MemorySegment patch = Arena.ofAuto().allocate(8);
    /**
     * Bumped by {@link #writable} (backend thread). A refused write records the value it read before
     * writing in {@link #blockedAt}; TX is blocked while the two are equal. This keeps the per-packet path
     * free of volatile stores, and a writable signal racing with the refusal is never lost.
     */
    private volatile int writableSignals;
    private int blockedAt;
    private boolean blocked;
    /** Packets handled (sent or dropped) so far, for the busy-poll probe. */
    private long handled;

    TxPath(Virtqueue vq, BackendQueue backendQueue, NetSession session, QueueStats stats) {
        this.vq = vq;
        this.backendQueue = backendQueue;
        this.session = session;
        this.stats = stats;
        this.vnetHeader = session.backend.vnetHeader();
        this.chain = vq.newChain();
        this.frame = new SegmentList(vq.size() + 4);
        this.stripped = new SegmentList(vq.size() + 4);
    }

    Virtqueue queue() {
        return vq;
    }

    /** The backend has room again (any thread). */
    void writable() {
        writableSignals++; // one backend thread signals a queue; a lost increment would still differ
    }

    /** @return true when the budget ran out with work left */
    boolean process() {
        return process(true);
    }

    /** Busy-poll probe: processes what is there without arming notifications. @return whether it did work */
    boolean poll() {
        long before = handled;
        process(false);
        return handled != before;
    }

    /**
     * Sends up to {@link #BUDGET} frames. Used entries are published and the driver is notified once
     * for the whole batch, at the end.
     *
     * @param arm whether to re-enable kicks when the ring runs dry (false while busy polling)
     * @return true when the budget ran out with work left
     */
    private boolean process(boolean arm) {
        if (blocked) {
            if (writableSignals == blockedAt) {
                return false;
            }
            blocked = false;
        }
        if (vq.isBroken()) {
            return false;
        }
        int budget = BUDGET;
        try {
            while (true) {
                vq.disableNotifications();
                while (budget > 0 && vq.pop(chain)) {
                    budget--;
                    Result r = transmit();
                    if (r == Result.BLOCKED) {
                        vq.unpop(1);
                        return false;
                    }
                    if (r == Result.FAILED) {
                        return false;
                    }
                    handled++;
                    vq.addUsed(chain.head(), 0);
                }
                if (budget == 0) {
                    return true;
                }
                if (!arm || vq.isBroken() || !vq.enableNotifications()) {
                    return false;
                }
            }
        } catch (IllegalStateException | IndexOutOfBoundsException e) {
            if (vq.memoryAlive() && chain.memoryAlive()) {
                throw e; // a bug, not a vanished region
            }
            vq.fail("guest memory became unavailable: " + e.getMessage());
            return false;
        } finally {
            flush();
        }
    }

    private void flush() {
        vq.flushUsed();
        if (vq.needsNotification()) {
            stats.interrupt();
            session.interrupt().queue(vq.index());
        }
    }

    private Result transmit() {
        long readable = chain.readableLength();
        if (readable < NetHeader.SIZE) {
            vq.fail("TX chain " + chain.head() + " has " + readable + " readable bytes, less than the 12-byte header");
            return Result.FAILED;
        }
        long length = readable - NetHeader.SIZE;
        if (!session.linkUp()) {
            stats.drop(DropReason.LINK_DOWN);
            return Result.DONE;
        }
        if (length < NetHeader.ETH_HLEN) {
            stats.drop(DropReason.SHORT_FRAME);
            return Result.DONE;
        }
        if (length > NetHeader.MAX_FRAME_LEN) {
            stats.drop(DropReason.OVERSIZED);
            return Result.DONE;
        }
        int flags = (int) chain.readLittleEndian(NetHeader.OFF_FLAGS, 1);
        int gsoType = (int) chain.readLittleEndian(NetHeader.OFF_GSO_TYPE, 1);
        int gsoSize = (int) chain.readLittleEndian(NetHeader.OFF_GSO_SIZE, 2);
        int csumStart = (int) chain.readLittleEndian(NetHeader.OFF_CSUM_START, 2);
        int csumOffset = (int) chain.readLittleEndian(NetHeader.OFF_CSUM_OFFSET, 2);
        boolean needsCsum = (flags & NetHeader.VIRTIO_NET_HDR_F_NEEDS_CSUM) != 0;
        if (needsCsum && (!session.has(NetFeatures.VIRTIO_NET_F_CSUM)
                || !SoftwareOffload.checksumFits(length, csumStart, csumOffset))) {
            stats.drop(DropReason.BAD_HEADER);
            return Result.DONE;
        }
        if (gsoType != NetHeader.VIRTIO_NET_HDR_GSO_NONE && (!gsoNegotiated(gsoType) || gsoSize == 0 || !vnetHeader)) {
            stats.drop(DropReason.BAD_HEADER);
            return Result.DONE;
        }
        SegmentList out;
        frame.clear();
        if (vnetHeader) {
            chain.readableRanges(frame, 0);
            out = frame;
        } else {
            stripped.clear();
            chain.readableRanges(stripped, NetHeader.SIZE);
            if (needsCsum) {
                int value = SoftwareOffload.checksumValue(stripped, 0, length, csumStart);
                patch.set(BE16, 0, (short) value);
                long field = (long) csumStart + csumOffset;
                ScatterLists.addSlice(frame, stripped, 0, field);
                frame.add(patch, 0, 2);
                ScatterLists.addSlice(frame, stripped, field + 2, length - field - 2);
                out = frame;
            } else {
                out = stripped;
            }
        }
        boolean sent;
        int signals = writableSignals;
        try {
            sent = backendQueue.write(out);
        } catch (BackendException e) {
            stats.drop(DropReason.BACKEND_ERROR);
            stats.error();
            return Result.DONE;
        }
        if (!sent) {
            blocked = true;
            blockedAt = signals;
            return Result.BLOCKED;
        }
        stats.packet(length);
        return Result.DONE;
    }

    private boolean gsoNegotiated(int gsoType) {
        if ((gsoType & NetHeader.VIRTIO_NET_HDR_GSO_ECN) != 0 && !session.has(NetFeatures.VIRTIO_NET_F_HOST_ECN)) {
            return false;
        }
        return switch (gsoType & ~NetHeader.VIRTIO_NET_HDR_GSO_ECN) {
            case NetHeader.VIRTIO_NET_HDR_GSO_TCPV4 -> session.has(NetFeatures.VIRTIO_NET_F_HOST_TSO4);
            case NetHeader.VIRTIO_NET_HDR_GSO_TCPV6 -> session.has(NetFeatures.VIRTIO_NET_F_HOST_TSO6);
            case NetHeader.VIRTIO_NET_HDR_GSO_UDP -> session.has(NetFeatures.VIRTIO_NET_F_HOST_UFO);
            case NetHeader.VIRTIO_NET_HDR_GSO_UDP_L4 -> session.has(NetFeatures.VIRTIO_NET_F_HOST_USO);
            default -> false;
        };
    }
}
