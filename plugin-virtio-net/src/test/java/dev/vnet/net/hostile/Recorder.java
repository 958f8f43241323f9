package dev.vnet.net.hostile;

import dev.vnet.virtio.GuestErrorListener;
import dev.vnet.virtio.VirtioInterrupt;
import java.util.ArrayList;
import java.util.List;
import java.util.function.BooleanSupplier;

/** The transport's interrupt and DEVICE_NEEDS_RESET side for fuzz targets: counts, records, wakes waiters. */
final class Recorder implements VirtioInterrupt, GuestErrorListener {

    private final List<String> errors = new ArrayList<>();
    private long interrupts;

    @Override
    public synchronized void queue(int index) {
        interrupts++;
        notifyAll();
    }

    @Override
    public synchronized void config() {
        interrupts++;
        notifyAll();
    }

    @Override
    public synchronized void guestError(String reason) {
        errors.add(reason);
        notifyAll();
    }

    synchronized boolean needsReset() {
        return !errors.isEmpty();
    }

    synchronized List<String> errors() {
        return List.copyOf(errors);
    }

    synchronized void clear() {
        errors.clear();
        interrupts = 0;
    }

    /** Waits until {@code done} holds or {@code millis} pass; true when it holds. */
    boolean await(BooleanSupplier done, long millis) throws InterruptedException {
        long deadline = System.nanoTime() + millis * 1_000_000L;
        synchronized (this) {
            while (!done.getAsBoolean()) {
                long left = (deadline - System.nanoTime()) / 1_000_000L;
                if (left <= 0) {
                    return false;
                }
                wait(Math.min(left, 2));
            }
            return true;
        }
    }
}
