package dev.vnet.config;

import com.google.inject.Module;
import dev.vnet.spi.PluginKind;
import dev.vnet.spi.VnetPlugin;

/**
 * A transport's contribution to a device's injector, found with {@link java.util.ServiceLoader}. Its
 * module is installed beside the device plugin's and must bind {@link DeviceTransport} (as a singleton)
 * around the bound {@link dev.vnet.virtio.VirtioDevice}: for pci a {@link PciSlotTransport} around a
 * {@link dev.vnet.spi.PciFunction}, for vhost-user a socket server.
 */
public interface TransportPlugin extends VnetPlugin {

    @Override
    default PluginKind kind() {
        return PluginKind.TRANSPORT;
    }

    Module module();

    /**
     * What this transport needs that {@code host} lacks, such as "guest RAM and a PCI bus", or null when
     * it can serve devices there. Checked for every device before any is built.
     */
    default String unmetNeeds(HostServices host) {
        return null;
    }
}
