package dev.vnet.net.hostile;

import dev.vnet.testkit.FakeGuestMemory;
import dev.vnet.virtio.GuestErrorListener;
import dev.vnet.virtio.QueueConfig;
import dev.vnet.virtio.Virtqueue;
import dev.vnet.virtio.VirtqueueException;
import java.util.ArrayList;
import java.util.List;

/**
 * A split ring at fixed guest addresses, written the way a hostile driver writes it: raw descriptors,
 * raw avail entries, no free list. Fuzz targets reuse the same addresses on every input, so guest RAM
 * never runs out however long a campaign runs (the testkit's {@code DriverQueue} allocates).
 */
final class RawRing {

    static final int F_NEXT = 1;
    static final int F_WRITE = 2;
    static final int F_INDIRECT = 4;

    /** A range the device may write (a device-writable descriptor). */
    record Range(long gpa, long length) {
        boolean contains(long address) {
            return Long.compareUnsigned(address - gpa, length) < 0;
        }
    }

    final FakeGuestMemory mem;
    final int size;
    final long desc;
    final long avail;
    final long used;
    private int availIdx;
    private final List<Range> writable = new ArrayList<>();
    /** Every descriptor entry written since {@link #clear} (ring table and indirect tables). */
    private final List<Range> entries = new ArrayList<>();

    /** Rings at {@code base}: descriptors, then avail (6 + 2n), then used at the next 4-byte boundary. */
    RawRing(FakeGuestMemory mem, long base, int size) {
        this.mem = mem;
        this.size = size;
        this.desc = base;
        this.avail = base + 16L * size;
        this.used = (avail + 6 + 2L * size + 3) & ~3L;
    }

    /** Bytes the three rings take from {@code base}. */
    static long footprint(int size) {
        return ((16L * size + 6 + 2L * size + 3) & ~3L) + 6 + 8L * size;
    }

    /** Zeroes the rings and forgets what was published. */
    void clear() {
        mem.fill(desc, used + 6 + 8L * size - desc, (byte) 0);
        availIdx = 0;
        writable.clear();
        entries.clear();
    }

    void descriptor(int i, long addr, long len, int flags, int next) {
        descriptorAt(desc, i, addr, len, flags, next);
    }

    /** A descriptor in any table (an indirect one); writable ones are remembered as allowed targets. */
    void descriptorAt(long table, int i, long addr, long len, int flags, int next) {
        long o = table + 16L * i;
        entries.add(new Range(o, 16));
        mem.u64(o, addr);
        mem.u32(o + 8, len);
        mem.u16(o + 12, flags);
        mem.u16(o + 14, next);
        if ((flags & F_WRITE) != 0 && (flags & F_INDIRECT) == 0) {
            writable.add(new Range(addr, len & 0xFFFF_FFFFL));
        }
    }

    /** Puts {@code head} in the next avail slot and publishes avail.idx. */
    void publish(int head) {
        mem.u16(avail + 4 + 2L * (availIdx & (size - 1)), head);
        availIdx = (availIdx + 1) & 0xFFFF;
        mem.u16(avail + 2, availIdx);
    }

    void rawAvailIdx(int idx) {
        availIdx = idx & 0xFFFF;
        mem.u16(avail + 2, availIdx);
    }

    int published() {
        return availIdx;
    }

    int usedIdx() {
        return mem.u16(used + 2);
    }

    int usedId(int slot) {
        return (int) mem.u32(used + 4 + 8L * (slot & (size - 1)));
    }

    long usedLen(int slot) {
        return mem.u32(used + 4 + 8L * (slot & (size - 1)) + 4);
    }

    /**
     * The writable length of the chain at {@code head} as the spec defines it, walked independently of
     * the device from what is in guest memory now (next pointers, one level of indirection), or -1 when
     * the chain is malformed (a loop, an index out of range, a table outside RAM). Chains can alias each
     * other's descriptors, so this, not what the test meant to build, bounds the device's used.len.
     */
    long referenceWritable(int head, boolean indirectAllowed) {
        long table = desc;
        int tableSize = size;
        boolean inIndirect = false;
        int i = head;
        long writableBytes = 0;
        for (int steps = 0; steps <= size; steps++) {
            if (i >= tableSize) {
                return -1;
            }
            long o = table + 16L * i;
            long addr = mem.u64(o);
            long len = mem.u32(o + 8);
            int flags = mem.u16(o + 12);
            int next = mem.u16(o + 14);
            if ((flags & F_INDIRECT) != 0) {
                if (!indirectAllowed || inIndirect || len == 0 || len % 16 != 0 || len / 16 > size
                        || !mem.memory().contains(addr, len)) {
                    return -1;
                }
                table = addr;
                tableSize = (int) (len / 16);
                inIndirect = true;
                i = 0;
                continue;
            }
            if ((flags & F_WRITE) != 0) {
                writableBytes += len;
            }
            if ((flags & F_NEXT) == 0) {
                return writableBytes;
            }
            i = next;
        }
        return -1;
    }

    /**
     * Whether a device-writable buffer overlaps a descriptor entry. The device may then legitimately
     * rewrite a chain (its ack byte lands in a descriptor) after it popped it, and a walk of the ring
     * afterwards no longer shows what the device saw.
     */
    boolean writableBuffersAliasDescriptors() {
        for (Range w : writable) {
            for (Range e : entries) {
                if (Long.compareUnsigned(w.gpa(), e.gpa() + e.length()) < 0
                        && Long.compareUnsigned(e.gpa(), w.gpa() + w.length()) < 0 && w.length() > 0) {
                    return true;
                }
            }
        }
        return false;
    }

    /** Every range a device-writable descriptor named since {@link #clear}. */
    List<Range> writableRanges() {
        return writable;
    }

    /** The used ring's bytes: flags, idx, ring, avail_event. */
    Range usedRing() {
        return new Range(used, 6 + 8L * size);
    }

    QueueConfig config() {
        return new QueueConfig(size, desc, avail, used);
    }

    Virtqueue open(int index, int maxSize, long features, GuestErrorListener errors) {
        try {
            return Virtqueue.open(index, config(), maxSize, mem.memory(), features, errors);
        } catch (VirtqueueException e) {
            throw new AssertionError("the fixed ring layout must open", e);
        }
    }
}
