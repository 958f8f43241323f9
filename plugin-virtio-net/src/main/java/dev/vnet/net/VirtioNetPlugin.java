package dev.vnet.net;

import com.google.inject.AbstractModule;
import com.google.inject.Module;
import com.google.inject.Provides;
import com.google.inject.Singleton;
import dev.vnet.config.ConfigProblem;
import dev.vnet.config.DeviceSpec;
import dev.vnet.config.DevicePlugin;
import dev.vnet.config.PluginRegistry;
import dev.vnet.config.VnetConfigException;
import dev.vnet.spi.BackendException;
import dev.vnet.spi.BackendRequest;
import dev.vnet.spi.NetBackend;
import dev.vnet.virtio.VirtioDevice;
import dev.vnet.virtio.VirtioFeatures;
import java.util.List;
import java.util.Map;

/**
 * {@code type = virtio-net}: builds a {@link VirtioNetDevice} from a device's HOCON settings and opens its
 * backend through the {@link dev.vnet.spi.NetBackendProvider} named by {@code backend.type}. Registered
 * in {@code META-INF/services/dev.vnet.config.DevicePlugin}.
 */
public final class VirtioNetPlugin implements DevicePlugin {

    /** HOCON {@code features.*} switch names and the bits they control (virtio 1.2, 5.1.3 and 6). */
    static final Map<String, Integer> FEATURE_SWITCHES = Map.ofEntries(
            Map.entry("csum", NetFeatures.VIRTIO_NET_F_CSUM),
            Map.entry("guest-csum", NetFeatures.VIRTIO_NET_F_GUEST_CSUM),
            Map.entry("ctrl-guest-offloads", NetFeatures.VIRTIO_NET_F_CTRL_GUEST_OFFLOADS),
            Map.entry("mtu", NetFeatures.VIRTIO_NET_F_MTU),
            Map.entry("mac", NetFeatures.VIRTIO_NET_F_MAC),
            Map.entry("guest-tso4", NetFeatures.VIRTIO_NET_F_GUEST_TSO4),
            Map.entry("guest-tso6", NetFeatures.VIRTIO_NET_F_GUEST_TSO6),
            Map.entry("guest-ecn", NetFeatures.VIRTIO_NET_F_GUEST_ECN),
            Map.entry("guest-ufo", NetFeatures.VIRTIO_NET_F_GUEST_UFO),
            Map.entry("host-tso4", NetFeatures.VIRTIO_NET_F_HOST_TSO4),
            Map.entry("host-tso6", NetFeatures.VIRTIO_NET_F_HOST_TSO6),
            Map.entry("host-ecn", NetFeatures.VIRTIO_NET_F_HOST_ECN),
            Map.entry("host-ufo", NetFeatures.VIRTIO_NET_F_HOST_UFO),
            Map.entry("mrg-rxbuf", NetFeatures.VIRTIO_NET_F_MRG_RXBUF),
            Map.entry("status", NetFeatures.VIRTIO_NET_F_STATUS),
            Map.entry("ctrl-vq", NetFeatures.VIRTIO_NET_F_CTRL_VQ),
            Map.entry("ctrl-rx", NetFeatures.VIRTIO_NET_F_CTRL_RX),
            Map.entry("ctrl-vlan", NetFeatures.VIRTIO_NET_F_CTRL_VLAN),
            Map.entry("ctrl-rx-extra", NetFeatures.VIRTIO_NET_F_CTRL_RX_EXTRA),
            Map.entry("guest-announce", NetFeatures.VIRTIO_NET_F_GUEST_ANNOUNCE),
            Map.entry("mq", NetFeatures.VIRTIO_NET_F_MQ),
            Map.entry("ctrl-mac-addr", NetFeatures.VIRTIO_NET_F_CTRL_MAC_ADDR),
            Map.entry("guest-uso4", NetFeatures.VIRTIO_NET_F_GUEST_USO4),
            Map.entry("guest-uso6", NetFeatures.VIRTIO_NET_F_GUEST_USO6),
            Map.entry("host-uso", NetFeatures.VIRTIO_NET_F_HOST_USO),
            Map.entry("speed-duplex", NetFeatures.VIRTIO_NET_F_SPEED_DUPLEX),
            Map.entry("indirect-desc", VirtioFeatures.VIRTIO_F_INDIRECT_DESC),
            Map.entry("event-idx", VirtioFeatures.VIRTIO_F_EVENT_IDX),
            Map.entry("version-1", VirtioFeatures.VIRTIO_F_VERSION_1),
            Map.entry("ring-reset", VirtioFeatures.VIRTIO_F_RING_RESET));

    /** The HOCON switch name of a feature bit (e.g. {@code mrg-rxbuf}), or {@code bitN} for others. */
    public static String featureName(int bit) {
        return FEATURE_SWITCHES.entrySet().stream().filter(e -> e.getValue() == bit).map(Map.Entry::getKey)
                .findFirst().orElse("bit" + bit);
    }

    @Override
    public String type() {
        return "virtio-net";
    }

    @Override
    public String description() {
        return "virtio-net NIC (virtio 1.2 section 5.1)";
    }

    @Override
    public Module module() {
        return new AbstractModule() {
            @Provides
            @Singleton
            NetDeviceConfig config(DeviceSpec spec) {
                return netConfig(spec);
            }

            @Provides
            @Singleton
            NetBackend backend(DeviceSpec spec, PluginRegistry plugins) {
                String path = spec.backend().path();
                try {
                    return plugins.backend(spec.backend().type())
                            .open(new BackendRequest(spec.id(), spec.queuePairs(), spec.backend().options()));
                } catch (IllegalArgumentException e) {
                    throw problem(path, spec.backend().options().toString(), "valid " + spec.backend().type()
                            + " options: " + e.getMessage());
                } catch (BackendException e) {
                    throw problem(path + ".type", "\"" + spec.backend().type() + "\"",
                            "a backend this host can open: " + e.getMessage());
                }
            }

            @Provides
            @Singleton
            VirtioNetDevice device(DeviceSpec spec, NetDeviceConfig config, NetBackend backend) {
                try {
                    return new VirtioNetDevice(config, backend);
                } catch (IllegalArgumentException e) {
                    backend.close();
                    throw problem(spec.path(), "device " + spec.id(), "settings the device accepts: " + e.getMessage());
                }
            }

            @Provides
            @Singleton
            VirtioDevice virtioDevice(VirtioNetDevice device) {
                return device;
            }
        };
    }

    /** Maps validated HOCON settings onto the device's configuration record. */
    static NetDeviceConfig netConfig(DeviceSpec spec) {
        NetDeviceConfig.Builder b = NetDeviceConfig.builder()
                .id(spec.id())
                .mac(spec.mac())
                .mtu(spec.mtu())
                .speed(spec.speed(), NetDeviceConfig.Duplex.valueOf(spec.duplex().name()))
                .queuePairs(spec.queuePairs())
                .queueSizes(spec.rxQueueSize(), spec.txQueueSize())
                .ctrlQueueSize(spec.ctrlQueueSize())
                .busyPollMicros(spec.busyPollMicros());
        spec.features().forEach((name, on) -> {
            Integer bit = FEATURE_SWITCHES.get(name);
            if (bit == null) {
                throw problem(spec.path() + ".features." + name, String.valueOf(on),
                        "a feature switch of virtio-net: " + String.join(", ", FEATURE_SWITCHES.keySet()));
            }
            b.feature(bit, on);
        });
        return b.build();
    }

    private static VnetConfigException problem(String path, String value, String allowed) {
        return new VnetConfigException(List.of(new ConfigProblem(path, value, allowed)));
    }
}
