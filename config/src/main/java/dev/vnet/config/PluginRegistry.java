package dev.vnet.config;

import dev.vnet.spi.NetBackendProvider;
import dev.vnet.spi.VnetPlugin;
import java.util.List;
import java.util.Map;
import java.util.ServiceLoader;
import java.util.TreeMap;
import java.util.stream.Collectors;

/**
 * The plugins on the class path, found once with {@link ServiceLoader}: devices, transports and
 * network backends, each by its {@link VnetPlugin#type()}. A registry {@link #forHost for a host} also
 * refuses the transports that host cannot serve, so {@link VnetConfig#load(java.nio.file.Path,
 * PluginRegistry)} reports them with every other problem.
 */
public final class PluginRegistry {

    private final Map<String, DevicePlugin> devices;
    private final Map<String, TransportPlugin> transports;
    private final Map<String, NetBackendProvider> backends;
    /** Transports must run here, or null for no such check. */
    private final HostServices host;

    private PluginRegistry(Map<String, DevicePlugin> devices, Map<String, TransportPlugin> transports,
                           Map<String, NetBackendProvider> backends, HostServices host) {
        this.devices = devices;
        this.transports = transports;
        this.backends = backends;
        this.host = host;
    }

    /** Discovers every plugin visible to {@code loader}. */
    public static PluginRegistry discover(ClassLoader loader) {
        return new PluginRegistry(load(DevicePlugin.class, loader), load(TransportPlugin.class, loader),
                load(NetBackendProvider.class, loader), null);
    }

    /**
     * The same plugins, checking also that each device's transport can run on {@code host} (a pci device
     * needs guest RAM and a PCI bus, which {@link HostServices#none()} has not).
     */
    public PluginRegistry forHost(HostServices host) {
        return new PluginRegistry(devices, transports, backends, host);
    }

    private static <T extends VnetPlugin> Map<String, T> load(Class<T> type, ClassLoader loader) {
        Map<String, T> out = new TreeMap<>();
        for (T plugin : ServiceLoader.load(type, loader)) {
            T previous = out.putIfAbsent(plugin.type(), plugin);
            if (previous != null && previous.getClass() != plugin.getClass()) {
                throw new IllegalStateException("two " + type.getSimpleName() + "s claim type '" + plugin.type()
                        + "': " + previous.getClass().getName() + " and " + plugin.getClass().getName());
            }
        }
        return out;
    }

    public DevicePlugin device(String type) {
        return devices.get(type);
    }

    public TransportPlugin transport(String type) {
        return transports.get(type);
    }

    public NetBackendProvider backend(String type) {
        return backends.get(type);
    }

    /** "one of: a (desc), b (desc)" for error messages. */
    static String choices(Map<String, ? extends VnetPlugin> plugins) {
        if (plugins.isEmpty()) {
            return "a plugin type, but none is on the class path";
        }
        return "one of the types on the class path: " + plugins.values().stream()
                .map(p -> p.type() + " (" + p.description() + ")").collect(Collectors.joining(", "));
    }

    /** Problems for every unknown type in {@code spec}, listing what is available. */
    List<ConfigProblem> check(DeviceSpec spec) {
        List<ConfigProblem> problems = new java.util.ArrayList<>();
        problems.addAll(checkDevice(spec.path() + ".type", spec.type()));
        problems.addAll(checkTransport(spec.path() + ".transport.type", spec.transport().type()));
        problems.addAll(checkBackend(spec.backend().path() + ".type", spec.backend().type()));
        return problems;
    }

    List<ConfigProblem> checkDevice(String path, String type) {
        return check(devices, path, type);
    }

    List<ConfigProblem> checkTransport(String path, String type) {
        List<ConfigProblem> unknown = check(transports, path, type);
        TransportPlugin transport = transports.get(type);
        String needs = transport == null || host == null ? null : transport.unmetNeeds(host);
        if (needs == null) {
            return unknown;
        }
        String usable = transports.values().stream().filter(t -> t.unmetNeeds(host) == null)
                .map(t -> t.type() + " (" + t.description() + ")").collect(Collectors.joining(", "));
        return List.of(new ConfigProblem(path, "\"" + type + "\"", "a transport this host can serve: " + type
                + " needs " + needs + ", which this host does not provide; usable here: "
                + (usable.isEmpty() ? "none on the class path" : usable)));
    }

    List<ConfigProblem> checkBackend(String path, String type) {
        return check(backends, path, type);
    }

    private static List<ConfigProblem> check(Map<String, ? extends VnetPlugin> plugins, String path, String type) {
        return plugins.containsKey(type) ? List.of()
                : List.of(new ConfigProblem(path, "\"" + type + "\"", choices(plugins)));
    }
}
