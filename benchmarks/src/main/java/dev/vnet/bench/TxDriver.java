package dev.vnet.bench;

import dev.vnet.testkit.DriverQueue;
import dev.vnet.testkit.FakeGuestMemory;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;
import java.util.function.IntConsumer;

/**
 * A lean guest TX driver for one queue, cheap enough not to be the bottleneck: descriptor {@code i}
 * permanently points at buffer {@code i}, which holds the vnet header and the frame in one
 * device-readable descriptor (Linux's {@code any_header_sg} layout); sending a packet is taking a free
 * id, writing one avail slot and, once per {@link #batch} packets (Linux {@code xmit_more}), publishing
 * avail.idx with a release store and kicking only if the device asked for it (EVENT_IDX
 * {@code avail_event}). Used buffers are reclaimed at publish time or when the ring is full, like
 * {@code free_old_xmit_skbs}. No allocation after construction. Interrupts stay off: the driver polls,
 * as NAPI does under load (it never moves {@code used_event}).
 */
public final class TxDriver {

    private static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final VarHandle U16_HANDLE = U16.varHandle();

    private final int n;
    private final MemorySegment avail;
    private final MemorySegment used;
    private final IntConsumer kick;
    private final int batch;
    private final int[] free;
    private int freeHead;
    private int freeCount;
    private int availShadow;
    private int added;
    private int lastUsed;
    private long kicks;
    private long completed;

    /** @param kick what a notify-area write does (the transport calls {@code queueNotify}) */
    public TxDriver(FakeGuestMemory mem, DriverQueue q, byte[] frame, int batch, IntConsumer kick) {
        this.n = q.size();
        this.avail = mem.segment(q.availAddr(), 6L + 2L * n);
        this.used = mem.segment(q.usedAddr(), 6L + 8L * n);
        this.kick = kick;
        this.batch = batch;
        this.free = new int[n];
        long base = mem.alloc((long) n * align(frame.length), 4096);
        for (int i = 0; i < n; i++) {
            long gpa = base + (long) i * align(frame.length);
            mem.write(gpa, frame);
            q.writeRawDescriptor(i, gpa, frame.length, 0, 0);
            free[i] = i;
        }
        freeCount = n;
    }

    private static long align(int len) {
        return (len + 63) & ~63L;
    }

    /** Queues one packet; spins (publishing and reclaiming) while the ring is full. */
    public void send() {
        if (freeCount == 0) {
            publish();
            reclaim();
            int spins = 0;
            while (freeCount == 0) {
                Waits.pause(++spins);
                reclaim();
            }
        }
        int id = free[freeHead];
        freeHead = (freeHead + 1) & (n - 1);
        freeCount--;
        avail.set(U16, 4 + 2L * (availShadow & (n - 1)), (short) id);
        availShadow = (availShadow + 1) & 0xFFFF;
        if (++added >= batch) {
            publish();
            reclaim();
        }
    }

    /** Publishes avail.idx and kicks when {@code vring_need_event(avail_event, new, old)}. */
    public void publish() {
        if (added == 0) {
            return;
        }
        int published = added;
        added = 0;
        if (AvailPublish.needsKick(avail, used, n, availShadow, published)) {
            kicks++;
            kick.accept(0);
        }
    }

    private void reclaim() {
        int usedIdx = Short.toUnsignedInt((short) U16_HANDLE.getAcquire(used, 2L));
        while (lastUsed != usedIdx) {
            int id = used.get(U32, 4 + 8L * (lastUsed & (n - 1)));
            free[(freeHead + freeCount) & (n - 1)] = id;
            freeCount++;
            lastUsed = (lastUsed + 1) & 0xFFFF;
            completed++;
        }
    }

    public long kicks() {
        return kicks;
    }

    public long completed() {
        return completed;
    }
}
