package dev.vnet.config;

import dev.vnet.spi.GuestMemory;
import dev.vnet.spi.PciHost;

/**
 * What a host hands vnet: guest RAM and a PCI bus to plug functions into. Interrupt delivery and BAR
 * mapping come with each plugged function's {@link dev.vnet.spi.PciFunctionContext}. A process that is
 * no emulator (the vhost-user launcher: the front-end brings its own memory) has neither; a transport
 * that needs them is then refused as a configuration problem ({@link TransportPlugin#unmetNeeds}).
 *
 * @param memory guest RAM, or null when the host has none
 * @param pci    the PCI bus, or null when the host has none
 */
public record HostServices(GuestMemory memory, PciHost pci) {

    /** A host with no guest RAM and no PCI bus: only transports that need neither run on it. */
    public static HostServices none() {
        return new HostServices(null, null);
    }
}
