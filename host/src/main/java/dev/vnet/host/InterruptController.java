package dev.vnet.host;

import dev.vnet.spi.InterruptLine;
import dev.vnet.spi.MsiSink;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.function.IntConsumer;

/**
 * The reference host's interrupt controller: an x86 local-APIC style MSI decoder (address
 * {@code 0xFEEx_xxxx}, vector in data bits 7:0) and level-triggered INTx pins routed to GSIs. The guest
 * (the driver model) registers a handler per vector and per GSI; delivery runs the handler on the
 * sending thread, as an interrupt would preempt a vCPU. Counts every delivery.
 */
public final class InterruptController implements MsiSink {

    /** x86 MSI address window. */
    public static final long MSI_ADDRESS_BASE = 0xFEE0_0000L;
    public static final int VECTORS = 256;

    private final Map<Integer, IntConsumer> vectorHandlers = new ConcurrentHashMap<>();
    private final Map<Integer, Runnable> gsiHandlers = new ConcurrentHashMap<>();
    private final AtomicLongArray vectorCounts = new AtomicLongArray(VECTORS);
    private final Map<Integer, Boolean> gsiLevels = new ConcurrentHashMap<>();
    private volatile long strayMessages;

    /** The MSI address a guest programs to reach CPU {@code apicId}. */
    public static long msiAddress(int apicId) {
        return MSI_ADDRESS_BASE | ((long) (apicId & 0xFF) << 12);
    }

    /** Runs {@code handler} with the vector number whenever an MSI with that vector arrives. */
    public void onVector(int vector, IntConsumer handler) {
        vectorHandlers.put(vector, handler);
    }

    /** Runs {@code handler} whenever INTx routed to {@code gsi} is asserted (level: it repeats until lowered). */
    public void onGsi(int gsi, Runnable handler) {
        gsiHandlers.put(gsi, handler);
    }

    @Override
    public void send(long address, int data) {
        if ((address & 0xFFF0_0000L) != MSI_ADDRESS_BASE) {
            strayMessages++;
            return;
        }
        int vector = data & 0xFF;
        vectorCounts.incrementAndGet(vector);
        IntConsumer h = vectorHandlers.get(vector);
        if (h != null) {
            h.accept(vector);
        }
    }

    /** The INTx input wired to {@code gsi} (the host routes a slot's INTA# there). */
    public InterruptLine line(int gsi) {
        return asserted -> {
            Boolean was = gsiLevels.put(gsi, asserted);
            if (asserted && !Boolean.TRUE.equals(was)) {
                Runnable h = gsiHandlers.get(gsi);
                if (h != null) {
                    h.run();
                }
            }
        };
    }

    public boolean level(int gsi) {
        return gsiLevels.getOrDefault(gsi, false);
    }

    public long deliveries(int vector) {
        return vectorCounts.get(vector);
    }

    /** MSI writes outside the APIC window (a misprogrammed vector). */
    public long strayMessages() {
        return strayMessages;
    }
}
