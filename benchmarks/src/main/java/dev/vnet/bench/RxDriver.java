package dev.vnet.bench;

import dev.vnet.testkit.DriverQueue;
import dev.vnet.testkit.FakeGuestMemory;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.function.IntConsumer;

/**
 * A lean guest RX driver for one queue with MRG_RXBUF: descriptor {@code i} permanently points at a
 * device-writable buffer {@code i} of {@code bufferLength} bytes (Linux sizes mergeable buffers from
 * 1536 up to a page by the average packet: 1536 B for small frames, 4 KiB for 64 KiB frames). Receiving
 * a packet is reading the used ring, reading {@code num_buffers} from the header and taking back every
 * buffer of the packet. Refill follows Linux's NAPI receive ({@code virtnet_receive}): a poll takes up
 * to {@code budget} packets (the NAPI weight, 64) or until the used ring is empty, and at its end, if
 * more than {@code min(budget, ring size) / 2} buffers are free, all of them go back in one refill with
 * one avail.idx publish and a kick only when the device asked for one (EVENT_IDX {@code avail_event}).
 * The payload is not touched (a guest would build an skb around the page), but the header's
 * {@code gso_type} is counted, so that a run can show whether frames came as GSO super-frames
 * ({@link #summary}). No allocation after construction. Interrupts stay off while packets come (NAPI
 * polling); an empty used ring is waited for as an idle guest does ({@link Idle}: poll, then halt until
 * the interrupt).
 */
public final class RxDriver {

    private static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort U16_UNALIGNED =
            ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final int n;
    private final int bufferLength;
    private final Idle idle;
    private final MemorySegment avail;
    private final MemorySegment used;
    private final MemorySegment buffers;
    private final IntConsumer kick;
    private final int budget;
    /** Free buffers above which a poll's end refills (Linux: {@code min(budget, ring) / 2}). */
    private final int refillAbove;
    private int availShadow;
    /** Buffers taken back but not yet published (Linux's {@code num_free}; their avail slots are written). */
    private int added;
    /** Packets received in the current NAPI poll. */
    private int polled;
    private int lastUsed;
    private int usedIdx;
    private long kicks;
    private long bytes;
    private long packets;
    private long gsoPackets;

    /** @param budget packets per NAPI poll (Linux's NAPI weight, 64) */
    public RxDriver(FakeGuestMemory mem, DriverQueue q, int bufferLength, int budget, IntConsumer kick) {
        this.n = q.size();
        this.bufferLength = bufferLength;
        this.avail = mem.segment(q.availAddr(), 6L + 2L * n);
        this.used = mem.segment(q.usedAddr(), 6L + 8L * n);
        this.kick = kick;
        this.budget = budget;
        this.refillAbove = Math.min(budget, n) / 2;
        this.idle = new Idle(avail, used, n);
        long base = mem.alloc((long) n * bufferLength, 4096);
        this.buffers = mem.segment(base, (long) n * bufferLength);
        for (int i = 0; i < n; i++) {
            q.writeRawDescriptor(i, base + (long) i * bufferLength, bufferLength, DriverQueue.F_WRITE, 0);
            post(i);
        }
        publish();
    }

    private void post(int id) {
        avail.set(U16, 4 + 2L * (availShadow & (n - 1)), (short) id);
        availShadow = (availShadow + 1) & 0xFFFF;
        added++;
    }

    /** Receives one packet (all its buffers), taking them back; spins while none is there. */
    public void receive() {
        int id = next();
        long header = (long) id * bufferLength;
        int buffers = Short.toUnsignedInt(this.buffers.get(U16_UNALIGNED, header + 10));
        packets++;
        if (this.buffers.get(ValueLayout.JAVA_BYTE, header + 1) != 0) { // gso_type != VIRTIO_NET_HDR_GSO_NONE
            gsoPackets++;
        }
        post(id);
        for (int k = 1; k < buffers; k++) {
            post(next());
        }
        if (++polled == budget) {
            endPoll();
        }
    }

    private int next() {
        if (lastUsed == usedIdx) {
            usedIdx = idle.usedIdx();
            if (lastUsed == usedIdx) {
                endPoll(); // the used ring is empty: this poll is over
                usedIdx = idle.awaitUsed(lastUsed);
            }
        }
        long elem = 4 + 8L * (lastUsed & (n - 1));
        int id = used.get(U32, elem);
        bytes += used.get(U32, elem + 4);
        lastUsed = (lastUsed + 1) & 0xFFFF;
        return id;
    }

    /** End of a NAPI poll: refill (publish every free buffer) when more than half a budget is free. */
    private void endPoll() {
        polled = 0;
        if (added > refillAbove) {
            publish();
        }
    }

    private void publish() {
        int published = added;
        added = 0;
        if (AvailPublish.needsKick(avail, used, n, availShadow, published)) {
            kicks++;
            kick.accept(0);
        }
    }

    /** The device's used-buffer interrupt for this queue. */
    public void interrupt() {
        idle.interrupt();
    }

    public long kicks() {
        return kicks;
    }

    /** Used bytes (headers included) received so far. */
    public long bytes() {
        return bytes;
    }

    /** Packets received so far. */
    public long packets() {
        return packets;
    }

    /** Packets received so far whose vnet header had a {@code gso_type} other than NONE. */
    public long gsoPackets() {
        return gsoPackets;
    }

    /** Restarts {@link #bytes}, {@link #packets} and {@link #gsoPackets} from zero (e.g. after warm-up). */
    public void resetCounts() {
        bytes = 0;
        packets = 0;
        gsoPackets = 0;
        idle.resetHalts();
    }

    /** {@code avg_frame=B gso_frames=N frames=N}: the average frame length without the vnet header. */
    public String summary() {
        long avg = packets == 0 ? 0 : Math.round((double) bytes / packets) - BenchFrames.HDR;
        return "avg_frame=" + avg + " gso_frames=" + gsoPackets + " frames=" + packets + " halts=" + idle.halts();
    }
}
