package dev.vnet.bench;

import dev.vnet.spi.BackendQueue;
import dev.vnet.spi.NetBackend;
import dev.vnet.spi.Offloads;
import dev.vnet.spi.ReadinessListener;
import dev.vnet.spi.SegmentList;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * A backend that costs (almost) nothing, so that the device is what gets measured: TX is a sink that
 * accepts every frame (reading one byte of it, so the gather is real), RX is a source that always has
 * the same frame ready and copies it into the guest buffers (the copy a real backend's read does).
 */
public final class NullBackend implements NetBackend {

    private final Queue[] queues;

    /** @param rxFrame vnet header + frame that every RX read delivers, or null for a source that stays idle */
    public NullBackend(int pairs, byte[] rxFrame) {
        queues = new Queue[pairs];
        MemorySegment frame = rxFrame == null ? MemorySegment.NULL : Arena.ofAuto().allocate(rxFrame.length, 64);
        if (rxFrame != null) {
            MemorySegment.copy(rxFrame, 0, frame, ValueLayout.JAVA_BYTE, 0, rxFrame.length);
        }
        for (int i = 0; i < pairs; i++) {
            queues[i] = new Queue(frame);
        }
    }

    /** Frames the sink took on pair {@code i}. */
    public long sunk(int i) {
        return queues[i].sunk;
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
    }

    @Override
    public int maxQueuePairs() {
        return queues.length;
    }

    @Override
    public void setActiveQueues(int pairs) {
    }

    @Override
    public BackendQueue queue(int index) {
        return queues[index];
    }

    @Override
    public void setReadinessListener(ReadinessListener listener) {
    }

    @Override
    public void close() {
    }

    private static final class Queue implements BackendQueue {
        private final MemorySegment frame;
        private final int length;
        long sunk;
        long checksum;

        Queue(MemorySegment frame) {
            this.frame = frame;
            this.length = (int) frame.byteSize();
        }

        @Override
        public boolean write(SegmentList f) {
            sunk++;
            checksum += f.totalLength() + f.segment(0).get(ValueLayout.JAVA_BYTE, f.offset(0) + HDR_LAST);
            return true;
        }

        @Override
        public int read(SegmentList buffers) {
            if (length == 0) {
                return 0;
            }
            buffers.copyFrom(frame, 0, 0, length);
            return length;
        }

        @Override
        public int peekLength() {
            return length;
        }

        private static final long HDR_LAST = 11;
    }
}
