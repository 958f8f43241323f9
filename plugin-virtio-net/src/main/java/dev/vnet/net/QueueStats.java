package dev.vnet.net;

import java.util.concurrent.atomic.AtomicLongArray;

/**
 * Counters of one virtqueue. Incremented by the queue's worker (and the vCPU thread for kicks) without
 * allocation; read from any thread (JMX, the host API).
 *
 * <p>Every counter but {@code kicks} has a single writer, the queue's worker thread (a replacement
 * worker starts only after the old one was joined), so those are bumped with a plain read and a release
 * store instead of an atomic read-modify-write: on x86 two plain moves per packet instead of two locked
 * instructions. Readers still see every update promptly (release/acquire); the RX path adds its packets
 * and bytes once per batch (at most 128 frames). Kicks come from any vCPU and stay atomic.
 */
public final class QueueStats implements QueueStatsMXBean {

    private static final int PACKETS = 0;
    private static final int BYTES = 1;
    private static final int ERRORS = 2;
    private static final int KICKS = 3;
    private static final int INTERRUPTS = 4;
    private static final int DROPS = 5;

    private final int index;
    private final String kind;
    private final AtomicLongArray counters = new AtomicLongArray(DROPS + DropReason.values().length);

    QueueStats(int index, String kind) {
        this.index = index;
        this.kind = kind;
    }

    /** Single writer: the worker. */
    private void add(int counter, long delta) {
        counters.lazySet(counter, counters.get(counter) + delta);
    }

    void packet(long bytes) {
        packets(1, bytes);
    }

    /** {@code count} packets of {@code bytes} in all (a worker's batch). */
    void packets(long count, long bytes) {
        add(PACKETS, count);
        add(BYTES, bytes);
    }

    void drop(DropReason reason) {
        add(DROPS + reason.ordinal(), 1);
    }

    void error() {
        add(ERRORS, 1);
    }

    void kick() {
        counters.getAndIncrement(KICKS);
    }

    void interrupt() {
        add(INTERRUPTS, 1);
    }

    public long drops(DropReason reason) {
        return counters.get(DROPS + reason.ordinal());
    }

    @Override
    public int getQueueIndex() {
        return index;
    }

    @Override
    public String getKind() {
        return kind;
    }

    @Override
    public long getPackets() {
        return counters.get(PACKETS);
    }

    @Override
    public long getBytes() {
        return counters.get(BYTES);
    }

    @Override
    public long getDrops() {
        long n = 0;
        for (DropReason r : DropReason.values()) {
            n += drops(r);
        }
        return n;
    }

    @Override
    public long getDropsShortFrame() {
        return drops(DropReason.SHORT_FRAME);
    }

    @Override
    public long getDropsOversized() {
        return drops(DropReason.OVERSIZED);
    }

    @Override
    public long getDropsLinkDown() {
        return drops(DropReason.LINK_DOWN);
    }

    @Override
    public long getDropsBadHeader() {
        return drops(DropReason.BAD_HEADER);
    }

    @Override
    public long getDropsFiltered() {
        return drops(DropReason.FILTERED);
    }

    @Override
    public long getDropsTooBig() {
        return drops(DropReason.TOO_BIG);
    }

    @Override
    public long getDropsUnsupportedOffload() {
        return drops(DropReason.UNSUPPORTED_OFFLOAD);
    }

    @Override
    public long getDropsBackendError() {
        return drops(DropReason.BACKEND_ERROR);
    }

    @Override
    public long getErrors() {
        return counters.get(ERRORS);
    }

    @Override
    public long getKicks() {
        return counters.get(KICKS);
    }

    @Override
    public long getInterrupts() {
        return counters.get(INTERRUPTS);
    }

    @Override
    public String toString() {
        return kind + "[" + index + "] packets=" + getPackets() + " bytes=" + getBytes() + " drops=" + getDrops()
                + " errors=" + getErrors() + " kicks=" + getKicks() + " interrupts=" + getInterrupts();
    }
}
