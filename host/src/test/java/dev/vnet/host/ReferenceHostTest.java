package dev.vnet.host;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.mockito.Mockito.mock;
import static org.mockito.Mockito.never;
import static org.mockito.Mockito.verify;
import static org.mockito.Mockito.when;

import dev.vnet.spi.MmioBus;
import dev.vnet.spi.MmioHandler;
import dev.vnet.spi.PciBar;
import dev.vnet.spi.PciFunction;
import dev.vnet.spi.PciFunctionContext;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The reference host's buses, mechanism #1 and firmware BAR assignment, against a minimal function. */
class ReferenceHostTest {

    /** A function with vendor/device ids, a command register, one 64-bit 16 KiB BAR at 0 and an interrupt line. */
    static final class MinimalFunction implements PciFunction {
        final MmioHandler registers = mock(MmioHandler.class);
        PciFunctionContext context;
        long barAddress;
        int command;
        int interruptLine;
        MmioBus.Mapping mapping;

        @Override
        public void attach(PciFunctionContext context) {
            this.context = context;
        }

        @Override
        public int configRead(int offset, int size) {
            int dword = switch (offset & ~3) {
                case 0x00 -> 0x1041_1AF4;
                case 0x04 -> command;
                case 0x10 -> (int) barAddress | 0b100;
                case 0x14 -> (int) (barAddress >>> 32);
                case 0x3C -> interruptLine | (1 << 8);
                default -> 0;
            };
            return (dword >>> (8 * (offset & 3))) & (size == 4 ? -1 : (1 << (8 * size)) - 1);
        }

        @Override
        public void configWrite(int offset, int size, int value) {
            switch (offset) {
                case 0x04 -> {
                    command = value & 0xFFFF;
                    remap();
                }
                case 0x10 -> barAddress = (barAddress & 0xFFFF_FFFF_0000_0000L) | (value & 0xFFFF_C000L);
                case 0x14 -> barAddress = (barAddress & 0xFFFF_FFFFL) | ((long) value << 32);
                case 0x3C -> interruptLine = value & 0xFF;
                default -> { }
            }
        }

        private void remap() {
            if (mapping != null) {
                mapping.close();
                mapping = null;
            }
            if ((command & 2) != 0) {
                mapping = context.mmio().map(barAddress, 0x4000, registers);
            }
        }

        @Override
        public List<PciBar> bars() {
            return List.of(new PciBar(0, 0x4000, PciBar.Kind.MEMORY64, false));
        }

        @Override
        public void close() {
        }
    }

    private final AddressSpace mmio = new AddressSpace();
    private final PortSpace pio = new PortSpace();
    private final InterruptController irq = new InterruptController();
    private final PciRootBus bus = new PciRootBus(mmio, pio, irq, 0xE000_0000L, 0x80_0000_0000L);

    private int cfgRead(int slot, int reg, int size) {
        pio.out(PciRootBus.CONFIG_ADDRESS_PORT, 4, PciRootBus.configAddress(slot, 0, reg));
        return pio.in(PciRootBus.CONFIG_DATA_PORT + (reg & 3), size);
    }

    @Test
    void mechanismOneReadsTheFunctionAndAllOnesForEmptySlots() {
        bus.plug(3, 0, new MinimalFunction());
        assertThat(cfgRead(3, 0, 2)).isEqualTo(0x1AF4);
        assertThat(cfgRead(3, 2, 2)).isEqualTo(0x1041);
        assertThat(cfgRead(3, 0, 4)).isEqualTo(0x1041_1AF4);
        assertThat(cfgRead(4, 0, 4)).isEqualTo(-1);
        assertThat(cfgRead(4, 0, 2)).isEqualTo(0xFFFF);
        pio.out(PciRootBus.CONFIG_ADDRESS_PORT, 4, 0x0000_1800); // enable bit clear
        assertThat(pio.in(PciRootBus.CONFIG_DATA_PORT, 4)).isEqualTo(-1);
    }

