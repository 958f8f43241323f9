package dev.vnet.host;

import dev.vnet.spi.MmioBus;
import dev.vnet.spi.PciBar;
import dev.vnet.spi.PciFunction;
import dev.vnet.spi.PciFunctionContext;
import dev.vnet.spi.PciHost;
import dev.vnet.spi.PioHandler;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicReferenceArray;

/**
 * PCI bus 0 of the reference host with configuration mechanism #1: the guest writes an address to port
 * {@code 0xCF8} (bit 31 enable, bus 23:16, device 15:11, function 10:8, register 7:2) and accesses the
 * dword at {@code 0xCFC..0xCFF}. Absent functions read as all-ones.
 *
 * <p>{@link #plug} attaches a function; {@link #assignBars} plays the firmware: it sizes every BAR with
 * the all-ones protocol through configuration space, places it in the MMIO window, and enables memory
 * decoding and bus mastering, as SeaBIOS or OVMF would before the guest kernel runs.
 */
public final class PciRootBus implements PciHost {

    public static final int CONFIG_ADDRESS_PORT = 0xCF8;
    public static final int CONFIG_DATA_PORT = 0xCFC;
    public static final int SLOTS = 32;
    public static final int FUNCTIONS = 8;

    private static final int COMMAND = 0x04;
    private static final int BAR0 = 0x10;
    private static final int INTERRUPT_LINE = 0x3C;
    private static final int COMMAND_MEMORY = 1 << 1;
    private static final int COMMAND_BUS_MASTER = 1 << 2;

    private final AddressSpace mmio;
    private final PortSpace pio;
    private final InterruptController interrupts;
    private final AtomicReferenceArray<PciFunction> functions = new AtomicReferenceArray<>(SLOTS * FUNCTIONS);
    private volatile int configAddress;
    private long nextMmio32;
    private long nextMmio64;

    /**
     * @param mmio32Base start of the 32-bit MMIO window BARs are placed in (e.g. {@code 0xE000_0000})
     * @param mmio64Base start of the 64-bit window for 64-bit BARs (e.g. {@code 0x80_0000_0000})
     */
    public PciRootBus(AddressSpace mmio, PortSpace pio, InterruptController interrupts, long mmio32Base,
                      long mmio64Base) {
        this.mmio = mmio;
        this.pio = pio;
        this.interrupts = interrupts;
        this.nextMmio32 = mmio32Base;
        this.nextMmio64 = mmio64Base;
        pio.map(CONFIG_ADDRESS_PORT, 4, new PioHandler() {
            @Override
            public int in(int offset, int size) {
                return offset == 0 && size == 4 ? configAddress : -1;
            }

            @Override
            public void out(int offset, int size, int value) {
                if (offset == 0 && size == 4) {
                    configAddress = value;
                }
            }
        });
        pio.map(CONFIG_DATA_PORT, 4, new PioHandler() {
            @Override
            public int in(int offset, int size) {
                return configRead(offset, size);
            }

            @Override
            public void out(int offset, int size, int value) {
                configWrite(offset, size, value);
            }
        });
    }

    /** The GSI the reference host routes slot {@code slot}'s INTA# to (swizzle-free: 16 + slot % 8). */
    public static int gsiFor(int slot) {
        return 16 + (slot % 8);
    }

    /**
     * Attaches {@code function} at {@code slot}.{@code fn} (slot {@link #ANY_SLOT}: the first free slot
     * from 1; slot 0 is the host bridge's on a PC) and wires its buses and INTx pin.
     */
    @Override
    public synchronized int plug(int slot, int fn, PciFunction function) {
        if (slot == ANY_SLOT) {
            slot = 1;
            while (slot < SLOTS && functions.get(slot * FUNCTIONS + fn) != null) {
                slot++;
            }
            if (slot == SLOTS) {
                throw new IllegalArgumentException("no free PCI slot for function " + fn);
            }
        }
        int index = slot * FUNCTIONS + fn;
        if (slot < 0 || slot >= SLOTS || fn < 0 || fn >= FUNCTIONS) {
            throw new IllegalArgumentException("PCI slot " + slot + "." + fn + " out of range (0..31.0..7)");
        }
        if (!functions.compareAndSet(index, null, function)) {
            throw new IllegalArgumentException("PCI slot " + slot + "." + fn + " is taken");
        }
        function.attach(new PciFunctionContext(mmio, pio, interrupts.line(gsiFor(slot)), interrupts));
        return slot;
    }

