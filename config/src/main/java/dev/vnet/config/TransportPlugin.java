package dev.vnet.config;

import com.google.inject.Module;
import dev.vnet.spi.PluginKind;
import dev.vnet.spi.VnetPlugin;

/**
 * A transport's contribution to a device's injector, found with {@link java.util.ServiceLoader}. Its
 * module is installed beside the device plugin's and must bind {@link dev.vnet.spi.PciFunction} (as a
 * singleton) around the bound {@link dev.vnet.virtio.VirtioDevice}.
 */
public interface TransportPlugin extends VnetPlugin {

    @Override
    default PluginKind kind() {
        return PluginKind.TRANSPORT;
    }

    Module module();
}
