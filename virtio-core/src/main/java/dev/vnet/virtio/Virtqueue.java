package dev.vnet.virtio;

import dev.vnet.spi.Access;
import dev.vnet.spi.GuestMemory;
import dev.vnet.spi.GuestMemoryException;
import dev.vnet.spi.GuestRegion;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;

/**
 * The device side of one split virtqueue (virtio 1.2, 2.7): pops validated descriptor chains from the
 * available ring, returns them through the used ring, and decides when each side must notify the other,
 * with and without {@code VIRTIO_F_EVENT_IDX}.
 *
 * <p>The three rings are resolved to guest RAM segments once, when the queue is opened; a pop walks the
 * chain into a caller-owned {@link DescriptorChain} and allocates nothing. Ring indexes are read with
 * acquire and published with release semantics; a full fence separates re-enabling notifications from
 * the re-check of the available index (2.7.7.2, 2.7.10).
 *
 * <p>Guest errors (2.7.5.2, 2.7.5.3.1 and the list in {@link #pop}) mark the queue broken, are reported
 * once to the {@link GuestErrorListener}, and make every later {@code pop} return false; nothing is
 * thrown. One worker thread uses a queue at a time.
 */
public final class Virtqueue {

    static final short VIRTQ_DESC_F_NEXT = 1;
    static final short VIRTQ_DESC_F_WRITE = 2;
    static final short VIRTQ_DESC_F_INDIRECT = 4;
    /** 2.7.6: driver asks for no used-buffer notifications (without EVENT_IDX). */
    static final int VIRTQ_AVAIL_F_NO_INTERRUPT = 1;
    /** 2.7.8: device asks for no available-buffer notifications (without EVENT_IDX). */
    static final int VIRTQ_USED_F_NO_NOTIFY = 1;
    /** Descriptor size in the table and in indirect tables. */
    static final int DESC_SIZE = 16;
    /** Longest total length of a chain's readable or writable part: used.len is a u32. */
    static final long MAX_CHAIN_BYTES = 0xFFFF_FFFFL;

    private static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong U64_UNALIGNED =
            ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final VarHandle U16_HANDLE = U16.varHandle();

    private final int index;
    private final int size;
    private final GuestMemory memory;
    private final GuestErrorListener errors;
    private final boolean eventIdx;
    private final boolean indirect;

    private final MemorySegment desc;
    private final long descBase;
    private final MemorySegment avail;
    private final long availBase;
    private final MemorySegment used;
    private final long usedBase;

    /** Next available-ring slot to pop (free-running u16). */
    private int lastAvail;
    /** Last avail.idx read from the guest. */
    private int shadowAvail;
    /** Next used-ring slot to fill (free-running u16). */
    private int nextUsed;
    /** Last value written to used.idx. */
    private int publishedUsed;
    /** used.idx when the driver was last notified (vhost's signalled_used). */
    private int signalledUsed;
    private boolean signalledValid;
    private volatile String brokenReason;
    /**
     * The region the last buffer was found in: buffers of one queue almost always lie in one region, so
     * a hit skips the memory map's search (resolved once, then reused for the activation's life).
     */
    private GuestRegion lastRegion;

    private Virtqueue(int index, QueueConfig config, GuestMemory memory, long features, GuestErrorListener errors,
                      GuestRegion descRegion, GuestRegion availRegion, GuestRegion usedRegion) {
        this.index = index;
        this.size = config.size();
        this.memory = memory;
        this.errors = errors;
        this.eventIdx = VirtioFeatures.has(features, VirtioFeatures.VIRTIO_F_EVENT_IDX);
        this.indirect = VirtioFeatures.has(features, VirtioFeatures.VIRTIO_F_INDIRECT_DESC);
        this.desc = descRegion.segment();
        this.descBase = config.descAddr() - descRegion.gpa();
        this.avail = availRegion.segment();
        this.availBase = config.driverAddr() - availRegion.gpa();
        this.used = usedRegion.segment();
        this.usedBase = config.deviceAddr() - usedRegion.gpa();
    }

    /**
     * Opens a queue the driver enabled: checks size, alignment and that each ring lies inside one region
     * of guest RAM, then resolves the rings. The indexes start at 0 (a freshly reset queue).
     *
     * @throws VirtqueueException when the configuration is unusable (a guest error for the caller)
     */
    public static Virtqueue open(int index, QueueConfig config, int maxSize, GuestMemory memory, long features,
                                 GuestErrorListener errors) throws VirtqueueException {
        String problem = config.problem(maxSize, memory);
        if (problem != null) {
            throw new VirtqueueException("queue " + index + ": " + problem);
        }
        try {
            return new Virtqueue(index, config, memory, features, errors,
                    memory.region(config.descAddr(), config.descTableBytes(), Access.READ),
                    memory.region(config.driverAddr(), config.availRingBytes(), Access.READ),
                    memory.region(config.deviceAddr(), config.usedRingBytes(), Access.WRITE));
        } catch (GuestMemoryException e) {
            throw new VirtqueueException("queue " + index + ": " + e.getMessage());
        }
    }

