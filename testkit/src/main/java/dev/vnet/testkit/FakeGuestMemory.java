package dev.vnet.testkit;

import dev.vnet.spi.GuestMemoryMap;
import dev.vnet.spi.GuestRegion;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

/**
 * Guest RAM for tests: native regions from one shared {@link Arena} (so device worker threads can touch
 * them), at chosen guest-physical addresses, with a bump allocator the driver model uses for rings and
 * buffers. {@link #close()} frees everything, after which any access fails as a vanished region would.
 */
public final class FakeGuestMemory implements AutoCloseable {

    private static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final Arena arena = Arena.ofShared();
    private final List<GuestRegion> regions = new ArrayList<>();
    private final GuestMemoryMap map;
    private long next;

    /** One region of {@code size} bytes at guest address {@code base}; allocation starts at {@code base}. */
    public FakeGuestMemory(long base, long size) {
        this(new long[] {base, size});
    }

    /** Several regions given as {base, size} pairs; allocation starts in the first. */
    public FakeGuestMemory(long[]... baseAndSize) {
        for (long[] r : baseAndSize) {
            regions.add(new GuestRegion(r[0], arena.allocate(r[1], 4096), false));
        }
        map = new GuestMemoryMap(regions);
        next = baseAndSize[0][0];
    }

    /**
     * One region at {@code base} over memory the caller owns (for example a shared {@code memfd} mapping
     * that a vhost-user back-end maps too); {@link #close()} leaves it alone.
     */
    public FakeGuestMemory(long base, MemorySegment backing) {
        regions.add(new GuestRegion(base, backing, false));
        map = new GuestMemoryMap(regions);
        next = base;
    }

    /** A 16 MiB guest at 1 MiB: enough for rings and a few hundred 64 KiB buffers. */
    public static FakeGuestMemory standard() {
        return new FakeGuestMemory(0x10_0000L, 16L << 20);
    }

    public GuestMemoryMap memory() {
        return map;
    }

    public List<GuestRegion> regions() {
        return List.copyOf(regions);
    }

    /** Allocates {@code size} zeroed bytes aligned to {@code align} from the first region. */
    public synchronized long alloc(long size, long align) {
        long gpa = (next + align - 1) & -align;
        GuestRegion first = regions.getFirst();
        if (!first.contains(gpa, size)) {
            throw new IllegalStateException("fake guest memory exhausted");
        }
        next = gpa + size;
        segment(gpa, size).fill((byte) 0);
        return gpa;
    }

    /** A view of {@code [gpa, gpa + size)}, which must lie in one region. */
    public MemorySegment segment(long gpa, long size) {
        for (GuestRegion r : regions) {
            if (r.contains(gpa, size)) {
                return r.segment().asSlice(gpa - r.gpa(), size);
            }
        }
        throw new IllegalArgumentException("not guest RAM: 0x" + Long.toHexString(gpa) + "+" + size);
    }

    public void write(long gpa, byte[] data) {
        MemorySegment.copy(data, 0, segment(gpa, data.length), ValueLayout.JAVA_BYTE, 0, data.length);
    }

    public byte[] read(long gpa, int length) {
        return segment(gpa, length).toArray(ValueLayout.JAVA_BYTE);
    }

    public void fill(long gpa, long length, byte value) {
        segment(gpa, length).fill(value);
    }

    public int u16(long gpa) {
        return Short.toUnsignedInt(segment(gpa, 2).get(U16, 0));
    }

    public void u16(long gpa, int value) {
        segment(gpa, 2).set(U16, 0, (short) value);
    }

    public long u32(long gpa) {
        return Integer.toUnsignedLong(segment(gpa, 4).get(U32, 0));
    }

    public void u32(long gpa, long value) {
        segment(gpa, 4).set(U32, 0, (int) value);
    }

    public long u64(long gpa) {
        return segment(gpa, 8).get(U64, 0);
    }

    public void u64(long gpa, long value) {
        segment(gpa, 8).set(U64, 0, value);
    }

    @Override
    public void close() {
        arena.close();
    }
}
