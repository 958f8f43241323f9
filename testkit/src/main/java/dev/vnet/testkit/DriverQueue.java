package dev.vnet.testkit;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;
import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The driver side of a split virtqueue, following Linux {@code drivers/virtio/virtio_ring.c}: a free
 * list kept in driver-private memory ({@code desc_extra}), {@code num_free}, an indirect table whenever a
 * buffer has more than one element and the feature is on, {@code avail_idx_shadow} published with a
 * write barrier, {@code virtqueue_kick_prepare} with and without EVENT_IDX, {@code get_buf} that checks
 * the used id like {@code BAD_RING}, and the {@code disable_cb}/{@code enable_cb} dance.
 *
 * <p>Raw accessors let tests write what no correct driver would (loops, bad indexes). Single-threaded,
 * like a driver holding its queue lock.
 */
public final class DriverQueue {

    /** Linux {@code VRING_DESC_F_*}. */
    public static final int F_NEXT = 1;
    public static final int F_WRITE = 2;
    public static final int F_INDIRECT = 4;
    public static final int AVAIL_F_NO_INTERRUPT = 1;
    public static final int USED_F_NO_NOTIFY = 1;

    private static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final VarHandle U16_HANDLE = U16.varHandle();

    /** What {@link #getBuf} returns: the token given to {@link #add} and the used length. */
    public record Used(Object token, int length) {
    }

    private final FakeGuestMemory mem;
    private final int num;
    private final boolean indirect;
    private final boolean event;
    private final long descAddr;
    private final long availAddr;
    private final long usedAddr;
    private final MemorySegment desc;
    private final MemorySegment avail;
    private final MemorySegment used;

    /** desc_extra: the driver's own copy of next/flags, never read back from guest-shared memory. */
    private final int[] extraNext;
    private final int[] extraFlags;
    private final Object[] data;
    private final long[] indirectTable;
    private final int[] indirectEntries;
    private final Map<Integer, ArrayDeque<Long>> freeTables = new HashMap<>();

    private int freeHead;
    private int numFree;
    private int availIdxShadow;
    private int availFlagsShadow;
    private int numAdded;
    private int lastUsedIdx;
    private int kicks;

    /**
     * Allocates the three rings in {@code mem} (as {@code vring_create_virtqueue_split} does) and builds
     * the free list.
     */
    public DriverQueue(FakeGuestMemory mem, int num, boolean indirectDesc, boolean eventIdx) {
        this.mem = mem;
        this.num = num;
        this.indirect = indirectDesc;
        this.event = eventIdx;
        this.descAddr = mem.alloc(16L * num, 16);
        this.availAddr = mem.alloc(6L + 2L * num, 2);
        this.usedAddr = mem.alloc(6L + 8L * num, 4);
        this.desc = mem.segment(descAddr, 16L * num);
        this.avail = mem.segment(availAddr, 6L + 2L * num);
        this.used = mem.segment(usedAddr, 6L + 8L * num);
        extraNext = new int[num];
        extraFlags = new int[num];
        data = new Object[num];
        indirectTable = new long[num];
        indirectEntries = new int[num];
        for (int i = 0; i < num - 1; i++) {
            extraNext[i] = i + 1;
        }
        numFree = num;
    }

    public int size() {
        return num;
    }

    public long descAddr() {
        return descAddr;
    }

    public long availAddr() {
        return availAddr;
    }

    public long usedAddr() {
        return usedAddr;
    }

    public int numFree() {
        return numFree;
    }

    /** How many times {@link #kickPrepare} said a notification was needed. */
    public int kicksNeeded() {
        return kicks;
    }