    public int index() {
        return index;
    }

    public int size() {
        return size;
    }

    /** A chain object big enough for this queue's longest legal chain. */
    public DescriptorChain newChain() {
        return new DescriptorChain(size);
    }

    public boolean isBroken() {
        return brokenReason != null;
    }

    /** Why the queue stopped, or null. */
    public String brokenReason() {
        return brokenReason;
    }

    /**
     * Marks the queue broken for a guest error the device found (for example a chain without the
     * buffers its protocol requires) and reports it once.
     */
    public void fail(String reason) {
        if (brokenReason == null) {
            brokenReason = reason;
            errors.guestError("queue " + index + ": " + reason);
        }
    }

    /**
     * Pops the next available chain into {@code chain}.
     *
     * <p>Guest errors found here: avail.idx moved by more than the queue size (forwards, or backwards,
     * which is the same thing mod 2^16); a head or {@code next} index at or above the queue size; a chain
     * with more descriptors than the queue size (this also catches loops); a descriptor whose
     * {@code addr + len} wraps or that leaves guest RAM or its region; a device-readable descriptor after
     * a device-writable one; an indirect descriptor without the feature, with NEXT set, inside an indirect
     * table, or whose table is empty, not a multiple of 16 bytes, longer than the queue size, or outside
     * one region of RAM; a readable or writable part longer than 2^32 - 1 bytes.
     *
     * @return true with {@code chain} filled; false when the ring is empty or the queue is broken
     */
    public boolean pop(DescriptorChain chain) {
        if (brokenReason != null) {
            return false;
        }
        try {
            if (lastAvail == shadowAvail) {
                shadowAvail = availIdx();
                int pending = Ring16.distance(shadowAvail, lastAvail);
                if (pending > size) {
                    fail("avail.idx moved from " + lastAvail + " to " + shadowAvail + ", more than the queue size "
                            + size);
                    return false;
                }
                if (pending == 0) {
                    return false;
                }
            }
            int head = Short.toUnsignedInt(avail.get(U16, availBase + 4 + 2L * (lastAvail & (size - 1))));
            if (head >= size) {
                fail("available head " + head + " >= queue size " + size);
                return false;
            }
            if (chain.capacity() < size) {
                throw new IllegalArgumentException("chain of capacity " + chain.capacity() + " for queue size " + size);
            }
            if (!popSingle(head, chain)) {
                String problem = walk(head, chain);
                if (problem != null) {
                    fail(problem);
                    return false;
                }
            }
            lastAvail = Ring16.add(lastAvail, 1);
            return true;
        } catch (GuestMemoryException e) {
            fail(e.getMessage());
        } catch (IllegalStateException | IndexOutOfBoundsException e) {
            // The host closed or shrank a memory region under us: stop touching it.
            fail("guest memory became unavailable: " + e.getMessage());
        }
        return false;
    }

    /** Undoes the last {@code count} pops (used when a device popped more buffers than it needed). */
    public void unpop(int count) {
        lastAvail = Ring16.add(lastAvail, -count);
    }

    /** Whether a pop would find a chain (reads avail.idx; does not validate it). */
    public boolean hasAvailable() {
        try {
            return brokenReason == null && availIdx() != lastAvail;
        } catch (IllegalStateException | IndexOutOfBoundsException e) {
            fail("guest memory became unavailable: " + e.getMessage());
            return false;
        }
    }

    /**
     * Whether the guest RAM behind the three rings is still mapped. A worker that catches an
     * {@link IllegalStateException} from a guest-memory access asks this (and
     * {@link DescriptorChain#memoryAlive}) to tell a region the host took away, which is a fault to report
     * with {@link #fail}, from a device bug.
     */
    public boolean memoryAlive() {
        return desc.scope().isAlive() && avail.scope().isAlive() && used.scope().isAlive();
    }

