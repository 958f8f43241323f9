package dev.vnet.net.backend;

import dev.vnet.net.NetHeader;
import dev.vnet.net.SoftwareOffload;
import dev.vnet.spi.BackendQueue;
import dev.vnet.spi.NetBackend;
import dev.vnet.spi.Offloads;
import dev.vnet.spi.ReadinessListener;
import dev.vnet.spi.SegmentList;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.concurrent.atomic.AtomicLong;

/**
 * One end of an in-JVM link: {@link #loopback} (TX comes back as RX on the same device) or
 * {@link #cable} (two ends joining two devices). Frames carry the 12-byte vnet header, and every offload
 * is accepted since the peer is another virtio device: a frame the receiving driver cannot take as it is
 * gets its checksum completed or is segmented ({@link SoftwareOffload}) on the way.
 *
 * <p>Each end has one bounded {@link FrameRing} per queue pair; a TX on queue {@code i} lands in the
 * peer's ring {@code i mod activePairs(peer)}. A full ring refuses the write and signals
 * {@code writable} when the reader frees room; an empty ring signals {@code readable} when a frame
 * arrives. Memory stays bounded by {@code ringBytes} per queue; nothing is allocated per frame.
 */
public final class InJvmBackend implements NetBackend {

    /** Default bytes per ring: room for 16 maximum-size frames. */
    public static final int DEFAULT_RING_BYTES = 1 << 20;

    private static final ValueLayout.OfShort LE16 =
            ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final String name;
    private final int maxPairs;
    private final FrameRing[] inbound;
    private final EndQueue[] queues;
    private InJvmBackend peer;
    private volatile ReadinessListener listener;
    private volatile int rxOffloads;
    private volatile int activePairs = 1;
    private volatile boolean closed;
    private final AtomicLong dropped = new AtomicLong();

    private InJvmBackend(String name, int maxPairs, int ringBytes) {
        if (maxPairs < 1) {
            throw new IllegalArgumentException("queue pairs: " + maxPairs);
        }
        if (ringBytes < 2 * NetHeader.MAX_BUFFER_LEN) {
            throw new IllegalArgumentException("ring-bytes: " + ringBytes + " is less than two maximum frames ("
                    + 2 * NetHeader.MAX_BUFFER_LEN + ")");
        }
        this.name = name;
        this.maxPairs = maxPairs;
        this.inbound = new FrameRing[maxPairs];
        this.queues = new EndQueue[maxPairs];
        for (int i = 0; i < maxPairs; i++) {
            inbound[i] = new FrameRing(ringBytes, maxPairs);
            queues[i] = new EndQueue(i);
        }
    }

    /** A backend whose transmitted frames are received by the same device. */
    public static InJvmBackend loopback(String name, int queuePairs, int ringBytes) {
        InJvmBackend b = new InJvmBackend(name, queuePairs, ringBytes);
        b.peer = b;
        return b;
    }

    /** Two ends of a cable: what one device sends, the other receives. */
    public static InJvmBackend[] cable(String name, int queuePairs, int ringBytes) {
        InJvmBackend a = new InJvmBackend(name + "/a", queuePairs, ringBytes);
        InJvmBackend b = new InJvmBackend(name + "/b", queuePairs, ringBytes);
        a.peer = b;
        b.peer = a;
        return new InJvmBackend[] {a, b};
    }

    /** The other end (itself for a loopback). */
    public InJvmBackend peerEnd() {
        return peer;
    }

    public String name() {
        return name;
    }

    /** Frames lost inside the link (no room for all segments of a super-frame, or an offload it cannot complete). */
    public long dropped() {
        return dropped.get();
    }

    /** Frames waiting in this end's rings (to be read by this end's device). */
    public int pendingFrames() {
        int n = 0;
        for (FrameRing r : inbound) {
            n += r.frames();
        }
        return n;
    }

    @Override
    public boolean vnetHeader() {
        return true;
    }

    @Override
    public int supportedOffloads() {
        return Offloads.ALL;
    }

    @Override
    public void setOffloads(int offloads) {
        rxOffloads = offloads & Offloads.ALL;
    }

    /** What this end's device accepts on RX. */
    public int offloads() {
        return rxOffloads;
    }

    @Override
    public int maxQueuePairs() {
        return maxPairs;
    }

    @Override
    public void setActiveQueues(int pairs) {
        if (pairs < 1 || pairs > maxPairs) {
            throw new IllegalArgumentException("active queue pairs " + pairs + " outside 1.." + maxPairs);
        }
        activePairs = pairs;
    }

    @Override
    public BackendQueue queue(int index) {
        return queues[index];
    }

    @Override
    public void setReadinessListener(ReadinessListener listener) {
        this.listener = listener;
    }

    @Override
    public void close() {
        closed = true;
    }

    private void signalReadable(int queue) {
        ReadinessListener l = listener;
        if (l != null) {
            l.readable(queue);
        }
    }

    private void signalWritable(int queue) {
        ReadinessListener l = listener;
        if (l != null) {
            l.writable(queue);
        }
    }

    private static boolean accepts(int offloads, int gsoType) {
        if ((gsoType & NetHeader.VIRTIO_NET_HDR_GSO_ECN) != 0 && (offloads & Offloads.TSO_ECN) == 0) {
            return false;
        }
        return switch (gsoType & ~NetHeader.VIRTIO_NET_HDR_GSO_ECN) {
            case NetHeader.VIRTIO_NET_HDR_GSO_TCPV4 -> (offloads & Offloads.TSO4) != 0;
            case NetHeader.VIRTIO_NET_HDR_GSO_TCPV6 -> (offloads & Offloads.TSO6) != 0;
            case NetHeader.VIRTIO_NET_HDR_GSO_UDP -> (offloads & Offloads.UFO) != 0;
            case NetHeader.VIRTIO_NET_HDR_GSO_UDP_L4 -> (offloads & (Offloads.USO4 | Offloads.USO6)) != 0;
            default -> false;
        };
    }

