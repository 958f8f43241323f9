package dev.vnet.host;

import dev.vnet.spi.MmioBus;
import dev.vnet.spi.MmioHandler;
import java.util.Map;
import java.util.concurrent.ConcurrentSkipListMap;

/**
 * The reference host's physical address space for MMIO: non-overlapping ranges routed to handlers, as a
 * VMM's memory bus routes a vCPU's MMIO exit. Thread-safe: mappings change on config writes while other
 * vCPUs dispatch.
 */
public final class AddressSpace implements MmioBus {

    private record Range(long base, long size, MmioHandler handler) {
        boolean contains(long address) {
            return Long.compareUnsigned(address - base, size) < 0;
        }
    }

    private final ConcurrentSkipListMap<Long, Range> ranges = new ConcurrentSkipListMap<>(Long::compareUnsigned);

    @Override
    public synchronized Mapping map(long base, long size, MmioHandler handler) {
        if (size <= 0 || Long.compareUnsigned(base + size - 1, base) < 0) {
            throw new IllegalArgumentException("bad MMIO range 0x" + Long.toHexString(base) + "+" + size);
        }
        Map.Entry<Long, Range> below = ranges.floorEntry(base + size - 1);
        if (below != null && Long.compareUnsigned(below.getValue().base() + below.getValue().size() - 1, base) >= 0) {
            throw new IllegalArgumentException(String.format("MMIO range 0x%x+0x%x overlaps 0x%x+0x%x", base, size,
                    below.getValue().base(), below.getValue().size()));
        }
        Range range = new Range(base, size, handler);
        ranges.put(base, range);
        return () -> ranges.remove(base, range);
    }

    /** A vCPU's MMIO read; unmapped addresses read as all-ones, as on a PC. */
    public long read(long address, int size) {
        Range r = find(address);
        return r == null ? -1L >>> (64 - 8 * size) : r.handler().read(address - r.base(), size);
    }

    /** A vCPU's MMIO write; writes to unmapped addresses are dropped. */
    public void write(long address, int size, long value) {
        Range r = find(address);
        if (r != null) {
            r.handler().write(address - r.base(), size, value);
        }
    }

    /** Whether anything is mapped at {@code address}. */
    public boolean isMapped(long address) {
        return find(address) != null;
    }

    private Range find(long address) {
        Map.Entry<Long, Range> e = ranges.floorEntry(address);
        return e != null && e.getValue().contains(address) ? e.getValue() : null;
    }
}
