package dev.vnet.spi;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Objects;

/**
 * A reusable scatter-gather list: ranges {@code (segment, offset, length)} that together hold one
 * frame, in order. Devices fill it with ranges of guest RAM resolved from a descriptor chain and hand it
 * to a {@link BackendQueue}; a TAP backend turns it into an {@code iovec} array for one
 * {@code writev}/{@code readv}. Adding a range stores three fields and allocates nothing.
 *
 * <p>Not thread-safe: one list belongs to one worker thread.
 */
public final class SegmentList {

    /**
     * Copies of up to this many bytes between native segments are split so that the JDK copies them
     * inline: its copy stub's call (from 64 bytes on) costs more than a small frame's bytes, and a 64-byte
     * frame with its virtio-net header is 76.
     */
    static final int SMALL_COPY = 128;
    /**
     * The JDK copies fewer bytes than this inline ({@code SegmentBulkOperations}, the default of
     * {@code java.lang.foreign.native.threshold.power.copy}); a larger copy calls its stub.
     */
    private static final int JDK_INLINE_COPY = 64;
    /** The largest whole number of 8-byte words under {@link #JDK_INLINE_COPY}. */
    private static final int INLINE_PIECE = JDK_INLINE_COPY - Long.BYTES;

    private final MemorySegment[] segments;
    private final long[] offsets;
    private final long[] lengths;
    private int count;
    private long totalLength;

    /** @param capacity the most ranges the list holds (a virtqueue's size is the natural bound) */
    public SegmentList(int capacity) {
        segments = new MemorySegment[capacity];
        offsets = new long[capacity];
        lengths = new long[capacity];
    }

    /** Empties the list (references are kept until overwritten; they point at guest RAM only). */
    public void clear() {
        count = 0;
        totalLength = 0;
    }

    /**
     * Appends {@code [offset, offset + length)} of {@code segment}. Zero-length ranges are dropped.
     *
     * @return false, leaving the list unchanged, when it is full or the range is outside the segment
     */
    public boolean add(MemorySegment segment, long offset, long length) {
        if (length == 0) {
            return true;
        }
        if (count == segments.length || length < 0 || offset < 0 || offset > segment.byteSize() - length) {
            return false;
        }
        if (segments[count] != segment) {
            segments[count] = segment; // usually the same region segment again: skip the GC write barrier
        }
        offsets[count] = offset;
        lengths[count] = length;
        count++;
        totalLength += length;
        return true;
    }

    public int count() {
        return count;
    }

    public int capacity() {
        return segments.length;
    }

    public long totalLength() {
        return totalLength;
    }

    public MemorySegment segment(int i) {
        checkIndex(i);
        return segments[i];
    }

    public long offset(int i) {
        checkIndex(i);
        return offsets[i];
    }

    public long length(int i) {
        checkIndex(i);
        return lengths[i];
    }

    /** Native address of range {@code i}, for an {@code iovec}; the segment must be native. */
    public long address(int i) {
        checkIndex(i);
        return segments[i].address() + offsets[i];
    }

    /**
     * Copies up to {@code length} bytes starting {@code skip} bytes into the list to {@code dst} at
     * {@code dstOffset} (gather).
     *
     * @return bytes copied
     */
    public long copyTo(long skip, MemorySegment dst, long dstOffset, long length) {
        long done = 0;
        for (int i = 0; i < count && done < length; i++) {
            long len = lengths[i];
            if (skip >= len) {
                skip -= len;
                continue;
            }
            long n = Math.min(len - skip, length - done);
            copy(segments[i], offsets[i] + skip, dst, dstOffset + done, n);
            done += n;
            skip = 0;
        }
        return done;
    }

    /**
     * Copies up to {@code length} bytes of {@code src} from {@code srcOffset} into the list, starting
     * {@code skip} bytes in (scatter).
     *
     * @return bytes copied
     */
    public long copyFrom(MemorySegment src, long srcOffset, long skip, long length) {
        long done = 0;
        for (int i = 0; i < count && done < length; i++) {
            long len = lengths[i];
            if (skip >= len) {
                skip -= len;
                continue;
            }
            long n = Math.min(len - skip, length - done);
            copy(src, srcOffset + done, segments[i], offsets[i] + skip, n);
            done += n;
            skip = 0;
        }
        return done;
    }

    /** Reads the byte at {@code position} bytes into the list, or -1 past the end. */
    public int byteAt(long position) {
        for (int i = 0; i < count; i++) {
            if (position < lengths[i]) {
                return segments[i].get(ValueLayout.JAVA_BYTE, offsets[i] + position) & 0xFF;
            }
            position -= lengths[i];
        }
        return -1;
    }

    /**
     * {@link MemorySegment#copy(MemorySegment, long, MemorySegment, long, long)}, for a small copy between
     * non-overlapping native ranges done as pieces under {@link #JDK_INLINE_COPY} bytes, which the JDK
     * copies inline (word by word, after one bounds check) instead of calling its copy stub.
     */
    static void copy(MemorySegment src, long srcOffset, MemorySegment dst, long dstOffset, long n) {
        if (n < JDK_INLINE_COPY || n > SMALL_COPY || !src.isNative() || !dst.isNative()
                || overlap(src.address() + srcOffset, dst.address() + dstOffset, n)) {
            MemorySegment.copy(src, srcOffset, dst, dstOffset, n);
            return;
        }
        Objects.checkFromIndexSize(srcOffset, n, src.byteSize()); // both whole ranges before the first write
        Objects.checkFromIndexSize(dstOffset, n, dst.byteSize());
        long done = 0;
        while (n - done >= JDK_INLINE_COPY) {
            MemorySegment.copy(src, srcOffset + done, dst, dstOffset + done, INLINE_PIECE);
            done += INLINE_PIECE;
        }
        MemorySegment.copy(src, srcOffset + done, dst, dstOffset + done, n - done);
    }

    private static boolean overlap(long a, long b, long n) {
        return a < b + n && b < a + n;
    }

    private void checkIndex(int i) {
        if (i < 0 || i >= count) {
            throw new IndexOutOfBoundsException(i);
        }
    }
}
