package dev.vnet.virtio;

import dev.vnet.spi.GuestMemory;

/**
 * What the driver programmed for one queue through the transport (virtio 1.2, 4.1.4.3: queue_size,
 * queue_desc, queue_driver, queue_device). Immutable snapshot taken when the queue is enabled.
 */
public record QueueConfig(int size, long descAddr, long driverAddr, long deviceAddr) {

    /** 2.7: alignment of the descriptor table, available ring and used ring. */
    public static final int DESC_ALIGN = 16;
    public static final int AVAIL_ALIGN = 2;
    public static final int USED_ALIGN = 4;
    /** 2.7: the largest queue size of a split ring. */
    public static final int MAX_SIZE = 32768;

    public long descTableBytes() {
        return 16L * size;
    }

    /** flags, idx, ring[size], used_event. */
    public long availRingBytes() {
        return 6L + 2L * size;
    }

    /** flags, idx, ring[size] of {id, len}, avail_event. */
    public long usedRingBytes() {
        return 6L + 8L * size;
    }

    /** Whether {@code size} is usable for a queue whose maximum is {@code maxSize}. */
    public static String sizeProblem(int size, int maxSize) {
        if (size == 0) {
            return "queue size 0";
        }
        if (size < 0 || Integer.bitCount(size) != 1) {
            return "queue size " + size + " is not a power of two";
        }
        if (size > maxSize || size > MAX_SIZE) {
            return "queue size " + size + " is above the maximum " + Math.min(maxSize, MAX_SIZE);
        }
        return null;
    }

    /**
     * Validates the whole layout against guest memory (sizes, alignment, every ring inside one region).
     *
     * @return null when usable, else what is wrong
     */
    public String problem(int maxSize, GuestMemory memory) {
        String sizeProblem = sizeProblem(size, maxSize);
        if (sizeProblem != null) {
            return sizeProblem;
        }
        if (descAddr % DESC_ALIGN != 0 || driverAddr % AVAIL_ALIGN != 0 || deviceAddr % USED_ALIGN != 0) {
            return String.format("misaligned ring (desc 0x%x, driver 0x%x, device 0x%x)", descAddr, driverAddr,
                    deviceAddr);
        }
        if (!memory.contains(descAddr, descTableBytes())) {
            return String.format("descriptor table at 0x%x+%d outside guest RAM", descAddr, descTableBytes());
        }
        if (!memory.contains(driverAddr, availRingBytes())) {
            return String.format("available ring at 0x%x+%d outside guest RAM", driverAddr, availRingBytes());
        }
        if (!memory.contains(deviceAddr, usedRingBytes())) {
            return String.format("used ring at 0x%x+%d outside guest RAM", deviceAddr, usedRingBytes());
        }
        return null;
    }
}
