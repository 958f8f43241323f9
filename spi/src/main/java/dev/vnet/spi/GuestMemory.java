package dev.vnet.spi;

import java.lang.foreign.MemorySegment;

/**
 * Guest RAM as the device sees it: the consumer side only, as rust-vmm's {@code vm-memory} draws it.
 *
 * <p>Implemented by the host (or use {@link GuestMemoryMap}). Called from device worker threads and,
 * during register writes that validate rings, from the vCPU thread; implementations must be safe for
 * concurrent readers. Every method checks bounds: a span that overflows, leaves RAM or crosses from one
 * region into another is refused with a {@link GuestMemoryException}, never clamped.
 */
public interface GuestMemory {

    /**
     * The region holding the whole span {@code [gpa, gpa + length)}. The hot path keeps the region and
     * an offset instead of slicing, so that resolving a descriptor allocates nothing.
     *
     * @throws GuestMemoryException when the span is not inside one region or the access is not allowed
     */
    GuestRegion region(long gpa, long length, Access access);

    /** A bounds-checked view of {@code [gpa, gpa + length)}; allocates a slice, so not for per-packet use. */
    default MemorySegment slice(long gpa, long length, Access access) {
        GuestRegion r = region(gpa, length, access);
        return r.segment().asSlice(gpa - r.gpa(), length);
    }

    /** Whether the whole span lies inside one region. Never throws. */
    boolean contains(long gpa, long length);
}