    /**
     * The common chain, one non-empty descriptor (a receive buffer, a TX frame with its header) in the
     * region of the last buffer, taken without {@link #walk}: the same checks, a fraction of the
     * instructions and stores. Anything else (NEXT, INDIRECT, other flag bits, another region, a
     * zero length) is left to {@code walk}, which also reports the errors.
     *
     * @return whether {@code chain} now holds the chain
     */
    private boolean popSingle(int head, DescriptorChain chain) {
        long entry = descBase + (long) DESC_SIZE * head;
        long addr = desc.get(U64_UNALIGNED, entry);
        long word = desc.get(U64_UNALIGNED, entry + 8);
        long len = word & 0xFFFF_FFFFL;
        int flags = (int) (word >>> 32) & 0xFFFF;
        GuestRegion r = lastRegion;
        if ((flags & ~VIRTQ_DESC_F_WRITE) != 0 || len == 0 || r == null || !r.contains(addr, len)
                || (flags != 0 && r.readOnly())) {
            return false;
        }
        chain.single(head, r.segment(), addr - r.gpa(), len, flags != 0);
        return true;
    }

    private String walk(int head, DescriptorChain chain) {
        chain.reset(head);
        MemorySegment table = desc;
        long tableBase = descBase;
        int tableSize = size;
        boolean inIndirect = false;
        boolean seenWritable = false;
        long readable = 0;
        long writable = 0;
        int i = head;
        while (true) {
            if (chain.descriptors() >= size) {
                return "descriptor chain from head " + head + " is longer than the queue size " + size
                        + " (loop?)";
            }
            long entry = tableBase + (long) DESC_SIZE * i;
            // Two 8-byte loads per descriptor: addr, then len | flags << 32 | next << 48 (all little-endian).
            long addr = table.get(U64_UNALIGNED, entry);
            long word = table.get(U64_UNALIGNED, entry + 8);
            long len = word & 0xFFFF_FFFFL;
            short flags = (short) (word >>> 32);
            int next = (int) (word >>> 48);

            if ((flags & VIRTQ_DESC_F_INDIRECT) != 0) {
                if (!indirect) {
                    return "indirect descriptor " + i + " without VIRTIO_F_INDIRECT_DESC";
                }
                if (inIndirect) {
                    return "nested indirect descriptor in the table of head " + head;
                }
                if ((flags & VIRTQ_DESC_F_NEXT) != 0) {
                    return "descriptor " + i + " has both INDIRECT and NEXT";
                }
                if (len == 0 || len % DESC_SIZE != 0) {
                    return "indirect table of " + len + " bytes is not a non-zero multiple of 16";
                }
                if (len / DESC_SIZE > size) {
                    return "indirect table of " + (len / DESC_SIZE) + " entries exceeds the queue size " + size;
                }
                GuestRegion region = region(addr, len, Access.READ);
                table = region.segment();
                tableBase = addr - region.gpa();
                tableSize = (int) (len / DESC_SIZE);
                inIndirect = true;
                i = 0;
                continue;
            }

            boolean isWritable = (flags & VIRTQ_DESC_F_WRITE) != 0;
            if (!isWritable && seenWritable) {
                return "device-readable descriptor " + i + " after a device-writable one in chain " + head;
            }
            seenWritable |= isWritable;
            if (len == 0) {
                chain.append(null, 0, 0, isWritable);
            } else {
                GuestRegion region = region(addr, len, isWritable ? Access.WRITE : Access.READ);
                chain.append(region.segment(), addr - region.gpa(), len, isWritable);
                if (isWritable) {
                    writable += len;
                } else {
                    readable += len;
                }
                if (readable > MAX_CHAIN_BYTES || writable > MAX_CHAIN_BYTES) {
                    return "chain from head " + head + " is longer than 2^32 - 1 bytes";
                }
            }
            if ((flags & VIRTQ_DESC_F_NEXT) == 0) {
                return null;
            }
            if (next >= tableSize) {
                return "descriptor " + i + " has next " + next + " >= " + (inIndirect ? "indirect table size "
                        : "queue size ") + tableSize;
            }
            i = next;
        }
    }

    /** {@link GuestMemory#region}, through a one-entry cache; the same checks either way. */
    private GuestRegion region(long addr, long len, Access access) {
        GuestRegion r = lastRegion;
        if (r != null && r.contains(addr, len) && (access != Access.WRITE || !r.readOnly())
                && (len > 0 || addr != r.gpa() + r.size())) {
            return r;
        }
        r = memory.region(addr, len, access);
        lastRegion = r;
        return r;
    }

    /**
     * Puts {@code head} in the used ring with {@code written} bytes; visible to the driver only after
     * {@link #flushUsed}, so a burst is published with one store.
     */
    public void addUsed(int head, long written) {
        if (brokenReason != null) {
            return;
        }
        try {
            // The element {le32 id; le32 len} as one store (the ring is only 4-aligned, hence unaligned).
            long elem = usedBase + 4 + 8L * (nextUsed & (size - 1));
            used.set(U64_UNALIGNED, elem, (head & 0xFFFF_FFFFL) | (written << 32));
            nextUsed = Ring16.add(nextUsed, 1);
        } catch (IllegalStateException | IndexOutOfBoundsException e) {
            fail("guest memory became unavailable: " + e.getMessage());
        }
    }

