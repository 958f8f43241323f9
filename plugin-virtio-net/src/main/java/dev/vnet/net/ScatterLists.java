package dev.vnet.net;

import dev.vnet.spi.SegmentList;

/** Helpers over {@link SegmentList} that allocate nothing. */
final class ScatterLists {

    private ScatterLists() {
    }

    /**
     * Appends the bytes {@code [from, from + length)} of {@code src} to {@code out} as ranges of the same
     * memory (no copy).
     *
     * @return false when {@code out} is full
     */
    static boolean addSlice(SegmentList out, SegmentList src, long from, long length) {
        long skip = from;
        long left = length;
        for (int i = 0; i < src.count() && left > 0; i++) {
            long len = src.length(i);
            if (skip >= len) {
                skip -= len;
                continue;
            }
            long n = Math.min(len - skip, left);
            if (!out.add(src.segment(i), src.offset(i) + skip, n)) {
                return false;
            }
            left -= n;
            skip = 0;
        }
        return true;
    }

    /** Little-endian u16 at {@code position}, or -1 past the end. */
    static int le16(SegmentList list, long position) {
        int lo = list.byteAt(position);
        int hi = list.byteAt(position + 1);
        return lo < 0 || hi < 0 ? -1 : lo | (hi << 8);
    }
}
