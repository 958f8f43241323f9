package dev.vnet.net.harness;

import dev.vnet.virtio.GuestErrorListener;
import dev.vnet.virtio.VirtioInterrupt;
import java.util.ArrayList;
import java.util.List;

/**
 * Plays the transport's interrupt and health side: records used-buffer and config notifications, and
 * DEVICE_NEEDS_RESET reports (what virtio-pci would turn into MSI-X messages and the status bit).
 */
public final class TestInterrupts implements VirtioInterrupt, GuestErrorListener {

    private final long[] queueInterrupts = new long[1025];
    private long configInterrupts;
    private final List<String> guestErrors = new ArrayList<>();

    @Override
    public synchronized void queue(int index) {
        queueInterrupts[index]++;
        notifyAll();
    }

    @Override
    public synchronized void config() {
        configInterrupts++;
        notifyAll();
    }

    @Override
    public synchronized void guestError(String reason) {
        guestErrors.add(reason);
        notifyAll();
    }

    public synchronized long queueInterrupts(int index) {
        return queueInterrupts[index];
    }

    public synchronized long configInterrupts() {
        return configInterrupts;
    }

    /** DEVICE_NEEDS_RESET reasons, in order. */
    public synchronized List<String> guestErrors() {
        return List.copyOf(guestErrors);
    }

    public synchronized boolean needsReset() {
        return !guestErrors.isEmpty();
    }

    /** Waits for any notification or up to {@code millis}. */
    public synchronized void await(long millis) throws InterruptedException {
        wait(millis);
    }
}
