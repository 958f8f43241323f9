package dev.vnet.config;

import dev.vnet.spi.GuestMemory;
import dev.vnet.spi.PciHost;
import java.util.Objects;

/**
 * What a host hands vnet: guest RAM and a PCI bus to plug functions into. Interrupt delivery and BAR
 * mapping come with each plugged function's {@link dev.vnet.spi.PciFunctionContext}.
 */
public record HostServices(GuestMemory memory, PciHost pci) {

    public HostServices {
        Objects.requireNonNull(memory, "memory");
        Objects.requireNonNull(pci, "pci");
    }
}
