package dev.vnet.net.hostile;

import dev.vnet.net.harness.RawSocketBackend;
import dev.vnet.spi.BackendQueue;
import dev.vnet.spi.ReadinessListener;
import dev.vnet.spi.SegmentList;
import java.util.ArrayList;
import java.util.List;

/**
 * A backend without vnet headers (a raw socket) that keeps the frames written since the last
 * {@link #take} and never produces RX frames. Bounded: past {@value #LIMIT} frames it keeps counting but
 * stops storing, so a long fuzz campaign does not grow the heap.
 */
final class CapturingBackend extends RawSocketBackend {

    static final int LIMIT = 64;

    private final List<byte[]> frames = new ArrayList<>();
    private long written;

    synchronized List<byte[]> take() {
        List<byte[]> out = List.copyOf(frames);
        frames.clear();
        return out;
    }

    synchronized long written() {
        return written;
    }

    @Override
    public int maxQueuePairs() {
        return 1;
    }

    @Override
    public void setActiveQueues(int pairs) {
    }

    @Override
    public BackendQueue queue(int index) {
        return new BackendQueue() {
            @Override
            public boolean write(SegmentList frame) {
                byte[] b = bytes(frame);
                synchronized (CapturingBackend.this) {
                    written++;
                    if (frames.size() < LIMIT) {
                        frames.add(b);
                    }
                }
                return true;
            }

            @Override
            public int read(SegmentList buffers) {
                return 0;
            }

            @Override
            public int peekLength() {
                return 0;
            }
        };
    }

    @Override
    public void setReadinessListener(ReadinessListener listener) {
    }

    @Override
    public void close() {
    }
}