    /** Returns {@code chain} with {@code written} bytes, never more than its writable length. */
    public void addUsed(DescriptorChain chain, long written) {
        addUsed(chain.head(), Math.min(Math.max(written, 0), chain.writableLength()));
    }

    /** Publishes the used entries added so far (release store of used.idx). */
    public void flushUsed() {
        if (nextUsed != publishedUsed && brokenReason == null) {
            try {
                U16_HANDLE.setRelease(used, usedBase + 2, (short) nextUsed);
                publishedUsed = nextUsed;
            } catch (IllegalStateException | IndexOutOfBoundsException e) {
                fail("guest memory became unavailable: " + e.getMessage());
            }
        }
    }

    /**
     * Whether the driver wants a used-buffer notification for what was published since the last one:
     * {@code vring_need_event(used_event, ...)} with EVENT_IDX, else the avail ring's NO_INTERRUPT flag
     * (2.7.7). Call after {@link #flushUsed}; counts the notification as sent when it returns true.
     */
    public boolean needsNotification() {
        if (brokenReason != null) {
            return false;
        }
        int old = signalledUsed;
        boolean valid = signalledValid;
        if (valid && old == publishedUsed) {
            return false; // nothing published since the last notification: no fence, no guest read
        }
        VarHandle.fullFence();
        signalledUsed = publishedUsed;
        signalledValid = true;
        try {
            if (eventIdx) {
                int usedEvent = Short.toUnsignedInt(avail.get(U16, availBase + 4 + 2L * size));
                return !valid || Ring16.needEvent(usedEvent, publishedUsed, old);
            }
            return (avail.get(U16, availBase) & VIRTQ_AVAIL_F_NO_INTERRUPT) == 0;
        } catch (IllegalStateException | IndexOutOfBoundsException e) {
            fail("guest memory became unavailable: " + e.getMessage());
            return false;
        }
    }

    /** Asks the driver not to kick while the worker is busy (used.flags NO_NOTIFY; nothing with EVENT_IDX). */
    public void disableNotifications() {
        if (!eventIdx && brokenReason == null) {
            try {
                used.set(U16, usedBase, (short) VIRTQ_USED_F_NO_NOTIFY);
            } catch (IllegalStateException | IndexOutOfBoundsException e) {
                fail("guest memory became unavailable: " + e.getMessage());
            }
        }
    }

    /**
     * Asks the driver to kick for the next buffer it adds (clears NO_NOTIFY, or sets avail_event to the
     * last avail.idx the device has seen), then re-checks the ring.
     *
     * <p>"Next" means beyond what the device has already seen, as vhost does it: a device that popped
     * buffers and put them back because they were not enough (a mergeable RX frame needing more
     * buffers than are posted) must wait for new ones, not spin on the same too-few buffers.
     *
     * @return true when the driver added buffers the device had not seen yet: keep processing instead
     *         of sleeping
     */
    public boolean enableNotifications() {
        if (brokenReason != null) {
            return false;
        }
        try {
            if (eventIdx) {
                U16_HANDLE.setRelease(used, usedBase + 4 + 8L * size, (short) shadowAvail);
            } else {
                used.set(U16, usedBase, (short) 0);
            }
            VarHandle.fullFence();
            return availIdx() != shadowAvail;
        } catch (IllegalStateException | IndexOutOfBoundsException e) {
            fail("guest memory became unavailable: " + e.getMessage());
            return false;
        }
    }

    private int availIdx() {
        return Short.toUnsignedInt((short) U16_HANDLE.getAcquire(avail, availBase + 2));
    }

    /**
     * Resumes a queue whose indexes did not start at 0 (vhost-user {@code SET_VRING_BASE}, migration):
     * the next pop reads slot {@code nextAvail}, and the used index continues from the used.idx already
     * in guest memory.
     */
    public void restoreIndexes(int nextAvail) {
        lastAvail = nextAvail & 0xFFFF;
        shadowAvail = lastAvail;
        nextUsed = Short.toUnsignedInt((short) U16_HANDLE.getAcquire(used, usedBase + 2));
        publishedUsed = nextUsed;
        signalledValid = false;
    }

    /** The next slot to pop, for tests and diagnostics. */
    public int lastAvailIndex() {
        return lastAvail;
    }

    /** The next used slot to fill, for tests and diagnostics. */
    public int nextUsedIndex() {
        return nextUsed;
    }
}
