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
 * <p>An exception escaping a step is a device bug, not a guest action: it is logged, reported to the
 * {@link GuestErrorListener} so the guest sees DEVICE_NEEDS_RESET, and the worker stops. It never
 * reaches the vCPU thread.
 */
public final class DeviceWorker {

    /** One round of work. */
    @FunctionalInterface
    public interface Step {
        /** @return true when more work is already known to be pending (run again without parking) */
        boolean run();
    }

    private static final Logger LOG = LoggerFactory.getLogger(DeviceWorker.class);
    /** Steps that threw, JVM-wide: each one is a device bug (guest errors never throw). */
    private static final AtomicLong FAILURES = new AtomicLong();

    private final Thread thread;
    private final Step step;
    private final GuestErrorListener errors;
    private volatile boolean wakeup;
    private volatile boolean stopping;

    public DeviceWorker(String name, Step step, GuestErrorListener errors) {
        this.step = step;
        this.errors = errors;
        this.thread = Thread.ofPlatform().name(name).daemon(true).unstarted(this::loop);
    }

    public DeviceWorker start() {
        thread.start();
        return this;
    }

    /** Makes the worker run a step soon; cheap, callable from any thread. */
    public void wake() {
        wakeup = true;
        LockSupport.unpark(thread);
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

    public boolean isCurrentThread() {
        return Thread.currentThread() == thread;
    }

    private void loop() {
        try {
            while (!stopping) {
                wakeup = false;
                boolean more = step.run();
                if (!more && !wakeup && !stopping) {
                    LockSupport.park(this);
                }
            }
        } catch (RuntimeException | Error e) {
            FAILURES.incrementAndGet();
            LOG.error("device worker {} failed; the device needs a reset", thread.getName(), e);
            errors.guestError("device worker " + thread.getName() + " stopped: " + e);
        }
    }
}
