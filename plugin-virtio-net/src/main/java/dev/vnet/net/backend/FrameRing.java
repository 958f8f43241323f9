package dev.vnet.net.backend;

import dev.vnet.spi.SegmentList;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * A bounded byte ring of frames, {@code [le32 length][bytes]} each, 4-byte aligned, wrapping by split
 * copies. One reader (the owning end's worker for this queue); writers serialize on the ring's lock.
 * Memory is fixed at construction: a full ring refuses writes (the writer waits for {@code writable})
 * instead of growing. Allocates nothing per frame.
 */
final class FrameRing {

    /** {@link #offer} results. */
    static final int FULL = 0;
    static final int OK = 1;
    /** Stored, and the reader was waiting: the caller must signal {@code readable}. */
    static final int OK_WAKE = 2;
    /** Can never fit: drop it. */
    static final int TOO_BIG = -1;

    /** {@code reserve} results. */
    private static final long NO_FIT = -1;
    private static final long NO_ROOM = -2;

    private static final ValueLayout.OfInt INT = ValueLayout.JAVA_INT_UNALIGNED;

    private final MemorySegment buffer;
    private final long capacity;
    private long head;
    private long tail;
    private boolean readerWaiting;
    /** Writer queues (of the peer end) that found the ring full, as a bitmap. */
    private final long[] waitingWriters;
    /** Copy of {@link #waitingWriters} taken under the lock, walked outside it (reader thread only). */
    private final long[] wakeScratch;

    FrameRing(int capacityBytes, int writerQueues) {
        int cap = (capacityBytes + 3) & ~3;
        this.buffer = MemorySegment.ofArray(new byte[cap]);
        this.capacity = cap;
        this.waitingWriters = new long[(writerQueues + 63) / 64];
        this.wakeScratch = new long[waitingWriters.length];
    }

    private static long entrySize(long length) {
        return 4 + ((length + 3) & ~3L);
    }

    /** Stores a frame gathered from {@code src}. */
    synchronized int offer(SegmentList src, int writerQueue) {
        long length = src.totalLength();
        long at = reserve(length, writerQueue);
        if (at < 0) {
            return at == NO_FIT ? TOO_BIG : FULL;
        }
        long first = Math.min(length, capacity - at);
        src.copyTo(0, buffer, at, first);
        if (first < length) {
            src.copyTo(first, buffer, 0, length - first);
        }
        return stored(entrySize(length));
    }

    /** Stores {@code src[offset, offset + length)}. */
    synchronized int offer(MemorySegment src, long offset, long length, int writerQueue) {
        long at = reserve(length, writerQueue);
        if (at < 0) {
            return at == NO_FIT ? TOO_BIG : FULL;
        }
        long first = Math.min(length, capacity - at);
        MemorySegment.copy(src, offset, buffer, at, first);
        if (first < length) {
            MemorySegment.copy(src, offset + first, buffer, 0, length - first);
        }
        return stored(entrySize(length));
    }

    /**
     * Writes the length word of a new entry of {@code length} bytes at the tail and returns where its bytes
     * go; {@link #NO_FIT} when it can never fit, {@link #NO_ROOM} when the ring is full now (the writer
     * queue is then marked waiting).
     */
    private long reserve(long length, int writerQueue) {
        long need = entrySize(length);
        if (need > capacity) {
            return NO_FIT;
        }
        if (capacity - (tail - head) < need) {
            waitingWriters[writerQueue >>> 6] |= 1L << (writerQueue & 63);
            return NO_ROOM;
        }
        long pos = tail % capacity;
        buffer.set(INT, pos, (int) length);
        return (pos + 4) % capacity;
    }

    /** Bytes free for entries. */
    synchronized long free() {
        return capacity - (tail - head);
    }

    long capacity() {
        return capacity;
    }

    /** Marks a writer queue as waiting for room (when it gives up before trying to store). */
    synchronized void waitForRoom(int writerQueue) {
        waitingWriters[writerQueue >>> 6] |= 1L << (writerQueue & 63);
    }

    private int stored(long need) {
        tail += need;
        if (readerWaiting) {
            readerWaiting = false;
            return OK_WAKE;
        }
        return OK;
    }

    /** Length of the next frame, or 0 (then the reader is signalled when one arrives). */
    synchronized int peek() {
        if (head == tail) {
            readerWaiting = true;
            return 0;
        }
        return buffer.get(INT, head % capacity);
    }

    /**
     * Moves the next frame into {@code dst} (truncated to its length) and returns the frame's full length,
     * or 0 when empty. Writers waiting for room are left in {@link #takeWaitingWriters}.
     */
    synchronized int poll(SegmentList dst) {
        if (head == tail) {
            readerWaiting = true;
            return 0;
        }
        long pos = head % capacity;
        int length = buffer.get(INT, pos);
        long at = (pos + 4) % capacity;
        long n = Math.min(length, dst.totalLength());
        long first = Math.min(n, capacity - at);
        dst.copyFrom(buffer, at, 0, first);
        if (first < n) {
            dst.copyFrom(buffer, 0, first, n - first);
        }
        head += entrySize(length);
        if (head == tail) {
            head = 0;
            tail = 0;
        }
        for (int i = 0; i < waitingWriters.length; i++) {
            wakeScratch[i] = waitingWriters[i];
            waitingWriters[i] = 0;
        }
        return length;
    }

    /** The writer queues to signal after a {@link #poll} (reader thread only). */
    long[] takeWaitingWriters() {
        return wakeScratch;
    }

    synchronized int frames() {
        int n = 0;
        long h = head;
        while (h != tail) {
            h += entrySize(buffer.get(INT, h % capacity));
            n++;
        }
        return n;
    }
}
