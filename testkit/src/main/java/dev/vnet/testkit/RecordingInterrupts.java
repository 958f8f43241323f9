package dev.vnet.testkit;

import dev.vnet.spi.InterruptLine;
import dev.vnet.spi.MsiSink;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A host interrupt controller for tests: records every MSI/MSI-X message and every INTx level change,
 * and lets a test wait for one. Thread-safe (device workers deliver, the test thread waits).
 */
public final class RecordingInterrupts implements MsiSink, InterruptLine {

    /** One MSI message. */
    public record Message(long address, int data) {
    }

    private final List<Message> messages = new ArrayList<>();
    private final List<Boolean> intxChanges = new ArrayList<>();
    private boolean intx;

    @Override
    public synchronized void send(long address, int data) {
        messages.add(new Message(address, data));
        notifyAll();
    }

    @Override
    public synchronized void set(boolean asserted) {
        if (asserted != intx) {
            intx = asserted;
            intxChanges.add(asserted);
            notifyAll();
        }
    }

    public synchronized List<Message> messages() {
        return List.copyOf(messages);
    }

    /** Messages whose data word is {@code data} (the vector's payload). */
    public synchronized long count(int data) {
        return messages.stream().filter(m -> m.data() == data).count();
    }

    public synchronized boolean intxAsserted() {
        return intx;
    }

    /** Every level change of INTx, in order (true = asserted). */
    public synchronized List<Boolean> intxChanges() {
        return List.copyOf(intxChanges);
    }

    public synchronized void clear() {
        messages.clear();
        intxChanges.clear();
    }

    /** Waits until at least {@code n} messages carry {@code data}; false on timeout. */
    public synchronized boolean awaitCount(int data, long n, long timeout, TimeUnit unit) throws InterruptedException {
        long deadline = System.nanoTime() + unit.toNanos(timeout);
        while (count(data) < n) {
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                return false;
            }
            TimeUnit.NANOSECONDS.timedWait(this, left);
        }
        return true;
    }

    /** Waits until INTx is asserted; false on timeout. */
    public synchronized boolean awaitIntx(long timeout, TimeUnit unit) throws InterruptedException {
        long deadline = System.nanoTime() + unit.toNanos(timeout);
        while (!intx) {
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                return false;
            }
            TimeUnit.NANOSECONDS.timedWait(this, left);
        }
        return true;
    }
}
