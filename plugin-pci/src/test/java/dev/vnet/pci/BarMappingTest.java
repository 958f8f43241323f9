package dev.vnet.pci;

import static org.assertj.core.api.Assertions.assertThat;
import static org.mockito.ArgumentMatchers.any;
import static org.mockito.ArgumentMatchers.anyLong;
import static org.mockito.ArgumentMatchers.eq;
import static org.mockito.Mockito.inOrder;
import static org.mockito.Mockito.mock;
import static org.mockito.Mockito.never;
import static org.mockito.Mockito.times;
import static org.mockito.Mockito.verify;
import static org.mockito.Mockito.when;

import dev.vnet.spi.InterruptLine;
import dev.vnet.spi.MmioBus;
import dev.vnet.spi.MmioHandler;
import dev.vnet.spi.MsiSink;
import dev.vnet.spi.PciBar;
import dev.vnet.spi.PciFunctionContext;
import dev.vnet.testkit.FakeGuestMemory;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.mockito.ArgumentCaptor;
import org.mockito.InOrder;

/** BAR sizing and mapping on the host's memory bus (Mockito stands in for the host's bus). */
class BarMappingTest {

    private final FakeGuestMemory mem = FakeGuestMemory.standard();
    private final MmioBus bus = mock(MmioBus.class);
    private final MmioBus.Mapping first = mock(MmioBus.Mapping.class);
    private final MmioBus.Mapping second = mock(MmioBus.Mapping.class);
    private VirtioPciFunction f;
    private long size;

    @BeforeEach
    void attach() {
        when(bus.map(anyLong(), anyLong(), any())).thenReturn(first, second);
        f = new VirtioPciFunction(new EchoDevice(), mem.memory(), 0x020000);
        f.attach(new PciFunctionContext(bus, null, mock(InterruptLine.class), mock(MsiSink.class)));
        size = f.layout().barSize();
    }

    @AfterEach
    void close() {
        f.close();
        mem.close();
    }

    private void placeBar(long address) {
        f.configWrite(0x10, 4, (int) address);
        f.configWrite(0x14, 4, (int) (address >>> 32));
    }

    @Test
    void barsReportsOne64BitNonPrefetchableMemoryBar() {
        assertThat(f.bars()).containsExactly(new PciBar(0, size, PciBar.Kind.MEMORY64, false));
    }

    @Test
    void sizingProtocolReportsTheBarSizeAndMapsNothingWhileDecodingIsOff() {
        f.configWrite(0x10, 4, 0xFFFF_FFFF);
        f.configWrite(0x14, 4, 0xFFFF_FFFF);
        long mask = (Integer.toUnsignedLong(f.configRead(0x10, 4)) & ~0xFL)
                | (Integer.toUnsignedLong(f.configRead(0x14, 4)) << 32);
        assertThat(~mask + 1).isEqualTo(size);
        verify(bus, never()).map(anyLong(), anyLong(), any());
    }

    @Test
    void noMappingUntilBothAnAddressAndMemoryDecodingAreSet() {
        f.configWrite(0x04, 2, 0x2);
        verify(bus, never()).map(anyLong(), anyLong(), any()); // address still 0
        f.configWrite(0x04, 2, 0);
        placeBar(0xE000_0000L);
        verify(bus, never()).map(anyLong(), anyLong(), any());

        f.configWrite(0x04, 2, 0x6);

        ArgumentCaptor<MmioHandler> handler = ArgumentCaptor.forClass(MmioHandler.class);
        verify(bus).map(eq(0xE000_0000L), eq(size), handler.capture());
        assertThat(handler.getValue().read(CommonConfig.VIRTIO_PCI_COMMON_NUMQ, 2)).isEqualTo(2);
    }

    @Test
    void movingTheBarRemapsIt() {
        placeBar(0xE000_0000L);
        f.configWrite(0x04, 2, 0x2);
        placeBar(0x2_0000_0000L); // low dword first: a transient mix, then the final address

        InOrder order = inOrder(bus, first);
        order.verify(bus).map(eq(0xE000_0000L), eq(size), any());
        order.verify(first).close();
        verify(bus).map(eq(0x2_0000_0000L), eq(size), any());
    }

    @Test
    void disablingMemoryDecodingUnmapsAndReenablingMapsAgain() {
        placeBar(0xE000_0000L);
        f.configWrite(0x04, 2, 0x2);
        f.configWrite(0x04, 2, 0x4);
        verify(first).close();
        f.configWrite(0x04, 2, 0x6);
        verify(bus, times(2)).map(eq(0xE000_0000L), eq(size), any());
    }

    @Test
    void rewritingTheSameAddressDoesNotRemap() {
        placeBar(0xE000_0000L);
        f.configWrite(0x04, 2, 0x2);
        placeBar(0xE000_0000L);
        f.configWrite(0x3C, 1, 5);
        verify(bus, times(1)).map(anyLong(), anyLong(), any());
        verify(first, never()).close();
    }

    @Test
    void closeUnmapsAndReturnsTheFunctionToPowerOn() {
        placeBar(0xE000_0000L);
        f.configWrite(0x04, 2, 0x6);
        f.close();
        verify(first).close();
        assertThat(f.configRead(0x04, 2)).isZero();
        assertThat(f.configRead(0x10, 4)).isEqualTo(0x4);
        f.close(); // idempotent
        verify(first, times(1)).close();
    }

    @Test
    void hostRefusingTheRangeLeavesTheBarUnmappedWithoutThrowing() {
        when(bus.map(eq(0xF000_0000L), anyLong(), any())).thenThrow(new IllegalArgumentException("overlap"));
        placeBar(0xF000_0000L);
        f.configWrite(0x04, 2, 0x2);
        f.configWrite(0x3C, 1, 5); // a later config write does not retry the refused range
        verify(bus, times(1)).map(eq(0xF000_0000L), anyLong(), any());
        placeBar(0xE000_0000L);
        verify(bus).map(eq(0xE000_0000L), eq(size), any());
    }
}
