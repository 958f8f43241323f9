package dev.vnet.net.hostile;

import dev.vnet.testkit.FakeGuestMemory;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.BitSet;
import java.util.Collection;
import java.util.List;

/**
 * Catches a device writing guest RAM it was not given: snapshot a window, let the device run, then every
 * changed byte must lie in a used ring or a device-writable descriptor's range.
 */
final class WriteGuard {

    private final FakeGuestMemory mem;
    private final long base;
    private final int length;
    private byte[] before;

    WriteGuard(FakeGuestMemory mem, long base, int length) {
        this.mem = mem;
        this.base = base;
        this.length = length;
    }

    void snapshot() {
        before = mem.read(base, length);
    }

    /** Throws when a byte outside {@code allowed} changed since {@link #snapshot}. */
    void check(Collection<RawRing.Range> allowed) {
        List<long[]> stray = changes(allowed);
        if (!stray.isEmpty()) {
            throw new AssertionError("device wrote guest byte 0x" + Long.toHexString(stray.getFirst()[0])
                    + " outside the used rings and device-writable buffers");
        }
    }

    /** Every byte outside {@code except} that changed since {@link #snapshot}, as {gpa, new value}. */
    List<long[]> changes(Collection<RawRing.Range> except) {
        byte[] after = mem.read(base, length);
        BitSet skip = new BitSet(length);
        for (RawRing.Range r : except) {
            long from = Math.max(r.gpa(), base);
            long to = Math.min(r.gpa() + r.length(), base + length);
            if (r.length() > 0 && to > from && r.gpa() + r.length() > r.gpa()) {
                skip.set((int) (from - base), (int) (to - base));
            }
        }
        List<long[]> changed = new ArrayList<>();
        int i = 0;
        while (i < length) {
            int d = Arrays.mismatch(before, i, length, after, i, length);
            if (d < 0) {
                break;
            }
            i += d;
            if (!skip.get(i)) {
                changed.add(new long[] {base + i, after[i] & 0xFF});
            }
            i++;
        }
        return changed;
    }
}
