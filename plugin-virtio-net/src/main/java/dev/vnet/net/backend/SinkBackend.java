package dev.vnet.net.backend;

import dev.vnet.net.NetHeader;
import dev.vnet.net.SoftwareOffload;
import dev.vnet.spi.BackendQueue;
import dev.vnet.spi.NetBackend;
import dev.vnet.spi.Offloads;
import dev.vnet.spi.ReadinessListener;
import dev.vnet.spi.SegmentList;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * A backend that costs (almost) nothing, so that the device and its driver are what gets measured, like
 * DPDK's {@code net_null}: TX is a sink that takes every frame; RX is either idle or a source that always
 * has the same frame ready and copies it into the guest's buffers (the copy any real backend's read does).
 * Counters are per queue pair and owned by that pair's worker thread.
 */
public final class SinkBackend implements NetBackend {

    /** Smallest frame the source generates: an Ethernet minimum frame without FCS. */
    public static final int MIN_FRAME = 60;
    /** Largest frame the source generates: what an IPv4 total length can describe, with the Ethernet header. */
    public static final int MAX_FRAME = NetHeader.ETH_HLEN + 0xFFFF;

    private final Pair[] pairs;

    private SinkBackend(int queuePairs, MemorySegment rxFrame) {
        if (queuePairs < 1) {
            throw new IllegalArgumentException("queue pairs: " + queuePairs);
        }
        pairs = new Pair[queuePairs];
        for (int i = 0; i < queuePairs; i++) {
            pairs[i] = new Pair(rxFrame);
        }
    }

    /** A sink on TX whose RX never has a frame. */
    public static SinkBackend sink(int queuePairs) {
        return new SinkBackend(queuePairs, MemorySegment.NULL);
    }

    /**
     * A sink on TX and, on RX, a source of {@code rxFrame} (the 12-byte vnet header, then the frame) on every
     * read.
     */
    public static SinkBackend source(int queuePairs, byte[] rxFrame) {
        if (rxFrame.length < NetHeader.SIZE + NetHeader.ETH_HLEN) {
            throw new IllegalArgumentException("RX frame of " + rxFrame.length + " bytes has no Ethernet header");
        }
        MemorySegment frame = Arena.ofAuto().allocate(rxFrame.length, 64);
        MemorySegment.copy(rxFrame, 0, frame, ValueLayout.JAVA_BYTE, 0, rxFrame.length);
        return new SinkBackend(queuePairs, frame);
    }

    /**
     * A vnet header (no offloads) and a broadcast IPv4/UDP frame of {@code frameSize} bytes (without FCS)
     * from {@code 02:00:00:00:00:01}, 10.0.0.1:9 to 255.255.255.255:9, with a valid IPv4 header checksum and
     * no UDP checksum (RFC 768 allows 0 on IPv4).
     */
    public static byte[] udpBroadcast(int frameSize) {
        if (frameSize < MIN_FRAME || frameSize > MAX_FRAME) {
            throw new IllegalArgumentException("frame size " + frameSize + " outside " + MIN_FRAME + ".." + MAX_FRAME);
        }
        ByteBuffer b = ByteBuffer.allocate(NetHeader.SIZE + frameSize).order(ByteOrder.BIG_ENDIAN);
        b.position(NetHeader.SIZE);
        b.put(new byte[] {-1, -1, -1, -1, -1, -1, 2, 0, 0, 0, 0, 1}).putShort((short) 0x0800);
        int ip = b.position();
        int ipLength = frameSize - NetHeader.ETH_HLEN;
        b.put((byte) 0x45).put((byte) 0).putShort((short) ipLength).putShort((short) 0).putShort((short) 0x4000)
                .put((byte) 64).put((byte) 17).putShort((short) 0).putInt(0x0A000001).putInt(0xFFFFFFFF);
        int sum = SoftwareOffload.fold(SoftwareOffload.sum(MemorySegment.ofArray(b.array()), ip, 20));
        b.putShort(ip + 10, (short) ~sum);
        b.putShort((short) 9).putShort((short) 9).putShort((short) (ipLength - 20)).putShort((short) 0);
        return b.array();
    }

    /** Frames the sink took on queue pair {@code pair}. */
    public long sunkFrames(int pair) {
        return pairs[pair].sunkFrames;
    }

    /** Bytes (with vnet headers) the sink took on queue pair {@code pair}. */
    public long sunkBytes(int pair) {
        return pairs[pair].sunkBytes;
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
        // The source's frame carries no offload, so every driver can take it.
    }

    @Override
    public int maxQueuePairs() {
        return pairs.length;
    }

    @Override
    public void setActiveQueues(int queuePairs) {
        if (queuePairs < 1 || queuePairs > pairs.length) {
            throw new IllegalArgumentException("active queue pairs " + queuePairs + " outside 1.." + pairs.length);
        }
    }

    @Override
    public BackendQueue queue(int index) {
        return pairs[index];
    }

    @Override
    public void setReadinessListener(ReadinessListener listener) {
        // Never full and never newly readable: the source always has its frame or never has one.
    }

    @Override
    public void close() {
    }

    private static final class Pair implements BackendQueue {
        private final MemorySegment frame;
        private final int length;
        long sunkFrames;
        long sunkBytes;

        Pair(MemorySegment frame) {
            this.frame = frame;
            this.length = (int) frame.byteSize();
        }

        @Override
        public boolean write(SegmentList f) {
            sunkFrames++;
            sunkBytes += f.totalLength();
            return true;
        }

        @Override
        public int read(SegmentList buffers) {
            if (length != 0) {
                buffers.copyFrom(frame, 0, 0, length);
            }
            return length;
        }

        @Override
        public int peekLength() {
            return length;
        }
    }
}
