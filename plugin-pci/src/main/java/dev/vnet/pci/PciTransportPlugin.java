package dev.vnet.pci;

import com.google.inject.AbstractModule;
import com.google.inject.Module;
import com.google.inject.Provides;
import com.google.inject.Singleton;
import dev.vnet.config.DeviceSpec;
import dev.vnet.config.DeviceTransport;
import dev.vnet.config.HostServices;
import dev.vnet.config.PciSlotTransport;
import dev.vnet.config.TransportPlugin;
import dev.vnet.config.TransportSpec;
import dev.vnet.spi.GuestMemory;
import dev.vnet.spi.PciFunction;
import dev.vnet.virtio.VirtioDevice;

/**
 * {@code transport.type = pci}: wraps each device in a modern {@link VirtioPciFunction}, plugged into the
 * host's PCI bus at {@code transport.slot}.{@code transport.function}. Registered in
 * {@code META-INF/services/dev.vnet.config.TransportPlugin}.
 */
public final class PciTransportPlugin implements TransportPlugin {

    @Override
    public String type() {
        return TransportSpec.PCI;
    }

    @Override
    public String description() {
        return "virtio-pci modern transport with MSI-X and INTx";
    }

    @Override
    public String unmetNeeds(HostServices host) {
        return host.memory() == null || host.pci() == null ? "guest RAM and a PCI bus" : null;
    }

    @Override
    public Module module() {
        return new AbstractModule() {
            @Provides
            @Singleton
            PciFunction function(VirtioDevice device, GuestMemory memory) {
                return new VirtioPciFunction(device, memory, VirtioPci.classCodeFor(device.deviceId()));
            }

            @Provides
            @Singleton
            DeviceTransport transport(PciFunction function, DeviceSpec spec) {
                return new PciSlotTransport(function, spec.transport());
            }
        };
    }
}
