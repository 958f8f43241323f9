package dev.vnet.spi;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * The ready-made {@link GuestMemory}: an immutable, sorted set of non-overlapping regions searched by
 * binary search. Thread-safe; a host that changes its memory map builds a new instance.
 */
public final class GuestMemoryMap implements GuestMemory {

    private final GuestRegion[] regions;

    public GuestMemoryMap(List<GuestRegion> regions) {
        List<GuestRegion> sorted = new ArrayList<>(regions);
        sorted.sort(Comparator.comparing(GuestRegion::gpa, Long::compareUnsigned));
        for (int i = 1; i < sorted.size(); i++) {
            if (Long.compareUnsigned(sorted.get(i).gpa(), sorted.get(i - 1).lastGpa()) <= 0) {
                throw new IllegalArgumentException("guest regions overlap at 0x" + Long.toHexString(sorted.get(i).gpa()));
            }
        }
        this.regions = sorted.toArray(GuestRegion[]::new);
    }

    public static GuestMemoryMap of(GuestRegion... regions) {
        return new GuestMemoryMap(List.of(regions));
    }

    public List<GuestRegion> regions() {
        return List.of(regions);
    }

    @Override
    public GuestRegion region(long gpa, long length, Access access) {
        if (length < 0 || (length > 0 && Long.compareUnsigned(gpa + length - 1, gpa) < 0)) {
            throw new GuestMemoryException(GuestMemoryException.Reason.OVERFLOW, gpa, length);
        }
        GuestRegion r = find(gpa);
        if (r == null) {
            throw new GuestMemoryException(GuestMemoryException.Reason.UNMAPPED, gpa, length);
        }
        if (!r.contains(gpa, length)) {
            throw new GuestMemoryException(GuestMemoryException.Reason.CROSSES_REGION, gpa, length);
        }
        if (access == Access.WRITE && r.readOnly()) {
            throw new GuestMemoryException(GuestMemoryException.Reason.READ_ONLY, gpa, length);
        }
        return r;
    }

    @Override
    public boolean contains(long gpa, long length) {
        GuestRegion r = find(gpa);
        return r != null && r.contains(gpa, length);
    }

    private GuestRegion find(long gpa) {
        int lo = 0;
        int hi = regions.length - 1;
        while (lo <= hi) {
            int mid = (lo + hi) >>> 1;
            GuestRegion r = regions[mid];
            if (Long.compareUnsigned(gpa, r.gpa()) < 0) {
                hi = mid - 1;
            } else if (Long.compareUnsigned(gpa, r.lastGpa()) > 0) {
                lo = mid + 1;
            } else {
                return r;
            }
        }
        return null;
    }
}
