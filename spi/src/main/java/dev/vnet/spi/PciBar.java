package dev.vnet.spi;

/**
 * A base address register a {@link PciFunction} implements, as the host's BAR allocator sees it.
 *
 * @param index        BAR number 0..5 (a 64-bit BAR uses {@code index} and {@code index + 1})
 * @param size         size in bytes, a power of two
 * @param kind         address space and width
 * @param prefetchable whether the memory BAR is prefetchable
 */
public record PciBar(int index, long size, Kind kind, boolean prefetchable) {

    public enum Kind {
        MEMORY32,
        MEMORY64,
        IO
    }

    public PciBar {
        if (index < 0 || index > 5 || (kind == Kind.MEMORY64 && index > 4)) {
            throw new IllegalArgumentException("BAR index " + index + " out of range for " + kind);
        }
        if (size <= 0 || Long.bitCount(size) != 1) {
            throw new IllegalArgumentException("BAR size must be a power of two, got " + size);
        }
    }
}