    /** Detaches the function at {@code slot}.{@code fn}, if any; its owner closes it. */
    @Override
    public void unplug(int slot, int fn) {
        functions.set(slot * FUNCTIONS + fn, null);
    }

    public PciFunction function(int slot, int fn) {
        return functions.get(slot * FUNCTIONS + fn);
    }

    /**
     * Firmware BAR assignment for {@code slot}.{@code fn}: sizes each BAR by writing all-ones and reading
     * the mask back, aligns it to its size in the right window, programs it, then enables memory decoding
     * and bus mastering.
     *
     * @return the BARs as assigned, for logs and the demo transcript
     */
    public synchronized List<AssignedBar> assignBars(int slot, int fn) {
        PciFunction f = function(slot, fn);
        if (f == null) {
            throw new IllegalArgumentException("no function at " + slot + "." + fn);
        }
        List<AssignedBar> assigned = new ArrayList<>();
        for (int bar = 0; bar < 6; bar++) {
            int reg = BAR0 + 4 * bar;
            int original = f.configRead(reg, 4);
            f.configWrite(reg, 4, -1);
            int low = f.configRead(reg, 4);
            f.configWrite(reg, 4, original);
            if (low == 0 || (low & 1) != 0) {
                continue; // unimplemented, or an I/O BAR the reference host leaves unassigned
            }
            boolean is64 = ((low >>> 1) & 3) == 2;
            long mask = low & 0xFFFF_FFF0L;
            if (is64) {
                int high = f.configRead(reg + 4, 4);
                f.configWrite(reg + 4, 4, -1);
                mask |= Integer.toUnsignedLong(f.configRead(reg + 4, 4)) << 32;
                f.configWrite(reg + 4, 4, high);
            } else {
                mask |= 0xFFFF_FFFF_0000_0000L;
            }
            long size = -mask;
            long base;
            if (is64) {
                base = align(nextMmio64, size);
                nextMmio64 = base + size;
            } else {
                base = align(nextMmio32, size);
                nextMmio32 = base + size;
            }
            f.configWrite(reg, 4, (int) base);
            if (is64) {
                f.configWrite(reg + 4, 4, (int) (base >>> 32));
            }
            assigned.add(new AssignedBar(bar, base, size, is64 ? PciBar.Kind.MEMORY64 : PciBar.Kind.MEMORY32));
            if (is64) {
                bar++;
            }
        }
        f.configWrite(INTERRUPT_LINE, 1, gsiFor(slot));
        int command = f.configRead(COMMAND, 2);
        f.configWrite(COMMAND, 2, command | COMMAND_MEMORY | COMMAND_BUS_MASTER);
        return assigned;
    }

    /** A BAR as the firmware placed it. */
    public record AssignedBar(int index, long base, long size, PciBar.Kind kind) {
    }

    private int configRead(int offset, int size) {
        PciFunction f = selected();
        int reg = (configAddress & 0xFC) + offset;
        if (f == null || !aligned(offset, size)) {
            return size == 4 ? -1 : (1 << (8 * size)) - 1;
        }
        return f.configRead(reg, size);
    }

    private void configWrite(int offset, int size, int value) {
        PciFunction f = selected();
        if (f != null && aligned(offset, size)) {
            f.configWrite((configAddress & 0xFC) + offset, size, value);
        }
    }

    private PciFunction selected() {
        int a = configAddress;
        if ((a & 0x8000_0000) == 0 || ((a >>> 16) & 0xFF) != 0) {
            return null;
        }
        return functions.get(((a >>> 11) & 0x1F) * FUNCTIONS + ((a >>> 8) & 7));
    }

    private static boolean aligned(int offset, int size) {
        return (size == 1 || size == 2 || size == 4) && offset % size == 0 && offset + size <= 4;
    }

    private static long align(long value, long alignment) {
        return (value + alignment - 1) & -alignment;
    }

    /** Mechanism #1 address for a register, as a guest kernel computes it. */
    public static int configAddress(int slot, int fn, int register) {
        return 0x8000_0000 | (slot << 11) | (fn << 8) | (register & 0xFC);
    }

    /** The MMIO bus functions on this root bus map their BARs on. */
    public MmioBus mmio() {
        return mmio;
    }
}
