package dev.vnet.config;

import com.google.inject.Module;
import dev.vnet.spi.PluginKind;
import dev.vnet.spi.VnetPlugin;

/**
 * A virtio device type's contribution to a device's injector, found with {@link java.util.ServiceLoader}
 * under this interface's name. Its module is installed in one child injector per device of this type,
 * next to bindings for {@link DeviceSpec}, {@link HostServices}, {@link dev.vnet.spi.GuestMemory} (when
 * the host has guest RAM) and {@link PluginRegistry}; it must bind {@link dev.vnet.virtio.VirtioDevice}
 * (as a singleton). A device that is {@link AutoCloseable} is closed when vnet stops.
 */
public interface DevicePlugin extends VnetPlugin {

    @Override
    default PluginKind kind() {
        return PluginKind.DEVICE;
    }

    Module module();
}