    /** One queue pair of this end: writes go to the peer, reads come from this end's ring. */
    private final class EndQueue implements BackendQueue, SoftwareOffload.SegmentSink {
        private final int index;
        private MemorySegment in;
        private MemorySegment out;
        private FrameRing sinkRing;
        private boolean sinkWake;

        EndQueue(int index) {
            this.index = index;
        }

        @Override
        public boolean write(SegmentList frame) {
            InJvmBackend p = peer;
            if (closed || p.closed) {
                dropped.incrementAndGet();
                return true;
            }
            long length = frame.totalLength();
            if (length < NetHeader.SIZE + NetHeader.ETH_HLEN) {
                dropped.incrementAndGet();
                return true;
            }
            int target = index % p.activePairs;
            FrameRing ring = p.inbound[target];
            int flags = frame.byteAt(NetHeader.OFF_FLAGS);
            int gsoType = frame.byteAt(NetHeader.OFF_GSO_TYPE);
            int accepted = p.rxOffloads;
            boolean segment = gsoType != NetHeader.VIRTIO_NET_HDR_GSO_NONE && !accepts(accepted, gsoType);
            boolean checksum = (flags & NetHeader.VIRTIO_NET_HDR_F_NEEDS_CSUM) != 0 && (accepted & Offloads.CSUM) == 0;
            int result;
            if (!segment && !checksum) {
                result = ring.offer(frame, index);
            } else {
                if (in == null) {
                    in = MemorySegment.ofArray(new byte[NetHeader.MAX_BUFFER_LEN]);
                    out = MemorySegment.ofArray(new byte[NetHeader.MAX_BUFFER_LEN]);
                }
                if (length > in.byteSize()) {
                    dropped.incrementAndGet();
                    return true;
                }
                frame.copyTo(0, in, 0, length);
                if (segment) {
                    return writeSegments(p, ring, target, length);
                }
                int start = Short.toUnsignedInt(in.get(LE16, NetHeader.OFF_CSUM_START));
                int offset = Short.toUnsignedInt(in.get(LE16, NetHeader.OFF_CSUM_OFFSET));
                if (!SoftwareOffload.completeChecksum(in, NetHeader.SIZE, length - NetHeader.SIZE, start, offset)) {
                    dropped.incrementAndGet();
                    return true;
                }
                in.set(ValueLayout.JAVA_BYTE, NetHeader.OFF_FLAGS, (byte) 0);
                result = ring.offer(in, 0, length, index);
            }
            return finish(p, target, result);
        }

        private boolean finish(InJvmBackend p, int target, int result) {
            switch (result) {
                case FrameRing.FULL:
                    return false;
                case FrameRing.TOO_BIG:
                    dropped.incrementAndGet();
                    return true;
                case FrameRing.OK_WAKE:
                    p.signalReadable(target);
                    return true;
                default:
                    return true;
            }
        }

        private boolean writeSegments(InJvmBackend p, FrameRing ring, int target, long length) {
            int gsoType = in.get(ValueLayout.JAVA_BYTE, NetHeader.OFF_GSO_TYPE) & 0xFF;
            int gsoSize = Short.toUnsignedInt(in.get(LE16, NetHeader.OFF_GSO_SIZE));
            if (gsoSize == 0) {
                dropped.incrementAndGet();
                return true;
            }
            // Room for every segment: each repeats at most 12 + 142 bytes of headers (+4 length, +3 pad).
            long segments = (length + gsoSize - 1) / gsoSize;
            long need = length + segments * 161;
            if (need > ring.capacity()) {
                dropped.incrementAndGet();
                return true;
            }
            if (ring.free() < need) {
                ring.waitForRoom(index);
                if (ring.free() < need) {
                    return false;
                }
            }
            sinkRing = ring;
            sinkWake = false;
            int n = SoftwareOffload.segment(in, NetHeader.SIZE, (int) (length - NetHeader.SIZE), gsoType, gsoSize,
                    out, this);
            if (n < 0) {
                dropped.incrementAndGet();
            }
            if (sinkWake) {
                p.signalReadable(target);
            }
            return true;
        }

        @Override
        public boolean accept(MemorySegment buffer, long offset, long length) {
            int r = sinkRing.offer(buffer, offset, length, index);
            if (r == FrameRing.OK_WAKE) {
                sinkWake = true;
            }
            if (r == FrameRing.FULL || r == FrameRing.TOO_BIG) {
                dropped.incrementAndGet();
                return false;
            }
            return true;
        }

        @Override
        public int read(SegmentList buffers) {
            FrameRing ring = inbound[index];
            int n = ring.poll(buffers);
            if (n > 0) {
                long[] writers = ring.takeWaitingWriters();
                for (int w = 0; w < writers.length; w++) {
                    long bits = writers[w];
                    while (bits != 0) {
                        int q = w * 64 + Long.numberOfTrailingZeros(bits);
                        bits &= bits - 1;
                        peer.signalWritable(q);
                    }
                }
            }
            return n;
        }

        @Override
        public int peekLength() {
            return inbound[index].peek();
        }
    }
}