    /**
     * {@code virtqueue_add_sgs}: makes {@code out} (device-readable) then {@code in} (device-writable)
     * available as one buffer.
     *
     * @return the head index, or -28 ({@code -ENOSPC}) when there are not enough free descriptors
     */
    public int add(List<Buffer> out, List<Buffer> in, Object token) {
        if (token == null) {
            throw new IllegalArgumentException("token must not be null (Linux BUG_ON(data == NULL))");
        }
        int totalSg = out.size() + in.size();
        if (totalSg == 0) {
            throw new IllegalArgumentException("empty buffer");
        }
        int head = freeHead;
        boolean useIndirect = indirect && totalSg > 1 && numFree > 0;
        int descsUsed = useIndirect ? 1 : totalSg;
        if (numFree < descsUsed) {
            return -28;
        }
        if (useIndirect) {
            long table = allocTable(totalSg);
            MemorySegment t = mem.segment(table, 16L * totalSg);
            int k = 0;
            for (Buffer b : out) {
                writeDesc(t, k, b.gpa(), b.length(), k + 1 < totalSg ? F_NEXT : 0, k + 1);
                k++;
            }
            for (Buffer b : in) {
                writeDesc(t, k, b.gpa(), b.length(), F_WRITE | (k + 1 < totalSg ? F_NEXT : 0), k + 1);
                k++;
            }
            writeDesc(desc, head, table, 16 * totalSg, F_INDIRECT, extraNext[head]);
            extraFlags[head] = F_INDIRECT;
            indirectTable[head] = table;
            indirectEntries[head] = totalSg;
            freeHead = extraNext[head];
        } else {
            int i = head;
            int prev = head;
            int k = 0;
            for (Buffer b : out) {
                int flags = k + 1 < totalSg ? F_NEXT : 0;
                writeDesc(desc, i, b.gpa(), b.length(), flags, extraNext[i]);
                extraFlags[i] = flags;
                prev = i;
                i = extraNext[i];
                k++;
            }
            for (Buffer b : in) {
                int flags = F_WRITE | (k + 1 < totalSg ? F_NEXT : 0);
                writeDesc(desc, i, b.gpa(), b.length(), flags, extraNext[i]);
                extraFlags[i] = flags;
                prev = i;
                i = extraNext[i];
                k++;
            }
            freeHead = i;
            indirectTable[head] = 0;
            assert prev >= 0;
        }
        numFree -= descsUsed;
        data[head] = token;
        avail.set(U16, 4 + 2L * (availIdxShadow & (num - 1)), (short) head);
        availIdxShadow = (availIdxShadow + 1) & 0xFFFF;
        U16_HANDLE.setRelease(avail, 2L, (short) availIdxShadow); // virtio_wmb() then avail->idx
        numAdded++;
        return head;
    }

    /** {@code virtqueue_add_outbuf}. */
    public int addOut(Object token, Buffer... out) {
        return add(List.of(out), List.of(), token);
    }

    /** {@code virtqueue_add_inbuf}. */
    public int addIn(Object token, Buffer... in) {
        return add(List.of(), List.of(in), token);
    }

    /**
     * {@code virtqueue_kick_prepare_split}: whether the device asked to be notified of what was added
     * since the last call ({@code vring_need_event(avail_event, new, old)} with EVENT_IDX, else the used
     * ring's NO_NOTIFY flag).
     */
    public boolean kickPrepare() {
        VarHandle.fullFence();
        int old = (availIdxShadow - numAdded) & 0xFFFF;
        int now = availIdxShadow;
        numAdded = 0;
        boolean needsKick;
        if (event) {
            int availEvent = Short.toUnsignedInt((short) U16_HANDLE.getAcquire(used, 4 + 8L * num));
            needsKick = ((now - availEvent - 1) & 0xFFFF) < ((now - old) & 0xFFFF);
        } else {
            needsKick = (Short.toUnsignedInt((short) U16_HANDLE.getAcquire(used, 0L)) & USED_F_NO_NOTIFY) == 0;
        }
        if (needsKick) {
            kicks++;
        }
        return needsKick;
    }

    /** {@code more_used_split}. */
    public boolean moreUsed() {
        return lastUsedIdx != usedIdx();
    }

    /**
     * {@code virtqueue_get_buf}: the next used buffer, or null. A used id out of range or not a head
     * throws {@link IllegalStateException} (Linux marks the ring broken: {@code BAD_RING}).
     */
    public Used getBuf() {
        if (!moreUsed()) {
            return null;
        }
        long elem = 4 + 8L * (lastUsedIdx & (num - 1));
        int id = used.get(U32, elem);
        int len = used.get(U32, elem + 4);
        if (id < 0 || id >= num) {
            throw new IllegalStateException("BAD_RING: id " + id + " out of range");
        }
        if (data[id] == null) {
            throw new IllegalStateException("BAD_RING: id " + id + " is not a head!");
        }
        Object token = data[id];
        detach(id);
        lastUsedIdx = (lastUsedIdx + 1) & 0xFFFF;
        if ((availFlagsShadow & AVAIL_F_NO_INTERRUPT) == 0) {
            U16_HANDLE.setRelease(avail, 4 + 2L * num, (short) lastUsedIdx); // virtio_store_mb(used_event)
            VarHandle.fullFence();
        }
        return new Used(token, len);
    }

    private void detach(int head) {
        data[head] = null;
        if (indirectTable[head] != 0) {
            freeTables.computeIfAbsent(Integer.highestOneBit(indirectEntries[head] * 2 - 1), k -> new ArrayDeque<>())
                    .push(indirectTable[head]);
            indirectTable[head] = 0;
        }
        int i = head;
        while ((extraFlags[i] & F_NEXT) != 0) {
            i = extraNext[i];
            numFree++;
        }
        extraNext[i] = freeHead;
        freeHead = head;
        numFree++;
    }

    /** {@code virtqueue_disable_cb_split}. */
    public void disableCb() {
        if ((availFlagsShadow & AVAIL_F_NO_INTERRUPT) == 0) {
            availFlagsShadow |= AVAIL_F_NO_INTERRUPT;
            if (event) {
                avail.set(U16, 4 + 2L * num, (short) 0); // Linux writes 0x0 here ("a hack")
            } else {
                avail.set(U16, 0, (short) availFlagsShadow);
            }
        }
    }

