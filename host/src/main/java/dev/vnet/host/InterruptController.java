package dev.vnet.host;

import dev.vnet.spi.InterruptLine;
import dev.vnet.spi.MsiSink;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * The reference host's interrupt controller: it accepts MSI/MSI-X writes in the x86 local-APIC window
 * ({@code 0xFEEx_xxxx}, vector in data bits 7:0) and level-triggered INTx pins routed to GSIs, counts
 * them, and delivers them to the guest's interrupt entry (the driver model's dispatcher), as an
 * interrupt would preempt a vCPU. Delivery runs on the sending thread.
 */
public final class InterruptController implements MsiSink {

    /** x86 MSI address window. */
    public static final long MSI_ADDRESS_BASE = 0xFEE0_0000L;
    public static final int VECTORS = 256;

    private final AtomicLongArray vectorCounts = new AtomicLongArray(VECTORS);
    private final Map<Integer, InterruptLine> gsiTargets = new ConcurrentHashMap<>();
    private final Map<Integer, Boolean> gsiLevels = new ConcurrentHashMap<>();
    private final AtomicLong strayMessages = new AtomicLong();
    private volatile MsiSink cpu = (address, data) -> { };

    /** The MSI address a guest programs to reach CPU {@code apicId}. */
    public static long msiAddress(int apicId) {
        return MSI_ADDRESS_BASE | ((long) (apicId & 0xFF) << 12);
    }

    /** Where accepted MSI messages go (the guest's interrupt entry). */
    public void connectCpu(MsiSink guest) {
        this.cpu = guest;
    }

    /** Where the level of {@code gsi} goes (the guest's handler for that pin). */
    public void connectGsi(int gsi, InterruptLine guest) {
        gsiTargets.put(gsi, guest);
        if (level(gsi)) {
            guest.set(true);
        }
    }

    @Override
    public void send(long address, int data) {
        if ((address & 0xFFF0_0000L) != MSI_ADDRESS_BASE) {
            strayMessages.incrementAndGet();
            return;
        }
        vectorCounts.incrementAndGet(data & 0xFF);
        cpu.send(address, data);
    }

    /** The INTx input wired to {@code gsi} (the host routes a slot's INTA# there). */
    public InterruptLine line(int gsi) {
        return asserted -> {
            gsiLevels.put(gsi, asserted);
            InterruptLine target = gsiTargets.get(gsi);
            if (target != null) {
                target.set(asserted);
            }
        };
    }

    public boolean level(int gsi) {
        return gsiLevels.getOrDefault(gsi, false);
    }

    /** Messages accepted for {@code vector}. */
    public long deliveries(int vector) {
        return vectorCounts.get(vector);
    }

    /** MSI writes outside the APIC window (a misprogrammed vector). */
    public long strayMessages() {
        return strayMessages.get();
    }
}
