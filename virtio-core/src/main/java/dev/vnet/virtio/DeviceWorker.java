package dev.vnet.virtio;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A platform thread that runs a device's datapath step until told to stop: woken by kicks (from the
 * vCPU thread) and by backend readiness (from a backend thread), parked otherwise. Platform, not virtual,
 * because backends make blocking native calls that would pin a carrier thread.
 *
 * <p>Waking is cheap when the worker is running: {@link #wake} only unparks a thread that announced it
 * is about to park (a volatile flag on each side, so a wakeup is never lost), so a kick that races with
 * a busy worker costs two plain stores on x86 instead of a futex call.
 *
 * <p>Optional busy polling (vhost-net's {@code busyloop_timeout}): with {@link Step#poll} implemented
 * and a non-zero poll time, a worker whose step found nothing spins on {@code poll} for up to that long
 * before it re-arms notifications and parks, trading a CPU for the latency and cost of notifications.
 *
 * <p>An exception escaping a step is a device bug, not a guest action: it is logged, reported to the
 * {@link GuestErrorListener} so the guest sees DEVICE_NEEDS_RESET, and the worker stops. It never
 * reaches the vCPU thread. The one exception is a fault in an access to guest memory ({@link
 * MemoryFault}: the memory behind the mapping shrank, which the guest's side can do to a vhost-user
 * back-end): not a device bug, it is counted apart ({@link #memoryFaults}) and reported once through
 * {@link GuestErrorListener#memoryFault}, and the worker stops.
 */
public final class DeviceWorker {

    /** One round of work. */
    @FunctionalInterface
    public interface Step {
        /** @return true when more work is already known to be pending (run again without parking) */
        boolean run();

        /**
         * Busy-poll probe: processes what is there without arming notifications.
         *
         * @return true when it found work (the worker then runs {@link #run} again)
         */
        default boolean poll() {
            return false;
        }
    }

    private static final Logger LOG = LoggerFactory.getLogger(DeviceWorker.class);
    /** Steps that threw, JVM-wide: each one is a device bug (guest errors never throw). */
    private static final AtomicLong FAILURES = new AtomicLong();
    /** Workers stopped by a faulting access to guest memory, JVM-wide. */
    private static final AtomicLong MEMORY_FAULTS = new AtomicLong();

    private final Thread thread;
    private final Step step;
    private final GuestErrorListener errors;
    private final long pollNanos;
    private volatile boolean wakeup;
    private volatile boolean parked;
    private volatile boolean stopping;

    public DeviceWorker(String name, Step step, GuestErrorListener errors) {
        this(name, step, errors, 0);
    }

    /** @param pollNanos how long to busy-poll {@link Step#poll} before parking; 0 parks at once */
    public DeviceWorker(String name, Step step, GuestErrorListener errors, long pollNanos) {
        this.step = step;
        this.errors = errors;
        this.pollNanos = Math.max(0, pollNanos);
        this.thread = Thread.ofPlatform().name(name).daemon(true).unstarted(this::loop);
    }

    public DeviceWorker start() {
        thread.start();
        return this;
    }

    /** Makes the worker run a step soon; cheap, callable from any thread. */
    public void wake() {
        wakeup = true;
        if (parked) {
            LockSupport.unpark(thread);
        }
    }

    /**
     * Stops the worker and waits for its current step to end; idempotent. Returns false if the thread
     * did not finish within the timeout (it is then left to exit on its own).
     */
    public boolean stop(long timeout, TimeUnit unit) {
        stopping = true;
        LockSupport.unpark(thread);
        if (Thread.currentThread() == thread || !thread.isAlive()) {
            return true;
        }
        try {
            thread.join(unit.toMillis(timeout));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        return !thread.isAlive();
    }

    /**
     * How many workers, in this JVM, stopped because a step threw. Guest errors are reported without
     * throwing, so a non-zero value is a device bug; fuzz and soak tests assert it does not move.
     */
    public static long failures() {
        return FAILURES.get();
    }

    /**
     * How many workers, in this JVM, stopped because an access to guest memory faulted ({@link
     * MemoryFault}): the peer shrank the memory under the device. Not counted in {@link #failures}.
     */
    public static long memoryFaults() {
        return MEMORY_FAULTS.get();
    }

    public boolean isCurrentThread() {
        return Thread.currentThread() == thread;
    }

    private void loop() {
        try {
            boolean polled = false;
            while (!stopping) {
                wakeup = false;
                boolean more = step.run();
                if (more || wakeup || stopping) {
                    polled = false;
                    continue;
                }
                if (pollNanos > 0 && !polled) {
                    // Poll without notifications until idle for pollNanos, then one more run() re-arms them
                    // and re-checks before parking.
                    busyPoll();
                    polled = true;
                    continue;
                }
                polled = false;
                parked = true;
                if (!wakeup && !stopping) {
                    LockSupport.park(this);
                }
                parked = false;
            }
        } catch (RuntimeException | Error e) {
            if (MemoryFault.is(e)) {
                MEMORY_FAULTS.incrementAndGet();
                LOG.debug("device worker {}: guest memory access faulted", thread.getName(), e);
                errors.memoryFault("device worker " + thread.getName() + " stopped: guest memory access faulted ("
                        + e.getMessage() + ")");
                return;
            }
            FAILURES.incrementAndGet();
            LOG.error("device worker {} failed; the device needs a reset", thread.getName(), e);
            errors.guestError("device worker " + thread.getName() + " stopped: " + e);
        }
    }

    /**
     * Runs {@link Step#poll} until it found nothing for {@link #pollNanos} (or the worker stops). Every
     * {@value #POLLS_PER_YIELD} idle polls it yields the CPU, the nearest a JVM thread gets to vhost's
     * {@code need_resched()} check: on an oversubscribed host a spinning worker must not starve the vCPU
     * that would give it work.
     */
    private void busyPoll() {
        long deadline = System.nanoTime() + pollNanos;
        int idle = 0;
        while (!stopping) {
            if (step.poll()) {
                deadline = System.nanoTime() + pollNanos;
                idle = 0;
            } else if (System.nanoTime() - deadline >= 0) {
                return;
            } else if (++idle % POLLS_PER_YIELD == 0) {
                Thread.yield();
            } else {
                Thread.onSpinWait();
            }
        }
    }

    private static final int POLLS_PER_YIELD = 32;
}