    /**
     * {@code virtqueue_enable_cb}: re-enables used-buffer notifications.
     *
     * @return false when buffers were used meanwhile (the caller must poll again), as in Linux
     */
    public boolean enableCb() {
        if ((availFlagsShadow & AVAIL_F_NO_INTERRUPT) != 0) {
            availFlagsShadow &= ~AVAIL_F_NO_INTERRUPT;
            if (!event) {
                avail.set(U16, 0, (short) availFlagsShadow);
            }
        }
        U16_HANDLE.setRelease(avail, 4 + 2L * num, (short) lastUsedIdx);
        VarHandle.fullFence();
        return lastUsedIdx == usedIdx();
    }

    /**
     * {@code virtqueue_enable_cb_delayed_split}: re-enables callbacks but, with EVENT_IDX, asks for the
     * interrupt only after three quarters of the outstanding buffers are used (Linux's TX path).
     *
     * @return false when that many were used already (the caller must poll again)
     */
    public boolean enableCbDelayed() {
        if ((availFlagsShadow & AVAIL_F_NO_INTERRUPT) != 0) {
            availFlagsShadow &= ~AVAIL_F_NO_INTERRUPT;
            if (!event) {
                avail.set(U16, 0, (short) availFlagsShadow);
            }
        }
        int bufs = ((availIdxShadow - lastUsedIdx) & 0xFFFF) * 3 / 4;
        U16_HANDLE.setRelease(avail, 4 + 2L * num, (short) (lastUsedIdx + bufs));
        VarHandle.fullFence();
        return ((usedIdx() - lastUsedIdx) & 0xFFFF) <= bufs;
    }

    /** The device's used.idx (acquire). */
    public int usedIdx() {
        return Short.toUnsignedInt((short) U16_HANDLE.getAcquire(used, 2L));
    }

    /** The driver's published avail.idx. */
    public int availIdx() {
        return availIdxShadow;
    }

    public int lastUsedIdx() {
        return lastUsedIdx;
    }

    // ---- raw access for malicious-driver tests ----

    /** Writes descriptor {@code i} of the ring's table as given, bypassing the free list. */
    public void writeRawDescriptor(int i, long addr, int len, int flags, int next) {
        writeDesc(desc, i, addr, len, flags, next);
    }

    /** Writes a descriptor into an arbitrary table in guest memory (for hand-made indirect tables). */
    public void writeRawDescriptorAt(long tableGpa, int i, long addr, int len, int flags, int next) {
        writeDesc(mem.segment(tableGpa + 16L * i, 16), 0, addr, len, flags, next);
    }

    /** Puts {@code head} in the next avail slot and publishes avail.idx + 1, bypassing all checks. */
    public void publishRawHead(int head) {
        avail.set(U16, 4 + 2L * (availIdxShadow & (num - 1)), (short) head);
        availIdxShadow = (availIdxShadow + 1) & 0xFFFF;
        U16_HANDLE.setRelease(avail, 2L, (short) availIdxShadow);
        numAdded++;
    }

    /** Overwrites avail.idx (and the shadow) with any value. */
    public void setRawAvailIdx(int idx) {
        availIdxShadow = idx & 0xFFFF;
        U16_HANDLE.setRelease(avail, 2L, (short) availIdxShadow);
    }

    /**
     * Starts the free-running indexes at {@code idx} instead of 0, as if {@code idx} buffers had already
     * gone round, for tests across the u16 wrap. Only valid on a fresh queue, before the device reads it.
     */
    public void startIndexesAt(int idx) {
        availIdxShadow = idx & 0xFFFF;
        lastUsedIdx = idx & 0xFFFF;
        avail.set(U16, 2, (short) idx);
        used.set(U16, 2, (short) idx);
        avail.set(U16, 4 + 2L * num, (short) idx);
    }

    /** The used ring's flags field (VRING_USED_F_NO_NOTIFY). */
    public int usedFlags() {
        return Short.toUnsignedInt(used.get(U16, 0));
    }

    /** avail_event, written by the device with EVENT_IDX. */
    public int availEvent() {
        return Short.toUnsignedInt(used.get(U16, 4 + 8L * num));
    }

    private long allocTable(int entries) {
        int sizeClass = Integer.highestOneBit(entries * 2 - 1);
        ArrayDeque<Long> free = freeTables.get(sizeClass);
        if (free != null && !free.isEmpty()) {
            return free.pop();
        }
        return mem.alloc(16L * sizeClass, 16);
    }

    private static void writeDesc(MemorySegment table, int i, long addr, int len, int flags, int next) {
        long o = 16L * i;
        table.set(U64, o, addr);
        table.set(U32, o + 8, len);
        table.set(U16, o + 12, (short) flags);
        table.set(U16, o + 14, (short) next);
    }
}
