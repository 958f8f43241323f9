package dev.vnet.net;

import dev.vnet.virtio.DeviceWorker;
import dev.vnet.virtio.GuestErrorListener;
import java.util.concurrent.TimeUnit;

/**
 * The platform thread serving one queue pair: each step runs the TX path, then the RX path. Woken by
 * kicks on either queue and by the backend's readiness callbacks for this pair's backend queue. One of
 * the two paths may be absent (the driver did not enable that queue, or reset it with RING_RESET).
 */
final class QueuePairWorker {

    private static final long STOP_TIMEOUT_SECONDS = 10;

    private final String name;
    private final GuestErrorListener errors;
    private final long pollNanos;
    private volatile TxPath tx;
    private volatile RxPath rx;
    private DeviceWorker worker;

    /** @param pollNanos busy-poll time before parking (0: park as soon as both queues are idle) */
    QueuePairWorker(String name, TxPath tx, RxPath rx, GuestErrorListener errors, long pollNanos) {
        this.name = name;
        this.pollNanos = pollNanos;
        this.tx = tx;
        this.rx = rx;
        this.errors = errors;
    }

    TxPath tx() {
        return tx;
    }

    RxPath rx() {
        return rx;
    }

    /** Replaces the paths; only while stopped. */
    void setPaths(TxPath tx, RxPath rx) {
        this.tx = tx;
        this.rx = rx;
    }

    synchronized void start() {
        if (worker == null && (tx != null || rx != null)) {
            worker = new DeviceWorker(name, new DeviceWorker.Step() {
                @Override
                public boolean run() {
                    return step();
                }

                @Override
                public boolean poll() {
                    return pollStep();
                }
            }, errors, pollNanos).start();
            worker.wake();
        }
    }

    /** Stops and joins the thread; idempotent. */
    synchronized void stop() {
        if (worker != null) {
            if (!worker.stop(STOP_TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
                throw new IllegalStateException("worker " + name + " did not stop within " + STOP_TIMEOUT_SECONDS + " s");
            }
            worker = null;
        }
    }

    void wake() {
        DeviceWorker w = worker;
        if (w != null) {
            w.wake();
        }
    }

    /** The backend has room again for this pair's TX. */
    void writable() {
        TxPath t = tx;
        if (t != null) {
            t.writable();
        }
        wake();
    }

    private boolean step() {
        boolean more = false;
        TxPath t = tx;
        if (t != null) {
            more |= t.process();
        }
        RxPath r = rx;
        if (r != null) {
            more |= r.process();
        }
        return more;
    }

    private boolean pollStep() {
        boolean worked = false;
        TxPath t = tx;
        if (t != null) {
            worked |= t.poll();
        }
        RxPath r = rx;
        if (r != null) {
            worked |= r.poll();
        }
        return worked;
    }
}