    @Test
    void firmwareSizesAndPlacesA64BitBarThenEnablesDecoding() {
        MinimalFunction f = new MinimalFunction();
        bus.plug(2, 0, f);
        List<PciRootBus.AssignedBar> bars = bus.assignBars(2, 0);

        assertThat(bars).containsExactly(new PciRootBus.AssignedBar(0, 0x80_0000_0000L, 0x4000, PciBar.Kind.MEMORY64));
        assertThat(f.command & 6).isEqualTo(6);
        assertThat(f.interruptLine).isEqualTo(PciRootBus.gsiFor(2));
        when(f.registers.read(0x10, 4)).thenReturn(0x1234L);
        assertThat(mmio.read(0x80_0000_0010L, 4)).isEqualTo(0x1234L);
        mmio.write(0x80_0000_0020L, 2, 7);
        verify(f.registers).write(0x20, 2, 7);
    }

    @Test
    void unmappedMmioReadsAllOnesAndWritesAreDropped() {
        assertThat(mmio.read(0x1000, 4)).isEqualTo(0xFFFF_FFFFL);
        assertThat(mmio.read(0x1000, 1)).isEqualTo(0xFFL);
        mmio.write(0x1000, 4, 1); // nothing to reach, nothing thrown
        assertThat(mmio.isMapped(0x1000)).isFalse();
    }

    @Test
    void overlappingMappingsAreRefusedAndClosingUnmaps() {
        MmioHandler h = mock(MmioHandler.class);
        MmioBus.Mapping m = mmio.map(0x1000, 0x1000, h);
        assertThatThrownBy(() -> mmio.map(0x1800, 0x1000, h)).hasMessageContaining("overlaps");
        assertThatThrownBy(() -> mmio.map(0x800, 0x1000, h)).hasMessageContaining("overlaps");
        mmio.map(0x2000, 0x1000, h).close();
        m.close();
        m.close();
        assertThat(mmio.isMapped(0x1000)).isFalse();
        mmio.read(0x1000, 4);
        verify(h, never()).read(0, 4);
    }

    @Test
    void slotsAreCheckedAndSingleUse() {
        bus.plug(1, 0, new MinimalFunction());
        assertThatThrownBy(() -> bus.plug(1, 0, new MinimalFunction())).hasMessageContaining("taken");
        assertThatThrownBy(() -> bus.plug(32, 0, new MinimalFunction())).hasMessageContaining("out of range");
    }

    @Test
    void msiMessagesReachTheGuestAndStraysAreCounted() {
        List<Integer> seen = new ArrayList<>();
        irq.connectCpu((address, data) -> seen.add(data));
        irq.send(InterruptController.msiAddress(0), 0x4041);
        irq.send(0x1234_0000L, 0x41);
        assertThat(seen).containsExactly(0x4041);
        assertThat(irq.deliveries(0x41)).isEqualTo(1);
        assertThat(irq.strayMessages()).isEqualTo(1);
    }

    @Test
    void intxLevelIsForwardedToTheGuestPin() {
        List<Boolean> levels = new ArrayList<>();
        var line = irq.line(17);
        line.set(true);
        irq.connectGsi(17, levels::add);
        line.set(false);
        assertThat(levels).containsExactly(true, false);
        assertThat(irq.level(17)).isFalse();
    }

    @Test
    void anySlotPicksTheFirstFreeSlotFromOne() {
        assertThat(bus.plug(PciRootBus.ANY_SLOT, 0, new MinimalFunction())).isEqualTo(1);
        assertThat(bus.plug(PciRootBus.ANY_SLOT, 0, new MinimalFunction())).isEqualTo(2);
        bus.unplug(1, 0);
        assertThat(bus.function(1, 0)).isNull();
        assertThat(bus.plug(PciRootBus.ANY_SLOT, 0, new MinimalFunction())).isEqualTo(1);
    }
}
