package dev.vnet.virtio;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.vnet.spi.GuestMemoryMap;
import dev.vnet.spi.GuestRegion;
import dev.vnet.spi.SegmentList;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;

/**
 * Fuzzes the split-ring engine with rings a hostile driver composes: queue size, features, avail index,
 * avail entries, every descriptor field and an indirect table come from the fuzzer; addresses land in
 * RAM, across the boundary between two regions, on the rings themselves, or anywhere in 64 bits.
 *
 * <p>Invariants on every input: nothing is thrown; pops are bounded by the queue size; the device
 * writes only into device-writable descriptors inside guest RAM and into the used ring; used.len never
 * exceeds the chain's writable length; a broken queue reports exactly once.
 *
 * <p>Without {@code JAZZER_FUZZ=1} it replays the stored inputs as regression tests; {@code bin/fuzz}
 * runs it for a bounded time.
 */
class SplitQueueFuzzTest {

    private static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private static final long RAM_BASE = 0x1000;
    private static final int RAM_SIZE = 0x4000;
    private static final int RAM2_SIZE = 0x1000;
    private static final int TOTAL = RAM_SIZE + RAM2_SIZE;
    private static final long DESC = RAM_BASE;            // up to 64 * 16 bytes
    private static final long AVAIL = RAM_BASE + 0x400;   // up to 6 + 2 * 64
    private static final long USED = RAM_BASE + 0x600;    // up to 6 + 8 * 64
    private static final long INDIRECT = RAM_BASE + 0x900;
    private static final long BUFFERS = RAM_BASE + 0x1000;

    private static final Arena ARENA = Arena.ofShared();
    private static final MemorySegment RAM = ARENA.allocate(RAM_SIZE, 4096);
    private static final MemorySegment RAM2 = ARENA.allocate(RAM2_SIZE, 4096);
    private static final GuestMemoryMap MEMORY = GuestMemoryMap.of(new GuestRegion(RAM_BASE, RAM, false),
            new GuestRegion(RAM_BASE + RAM_SIZE, RAM2, false));
    private static final MemorySegment PATTERN = ARENA.allocate(8192);

    static {
        PATTERN.fill((byte) 0xA5);
    }

    @FuzzTest(maxDuration = "30s")
    void hostileRingsNeverEscapeTheirBuffers(FuzzedDataProvider data) {
        RAM.fill((byte) 0);
        RAM2.fill((byte) 0);
        int size = 1 << data.consumeInt(0, 6);
        long features = 0;
        if (data.consumeBoolean()) {
            features |= VirtioFeatures.bit(VirtioFeatures.VIRTIO_F_INDIRECT_DESC);
        }
        if (data.consumeBoolean()) {
            features |= VirtioFeatures.bit(VirtioFeatures.VIRTIO_F_EVENT_IDX);
        }
        int availIdx = data.consumeBoolean() ? data.consumeInt(0, size + 1) : data.consumeInt(0, 0xFFFF);
        RAM.set(U16, AVAIL - RAM_BASE + 2, (short) availIdx);
        RAM.set(U16, AVAIL - RAM_BASE, (short) data.consumeInt(0, 1));
        RAM.set(U16, AVAIL - RAM_BASE + 4 + 2L * size, (short) data.consumeInt(0, 0xFFFF));
        for (int i = 0; i < size; i++) {
            RAM.set(U16, AVAIL - RAM_BASE + 4 + 2L * i, (short) data.consumeInt(0, size));
        }
        for (int i = 0; i < size; i++) {
            writeDescriptor(RAM, DESC - RAM_BASE + 16L * i, data, size);
        }
        int indirectEntries = data.consumeInt(0, 32);
        for (int i = 0; i < indirectEntries; i++) {
            writeDescriptor(RAM, INDIRECT - RAM_BASE + 16L * i, data, indirectEntries);
        }
        byte[] before = snapshot();

        List<String> errors = new ArrayList<>();
        Virtqueue q;
        try {
            q = Virtqueue.open(0, new QueueConfig(size, DESC, AVAIL, USED), 64, MEMORY, features, errors::add);
        } catch (VirtqueueException e) {
            throw new AssertionError("the fixed layout must open", e);
        }
        DescriptorChain chain = q.newChain();
        SegmentList writable = new SegmentList(size);
        BitSet allowed = new BitSet(TOTAL);
        allowed.set((int) (USED - RAM_BASE), (int) (USED - RAM_BASE + 6 + 8L * size));

        int pops = 0;
        while (q.pop(chain)) {
            pops++;
            check(pops <= size, "more pops than the queue size");
            check(chain.descriptorCount() <= size, "chain longer than the queue");
            writable.clear();
            check(chain.writableRanges(writable, 0), "writable ranges exceed the queue size");
            for (int i = 0; i < writable.count(); i++) {
                long start = offsetInImage(writable.segment(i), writable.offset(i));
                allowed.set((int) start, (int) (start + writable.length(i)));
            }
            long written = chain.write(data.consumeInt(0, 64), PATTERN, 0, data.consumeInt(0, 8192));
            check(written <= chain.writableLength(), "wrote more than the writable length");
            q.addUsed(chain, data.consumeLong(-1, 1L << 33));
            q.flushUsed();
            long usedLen = Integer.toUnsignedLong(RAM.get(U32, USED - RAM_BASE + 4 + 8L * ((pops - 1) & (size - 1)) + 4));
            check(q.isBroken() || usedLen <= chain.writableLength(), "used.len above the buffer");
            q.needsNotification();
            if (data.consumeBoolean()) {
                q.enableNotifications();
            }
        }
        q.disableNotifications();
        q.enableNotifications();

        byte[] after = snapshot();
        for (int i = 0; i < TOTAL; i++) {
            check(before[i] == after[i] || allowed.get(i),
                    "device wrote guest byte 0x" + Long.toHexString(RAM_BASE + i) + " outside writable buffers");
        }
        check(!q.isBroken() || errors.size() == 1, "a broken queue reports exactly once");
    }

    private static void writeDescriptor(MemorySegment ram, long at, FuzzedDataProvider data, int tableSize) {
        long addr = switch (data.consumeInt(0, 4)) {
            case 0 -> BUFFERS + data.consumeInt(0, 0x3000);
            case 1 -> RAM_BASE + RAM_SIZE - data.consumeInt(0, 64);      // near the region boundary
            case 2 -> INDIRECT + 16L * data.consumeInt(0, 4);
            case 3 -> RAM_BASE + data.consumeInt(0, 0x1000);               // on the rings themselves
            default -> data.consumeLong();
        };
        int len = data.consumeBoolean() ? data.consumeInt(0, 0x1100) : data.consumeInt();
        ram.set(U64, at, addr);
        ram.set(U32, at + 8, len);
        ram.set(U16, at + 12, (short) data.consumeInt(0, 7));
        ram.set(U16, at + 14, (short) data.consumeInt(0, tableSize + 1));
    }

    private static long offsetInImage(MemorySegment segment, long offset) {
        return segment.address() == RAM.address() ? offset : RAM_SIZE + offset;
    }

    private static byte[] snapshot() {
        byte[] out = new byte[TOTAL];
        MemorySegment.copy(RAM, ValueLayout.JAVA_BYTE, 0, out, 0, RAM_SIZE);
        MemorySegment.copy(RAM2, ValueLayout.JAVA_BYTE, 0, out, RAM_SIZE, RAM2_SIZE);
        return out;
    }

    private static void check(boolean ok, String invariant) {
        if (!ok) {
            throw new AssertionError(invariant);
        }
    }
}
