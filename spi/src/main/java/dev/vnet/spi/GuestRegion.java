package dev.vnet.spi;

import java.lang.foreign.MemorySegment;
import java.util.Objects;

/**
 * One contiguous range of guest RAM backed by a native {@link MemorySegment} (never a heap segment:
 * the rings need aligned, atomic accesses). Created by the host once per region; immutable.
 *
 * @param gpa      guest-physical address of the first byte
 * @param segment  the host memory behind it; its size is the region's size
 * @param readOnly whether the device may only read it
 */
public record GuestRegion(long gpa, MemorySegment segment, boolean readOnly) {

    public GuestRegion {
        Objects.requireNonNull(segment, "segment");
        if (!segment.isNative()) {
            throw new IllegalArgumentException("guest RAM must be a native segment");
        }
        if (segment.byteSize() == 0 || Long.compareUnsigned(gpa + segment.byteSize() - 1, gpa) < 0) {
            throw new IllegalArgumentException("region is empty or wraps past 2^64");
        }
    }

    public long size() {
        return segment.byteSize();
    }

    /** Last guest-physical address inside the region (inclusive, so a region may end at 2^64-1). */
    public long lastGpa() {
        return gpa + segment.byteSize() - 1;
    }

    /** Whether {@code [gpa, gpa + length)} lies inside this region; false on overflow. */
    public boolean contains(long spanGpa, long length) {
        if (length < 0 || Long.compareUnsigned(spanGpa, gpa) < 0) {
            return false;
        }
        long offset = spanGpa - gpa;
        return Long.compareUnsigned(offset, size()) <= 0 && length <= size() - offset;
    }
}
