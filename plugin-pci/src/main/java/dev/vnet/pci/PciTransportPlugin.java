package dev.vnet.pci;

import com.google.inject.AbstractModule;
import com.google.inject.Module;
import com.google.inject.Provides;
import com.google.inject.Singleton;
import dev.vnet.config.TransportPlugin;
import dev.vnet.spi.GuestMemory;
import dev.vnet.spi.PciFunction;
import dev.vnet.virtio.VirtioDevice;

/**
 * {@code transport.type = pci}: wraps each device in a modern {@link VirtioPciFunction}. Registered in
 * {@code META-INF/services/dev.vnet.config.TransportPlugin}.
 */
public final class PciTransportPlugin implements TransportPlugin {

    @Override
    public String type() {
        return "pci";
    }

    @Override
    public String description() {
        return "virtio-pci modern transport with MSI-X and INTx";
    }

    @Override
    public Module module() {
        return new AbstractModule() {
            @Provides
            @Singleton
            PciFunction function(VirtioDevice device, GuestMemory memory) {
                return new VirtioPciFunction(device, memory, VirtioPci.classCodeFor(device.deviceId()));
            }
        };
    }
}
