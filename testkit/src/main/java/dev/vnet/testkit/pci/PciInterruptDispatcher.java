package dev.vnet.testkit.pci;

import dev.vnet.spi.InterruptLine;
import dev.vnet.spi.MsiSink;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The guest's interrupt side for a virtio-pci function, acting as the host interrupt controller
 * ({@link MsiSink} and {@link InterruptLine}) and as Linux's handlers behind it: MSI-X message data maps
 * to a vector ({@code data = DATA_BASE + vector}, as the driver model programs the table), a vector to
 * its handler ({@code vring_interrupt} for one queue, {@code vp_vring_interrupt} for all queues,
 * {@code vp_config_changed}); every handler run counts one "callback" per queue or for the config. INTx
 * is level only: the driver's {@code vp_interrupt} reads the ISR on the test thread
 * ({@link VirtioPciDriver#handleIntx}) and calls {@link #dispatchIsr}.
 *
 * <p>Thread-safe: device workers deliver, the test thread waits.
 */
public final class PciInterruptDispatcher implements MsiSink, InterruptLine {

    /** The x86 local APIC doorbell the driver model writes into every table entry. */
    public static final long MSI_ADDRESS = 0xFEE0_0000L;
    /** Message data of vector {@code v} is {@code DATA_BASE + v}. */
    public static final int DATA_BASE = 0x4000;
    /** The most queues a test binds. */
    public static final int MAX_QUEUES = 256;

    private final List<int[]> queuesOfVector = new ArrayList<>();
    private int configVector = -1;
    private final long[] queueCallbacks = new long[MAX_QUEUES];
    private long configCallbacks;
    private final long[] vectorMessages = new long[2048];
    private long strayMessages;
    private boolean intx;
    private int intxChanges;

    // ---- host side ----

    @Override
    public synchronized void send(long address, int data) {
        int vector = data - DATA_BASE;
        if (address != MSI_ADDRESS || vector < 0 || vector >= vectorMessages.length) {
            strayMessages++;
            notifyAll();
            return;
        }
        vectorMessages[vector]++;
        if (vector == configVector) {
            configCallbacks++;
        }
        if (vector < queuesOfVector.size() && queuesOfVector.get(vector) != null) {
            for (int q : queuesOfVector.get(vector)) {
                queueCallbacks[q]++;
            }
        }
        notifyAll();
    }

    @Override
    public synchronized void set(boolean asserted) {
        if (asserted != intx) {
            intx = asserted;
            intxChanges++;
            notifyAll();
        }
    }

    // ---- driver side ----

    /** {@code request_irq} of a vector for queues (one: vring_interrupt; several: vp_vring_interrupt). */
    public synchronized void bindQueues(int vector, int... queues) {
        while (queuesOfVector.size() <= vector) {
            queuesOfVector.add(null);
        }
        queuesOfVector.set(vector, queues.clone());
    }

    /** {@code request_irq} of the config vector. */
    public synchronized void bindConfig(int vector) {
        configVector = vector;
    }

    /** {@code free_irq} of everything (vp_del_vqs). */
    public synchronized void unbindAll() {
        queuesOfVector.clear();
        configVector = -1;
    }

    /** vp_interrupt after reading the ISR: bit 0 runs every queue's callback, bit 1 the config one. */
    public synchronized void dispatchIsr(int isr, int queueCount) {
        if ((isr & 1) != 0) {
            for (int q = 0; q < queueCount; q++) {
                queueCallbacks[q]++;
            }
        }
        if ((isr & 2) != 0) {
            configCallbacks++;
        }
        notifyAll();
    }

    public synchronized long queueCallbacks(int queue) {
        return queueCallbacks[queue];
    }

    public synchronized long configCallbacks() {
        return configCallbacks;
    }

    /** Messages that arrived for {@code vector}. */
    public synchronized long messages(int vector) {
        return vectorMessages[vector];
    }

    public synchronized long totalMessages() {
        return Arrays.stream(vectorMessages).sum() + strayMessages;
    }

    /** Messages whose address or data matched no programmed vector. */
    public synchronized long strayMessages() {
        return strayMessages;
    }

    public synchronized boolean intxAsserted() {
        return intx;
    }

    public synchronized int intxChanges() {
        return intxChanges;
    }

    /** Waits for any delivery or level change, at most {@code timeout}. */
    public synchronized void awaitChange(long timeout, TimeUnit unit) throws InterruptedException {
        if (timeout > 0) {
            TimeUnit.NANOSECONDS.timedWait(this, unit.toNanos(timeout));
        }
    }
}
