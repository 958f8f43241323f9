package dev.vnet.virtio;

import dev.vnet.spi.SegmentList;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * One available descriptor chain, already walked and validated by {@link Virtqueue#pop}: its
 * device-readable ranges first, then its device-writable ranges (virtio 1.2, 2.7.4.2), each resolved to
 * a guest RAM segment and offset. Reads see only the readable part and writes reach only the writable
 * part, whatever the descriptor layout, direct or indirect.
 *
 * <p>Reusable: a worker keeps one (or a few) per queue and {@code pop} refills it, so a packet costs no
 * allocation. Zero-length descriptors are accepted and contribute no range (policy: they count towards
 * the chain-length limit but are otherwise ignored). Not thread-safe.
 */
public final class DescriptorChain {

    private static final ValueLayout.OfShort LE16 =
            ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt LE32 =
            ValueLayout.JAVA_INT_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong LE64 =
            ValueLayout.JAVA_LONG_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN);

    private final MemorySegment[] segments;
    private final long[] offsets;
    private final long[] lengths;
    private int ranges;
    private int readableRanges;
    private long readableLength;
    private long writableLength;
    private int head = -1;
    private int descriptors;

    /** @param capacity the most descriptors a chain may have: the queue size */
    public DescriptorChain(int capacity) {
        segments = new MemorySegment[capacity];
        offsets = new long[capacity];
        lengths = new long[capacity];
    }

    // ---- filled by Virtqueue ----

    void reset(int head) {
        this.head = head;
        ranges = 0;
        readableRanges = 0;
        readableLength = 0;
        writableLength = 0;
        descriptors = 0;
    }

    /**
     * Records a chain of the one non-empty descriptor {@code head}; the caller has checked it. A field is
     * written only when its value changes (a queue's chains mostly have the same shape and often the
     * same length): on the receive path, bound by stores into lines the driver's core holds, each store
     * counts and a load does not.
     */
    void single(int head, MemorySegment segment, long offset, long length, boolean writable) {
        this.head = head;
        if (segments[0] != segment) {
            segments[0] = segment;
        }
        offsets[0] = offset;
        if (lengths[0] != length) {
            lengths[0] = length;
        }
        if (ranges != 1 || descriptors != 1) {
            ranges = 1;
            descriptors = 1;
        }
        int readable = writable ? 0 : 1;
        if (readableRanges != readable) {
            readableRanges = readable;
        }
        long r = writable ? 0 : length;
        long w = writable ? length : 0;
        if (readableLength != r || writableLength != w) {
            readableLength = r;
            writableLength = w;
        }
    }

    int capacity() {
        return segments.length;
    }

    int descriptors() {
        return descriptors;
    }

    /** Records one descriptor (its range if non-empty); the caller has checked order and bounds. */
    void append(MemorySegment segment, long offset, long length, boolean writable) {
        descriptors++;
        if (length == 0) {
            return;
        }
        if (segments[ranges] != segment) {
            segments[ranges] = segment; // usually the same region segment again: skip the GC write barrier
        }
        offsets[ranges] = offset;
        lengths[ranges] = length;
        ranges++;
        if (writable) {
            writableLength += length;
        } else {
            readableRanges = ranges;
            readableLength += length;
        }
    }

    // ---- public view ----

    /** The head descriptor index, which goes back in the used ring. */
    public int head() {
        return head;
    }

    /** Number of descriptors walked (direct and inside an indirect table, zero-length included). */
    public int descriptorCount() {
        return descriptors;
    }

    /** Whether every guest RAM range of this chain is still mapped (see {@link Virtqueue#memoryAlive}). */
    public boolean memoryAlive() {
        for (int i = 0; i < ranges; i++) {
            if (!segments[i].scope().isAlive()) {
                return false;
            }
        }
        return true;
    }

    /** Total bytes the device may read (at most 2^32 - 1: longer chains are refused). */
    public long readableLength() {
        return readableLength;
    }

    /** Total bytes the device may write (at most 2^32 - 1). */
    public long writableLength() {
        return writableLength;
    }

    /**
     * Gathers {@code length} readable bytes starting {@code position} bytes into the readable part.
     *
     * @return bytes copied, fewer when the readable part ends first
     */
    public long read(long position, MemorySegment dst, long dstOffset, long length) {
        long done = 0;
        for (int i = 0; i < readableRanges && done < length; i++) {
            long len = lengths[i];
            if (position >= len) {
                position -= len;
                continue;
            }
            long n = Math.min(len - position, length - done);
            MemorySegment.copy(segments[i], offsets[i] + position, dst, dstOffset + done, n);
            done += n;
            position = 0;
        }
        return done;
    }

    /**
     * Scatters {@code length} bytes of {@code src} into the writable part, starting {@code position}
     * bytes in.
     *
     * @return bytes copied, fewer when the writable part ends first
     */
    public long write(long position, MemorySegment src, long srcOffset, long length) {
        long done = 0;
        for (int i = readableRanges; i < ranges && done < length; i++) {
            long len = lengths[i];
            if (position >= len) {
                position -= len;
                continue;
            }
            long n = Math.min(len - position, length - done);
            MemorySegment.copy(src, srcOffset + done, segments[i], offsets[i] + position, n);
            done += n;
            position = 0;
        }
        return done;
    }

    /** Little-endian unsigned value of {@code size} (1..8) readable bytes at {@code position}; -1 past the end. */
    public long readLittleEndian(long position, int size) {
        if (position < 0 || position + size > readableLength) {
            return -1;
        }
        if (readableRanges > 0 && position + size <= lengths[0]) {
            // The common case (a header inside the first descriptor): one access, no per-byte walk.
            MemorySegment s = segments[0];
            long at = offsets[0] + position;
            return switch (size) {
                case 1 -> s.get(ValueLayout.JAVA_BYTE, at) & 0xFFL;
                case 2 -> s.get(LE16, at) & 0xFFFFL;
                case 4 -> s.get(LE32, at) & 0xFFFF_FFFFL;
                case 8 -> s.get(LE64, at);
                default -> slowLittleEndian(position, size);
            };
        }
        return slowLittleEndian(position, size);
    }

    private long slowLittleEndian(long position, int size) {
        long value = 0;
        for (int k = 0; k < size; k++) {
            value |= (long) (byteAt(0, readableRanges, position + k) & 0xFF) << (8 * k);
        }
        return value;
    }

    /** Writes the {@code size} (1..8) low bytes of {@code value}, little-endian, at writable {@code position}. */
    public boolean writeLittleEndian(long position, int size, long value) {
        if (position < 0 || position + size > writableLength) {
            return false;
        }
        for (int k = 0; k < size; k++) {
            long p = position + k;
            for (int i = readableRanges; i < ranges; i++) {
                if (p < lengths[i]) {
                    segments[i].set(ValueLayout.JAVA_BYTE, offsets[i] + p, (byte) (value >>> (8 * k)));
                    break;
                }
                p -= lengths[i];
            }
        }
        return true;
    }

    /** Appends the readable ranges after the first {@code skip} bytes to {@code out}; false if it fills up. */
    public boolean readableRanges(SegmentList out, long skip) {
        return addRanges(out, 0, readableRanges, skip);
    }

    /** Appends the writable ranges after the first {@code skip} bytes to {@code out}; false if it fills up. */
    public boolean writableRanges(SegmentList out, long skip) {
        if (ranges == 1 && readableRanges == 0 && skip == 0) {
            return out.add(segments[0], offsets[0], lengths[0]); // a receive buffer: one writable descriptor
        }
        return addRanges(out, readableRanges, ranges, skip);
    }

    private boolean addRanges(SegmentList out, int from, int to, long skip) {
        for (int i = from; i < to; i++) {
            long len = lengths[i];
            if (skip >= len) {
                skip -= len;
                continue;
            }
            if (!out.add(segments[i], offsets[i] + skip, len - skip)) {
                return false;
            }
            skip = 0;
        }
        return true;
    }

    private byte byteAt(int from, int to, long position) {
        for (int i = from; i < to; i++) {
            if (position < lengths[i]) {
                return segments[i].get(ValueLayout.JAVA_BYTE, offsets[i] + position);
            }
            position -= lengths[i];
        }
        throw new IndexOutOfBoundsException();
    }
}
