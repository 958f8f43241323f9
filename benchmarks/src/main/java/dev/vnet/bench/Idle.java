package dev.vnet.bench;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;
import java.util.concurrent.locks.LockSupport;

/**
 * How the RX driver waits for an empty used ring, as an idle Linux guest does once a NAPI poll found
 * nothing: it polls the used ring (spinning, then yielding) for up to {@link #HALT_POLL_NANOS}, as KVM's
 * {@code halt_poll_ns} polls for a halted vCPU, then re-enables the used-buffer interrupt (EVENT_IDX
 * {@code used_event} = the next entry, as {@code virtqueue_enable_cb}), re-checks the ring and halts
 * (parks) until the device's interrupt ({@link #interrupt}); afterwards it disables the interrupt again
 * ({@code used_event} = 0, as Linux's {@code virtqueue_disable_cb} writes). A halted vCPU takes no host
 * CPU, which matters on a host whose cores the device worker and the backend need.
 */
final class Idle {

    /**
     * How long an unchanged used ring is polled before the driver halts; -1 never halts (poll forever).
     * {@code -Dvnet.bench.haltPollMicros}, default 50.
     */
    static final long HALT_POLL_NANOS = Long.getLong("vnet.bench.haltPollMicros", 50) * 1000;

    private static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final VarHandle U16_HANDLE = U16.varHandle();

    private final MemorySegment avail;
    private final MemorySegment used;
    private final long usedEventOffset;
    /** The driver's thread while it is halted, for {@link #interrupt}. */
    private volatile Thread halted;
    private long halts;

    /**
     * @param avail the avail ring ({@code used_event} at its end)
     * @param used  the used ring
     * @param n     the queue size
     */
    Idle(MemorySegment avail, MemorySegment used, int n) {
        this.avail = avail;
        this.used = used;
        this.usedEventOffset = 4 + 2L * n;
    }

    int usedIdx() {
        return Short.toUnsignedInt((short) U16_HANDLE.getAcquire(used, 2L));
    }

    /**
     * Waits until used.idx differs from {@code seen}; when it halts, the interrupt is armed for the
     * device's next used entry.
     *
     * @return the new used.idx
     */
    int awaitUsed(int seen) {
        int spins = 0;
        long since = 0;
        int idx;
        while ((idx = usedIdx()) == seen) {
            Waits.pause(++spins);
            if (HALT_POLL_NANOS >= 0 && (spins & 63) == 0) {
                long now = System.nanoTime();
                if (since == 0) {
                    since = now;
                } else if (now - since > HALT_POLL_NANOS) {
                    return halt(seen);
                }
            }
        }
        return idx;
    }

    private int halt(int seen) {
        halted = Thread.currentThread();
        U16_HANDLE.setVolatile(avail, usedEventOffset, (short) seen);
        VarHandle.fullFence();
        int idx;
        while ((idx = usedIdx()) == seen) {
            LockSupport.parkNanos(this, 1_000_000L); // bounded: a lost interrupt costs 1 ms, not a hang
        }
        halted = null;
        avail.set(U16, usedEventOffset, (short) 0);
        halts++;
        return idx;
    }

    /** The device's used-buffer interrupt for this queue: wakes a halted driver. */
    void interrupt() {
        Thread t = halted;
        if (t != null) {
            LockSupport.unpark(t);
        }
    }

    long halts() {
        return halts;
    }

    void resetHalts() {
        halts = 0;
    }
}
