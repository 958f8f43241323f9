package dev.vnet.net.harness;

import dev.vnet.spi.BackendQueue;
import dev.vnet.spi.NetBackend;
import dev.vnet.spi.ReadinessListener;
import dev.vnet.spi.SegmentList;
import java.lang.foreign.MemorySegment;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;

/**
 * Test backends. {@link PlainBackend}: no vnet headers (like a raw socket), records what the device
 * sends and delivers injected frames, optionally hiding lengths as TAP does ({@code peekLength() = -1}).
 * {@link Restricted}: wraps a vnet backend and advertises fewer offloads.
 */
public final class PlainBackend extends RawSocketBackend {

    private final int pairs;
    private final boolean peekKnown;
    private final List<List<byte[]>> sent = new ArrayList<>();
    private final List<ArrayDeque<byte[]>> inbound = new ArrayList<>();
    private volatile ReadinessListener listener;
    private volatile int activePairs = 1;
    private volatile boolean full;

    public PlainBackend(int pairs, boolean peekKnown) {
        this.pairs = pairs;
        this.peekKnown = peekKnown;
        for (int i = 0; i < pairs; i++) {
            sent.add(new ArrayList<>());
            inbound.add(new ArrayDeque<>());
        }
    }

    /** Frames the device wrote on queue {@code q}. */
    public synchronized List<byte[]> sent(int q) {
        return List.copyOf(sent.get(q));
    }

    /** Makes a frame available on queue {@code q} and signals readable. */
    public void inject(int q, byte[] frame) {
        synchronized (this) {
            inbound.get(q).add(frame);
        }
        ReadinessListener l = listener;
        if (l != null) {
            l.readable(q);
        }
    }

    /** While full, writes are refused; clearing it signals writable. */
    public void setFull(boolean f) {
        full = f;
        if (!f && listener != null) {
            for (int q = 0; q < pairs; q++) {
                listener.writable(q);
            }
        }
    }

    public int activePairs() {
        return activePairs;
    }

    @Override
    public int maxQueuePairs() {
        return pairs;
    }

    @Override
    public void setActiveQueues(int n) {
        activePairs = n;
    }

    @Override
    public BackendQueue queue(int index) {
        return new BackendQueue() {
            @Override
            public boolean write(SegmentList frame) {
                if (full) {
                    return false;
                }
                byte[] b = bytes(frame);
                synchronized (PlainBackend.this) {
                    sent.get(index).add(b);
                }
                return true;
            }

            @Override
            public int read(SegmentList buffers) {
                byte[] f;
                synchronized (PlainBackend.this) {
                    f = inbound.get(index).poll();
                }
                if (f == null) {
                    return 0;
                }
                buffers.copyFrom(MemorySegment.ofArray(f), 0, 0, Math.min(f.length, buffers.totalLength()));
                return f.length;
            }

            @Override
            public int peekLength() {
                synchronized (PlainBackend.this) {
                    byte[] f = inbound.get(index).peek();
                    if (!peekKnown) {
                        return -1;
                    }
                    return f == null ? 0 : f.length;
                }
            }
        };
    }

    @Override
    public void setReadinessListener(ReadinessListener l) {
        listener = l;
    }

    @Override
    public void close() {
    }

    /** A vnet backend advertising only {@code offloads}. */
    public static final class Restricted implements NetBackend {
        private final NetBackend inner;
        private final int offloads;

        public Restricted(NetBackend inner, int offloads) {
            this.inner = inner;
            this.offloads = offloads;
        }

        @Override
        public boolean vnetHeader() {
            return true;
        }

        @Override
        public int supportedOffloads() {
            return offloads;
        }

        @Override
        public void setOffloads(int o) {
            inner.setOffloads(o);
        }

        @Override
        public int maxQueuePairs() {
            return inner.maxQueuePairs();
        }

        @Override
        public void setActiveQueues(int n) {
            inner.setActiveQueues(n);
        }

        @Override
        public BackendQueue queue(int index) {
            return inner.queue(index);
        }

        @Override
        public void setReadinessListener(ReadinessListener l) {
            inner.setReadinessListener(l);
        }

        @Override
        public void close() {
            inner.close();
        }
    }
}
