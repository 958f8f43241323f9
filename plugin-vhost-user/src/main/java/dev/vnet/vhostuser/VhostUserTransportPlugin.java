package dev.vnet.vhostuser;

import com.google.inject.AbstractModule;
import com.google.inject.Module;
import com.google.inject.Provides;
import com.google.inject.Singleton;
import dev.vnet.config.ConfigProblem;
import dev.vnet.config.DeviceSpec;
import dev.vnet.config.DeviceTransport;
import dev.vnet.config.TransportPlugin;
import dev.vnet.config.TransportSpec;
import dev.vnet.config.VnetConfigException;
import dev.vnet.net.VirtioNetDevice;
import dev.vnet.virtio.VirtioDevice;
import java.util.List;

/**
 * {@code transport.type = vhost-user}: serves each device as a vhost-user back-end on its
 * {@code transport.socket} ({@link VhostUserTransport}). It needs nothing from the host: the front-end
 * brings guest memory with SET_MEM_TABLE. Registered in
 * {@code META-INF/services/dev.vnet.config.TransportPlugin}.
 */
public final class VhostUserTransportPlugin implements TransportPlugin {

    @Override
    public String type() {
        return TransportSpec.VHOST_USER;
    }

    @Override
    public String description() {
        return "vhost-user back-end on a Unix socket, for QEMU, DPDK virtio-user and cloud-hypervisor";
    }

    @Override
    public Module module() {
        return new AbstractModule() {
            @Provides
            @Singleton
            DeviceTransport transport(VirtioDevice device, DeviceSpec spec) {
                if (!(device instanceof VirtioNetDevice net)) {
                    throw new VnetConfigException(List.of(new ConfigProblem(spec.path() + ".type",
                            "\"" + spec.type() + "\"", "virtio-net: the vhost-user transport serves net devices")));
                }
                return new VhostUserTransport(net, spec);
            }
        };
    }
}
