package dev.vnet.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.mockito.ArgumentMatchers.any;
import static org.mockito.ArgumentMatchers.anyInt;
import static org.mockito.ArgumentMatchers.anyLong;
import static org.mockito.ArgumentMatchers.eq;
import static org.mockito.Mockito.mock;
import static org.mockito.Mockito.verify;
import static org.mockito.Mockito.when;

import dev.vnet.config.HostServices;
import dev.vnet.config.Vnet;
import dev.vnet.config.VnetConfig;
import dev.vnet.net.VirtioNetDevice;
import dev.vnet.spi.GuestMemory;
import dev.vnet.spi.GuestMemoryMap;
import dev.vnet.spi.GuestRegion;
import dev.vnet.spi.InterruptLine;
import dev.vnet.spi.MmioBus;
import dev.vnet.spi.MsiSink;
import dev.vnet.spi.PciFunction;
import dev.vnet.spi.PciFunctionContext;
import dev.vnet.spi.PciHost;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.mockito.ArgumentCaptor;

/**
 * The host wiring the README shows, run against Mockito mocks of the host's bus, MMIO space and
 * interrupt controller: vnet plugs a virtio-net function that answers config cycles as a real one and
 * maps its BAR on the host's bus when the guest enables decoding.
 */
class ReadmeHostExampleTest {

    @Test
    void readmeHostWiringPlugsAWorkingVirtioNetFunction() {
        MmioBus mmio = mock(MmioBus.class);
        when(mmio.map(anyLong(), anyLong(), any())).thenReturn(() -> { });
        InterruptLine intx = mock(InterruptLine.class);
        MsiSink msi = mock(MsiSink.class);
        PciHost pci = mock(PciHost.class);
        AtomicReference<PciFunction> plugged = new AtomicReference<>();
        when(pci.plug(anyInt(), anyInt(), any())).thenAnswer(call -> {
            PciFunction f = call.getArgument(2);
            f.attach(new PciFunctionContext(mmio, null, intx, msi));  // what a host's bus does on plug
            plugged.set(f);
            return 3;
        });

        // ---- README: "Wire it into your host" ----
        try (Arena arena = Arena.ofShared()) {
            MemorySegment ramSegment = arena.allocate(64 << 20, 4096);           // your guest RAM
            GuestMemory ram = GuestMemoryMap.of(new GuestRegion(0, ramSegment, false));
            VnetConfig config = VnetConfig.parse("""
                    vnet.devices = [ { id = net0, mac = "52:54:00:12:34:56", backend.type = loopback } ]""");
            try (Vnet vnet = Vnet.start(config, new HostServices(ram, pci))) {
                VirtioNetDevice nic = vnet.device("net0").instance(VirtioNetDevice.class);
                nic.setLinkUp(true);
                // Your vCPU loop now routes config cycles for slot vnet.device("net0").slot() to
                // function().configRead/configWrite, and MMIO to the handler mapped on your MmioBus.
                // ---- end of README example ----

                assertThat(vnet.device("net0").slot()).isEqualTo(3);
                PciFunction f = plugged.get();
                assertThat(f).isSameAs(vnet.device("net0").function());
                assertThat(f.configRead(0x00, 2)).isEqualTo(0x1AF4);
                assertThat(f.configRead(0x02, 2)).isEqualTo(0x1041);
                assertThat(f.configRead(0x08, 4) >>> 8).isEqualTo(0x020000);
                assertThat(nic.mac()).hasToString("52:54:00:12:34:56");

                // The guest programs BAR0 (64-bit) and turns on memory decoding: vnet maps it on the host bus.
                f.configWrite(0x10, 4, 0xE000_0000);
                f.configWrite(0x14, 4, 0);
                f.configWrite(0x04, 2, 0x6);
                ArgumentCaptor<Long> base = ArgumentCaptor.forClass(Long.class);
                verify(mmio).map(base.capture(), anyLong(), any());
                assertThat(base.getValue()).isEqualTo(0xE000_0000L);
            }
            verify(pci).unplug(eq(3), eq(0));
        }
    }
}
