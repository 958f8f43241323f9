package dev.vnet.testkit.pci;

import dev.vnet.spi.MmioBus;
import dev.vnet.spi.MmioHandler;
import java.util.ArrayList;
import java.util.List;

/**
 * A host memory bus for tests: records every mapping a function makes and dispatches guest-physical
 * reads and writes to the handler mapped there. Refuses overlapping ranges with
 * {@link IllegalArgumentException}, as {@link MmioBus#map} allows. An access to an unmapped address
 * throws {@link IllegalStateException}: in a test that is a bug worth seeing. Thread-safe.
 */
public final class FakeMmioBus implements MmioBus, MmioAccess {

    /** One live mapping. */
    public record Region(long base, long size, MmioHandler handler) {
        boolean contains(long address) {
            return address >= base && address - base < size;
        }
    }

    private final List<Region> live = new ArrayList<>();
    private final List<String> events = new ArrayList<>();

    @Override
    public synchronized Mapping map(long base, long size, MmioHandler handler) {
        for (Region r : live) {
            if (base < r.base() + r.size() && r.base() < base + size) {
                throw new IllegalArgumentException(String.format("0x%x+0x%x overlaps 0x%x+0x%x", base, size,
                        r.base(), r.size()));
            }
        }
        Region region = new Region(base, size, handler);
        live.add(region);
        events.add(String.format("map 0x%x+0x%x", base, size));
        return new Mapping() {
            private boolean closed;

            @Override
            public void close() {
                synchronized (FakeMmioBus.this) {
                    if (!closed) {
                        closed = true;
                        live.remove(region);
                        events.add(String.format("unmap 0x%x", base));
                    }
                }
            }
        };
    }

    /** The live mappings, oldest first. */
    public synchronized List<Region> mappings() {
        return List.copyOf(live);
    }

    /** "map 0x..+0x.." and "unmap 0x.." in order. */
    public synchronized List<String> events() {
        return List.copyOf(events);
    }

    public synchronized boolean isMapped(long address) {
        return find(address) != null;
    }

    @Override
    public long read(long address, int size) {
        Region r = region(address);
        return r.handler().read(address - r.base(), size);
    }

    @Override
    public void write(long address, int size, long value) {
        Region r = region(address);
        r.handler().write(address - r.base(), size, value);
    }

    private synchronized Region region(long address) {
        Region r = find(address);
        if (r == null) {
            throw new IllegalStateException("no MMIO mapping at 0x" + Long.toHexString(address));
        }
        return r;
    }

    private Region find(long address) {
        for (Region r : live) {
            if (r.contains(address)) {
                return r;
            }
        }
        return null;
    }
}
