package dev.vnet.config;

import com.google.inject.AbstractModule;
import com.google.inject.CreationException;
import com.google.inject.Guice;
import com.google.inject.Injector;
import com.google.inject.ProvisionException;
import com.google.inject.spi.Message;
import dev.vnet.spi.GuestMemory;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;

/**
 * The host-facing entry point: give it guest RAM, a PCI bus and a configuration, get running NICs. A
 * process without either ({@link HostServices#none()}, such as the vhost-user launcher) runs the devices
 * whose transport needs neither; a pci device there is a configuration problem.
 *
 * <pre>{@code
 * try (Vnet vnet = Vnet.start(VnetConfig.load(Path.of("vnet.conf")), new HostServices(ram, pciBus))) {
 *     ... run the guest ...
 * }
 * }</pre>
 *
 * <p>Start-up is all or nothing: every device is validated and built (plugins resolved by type through
 * {@link PluginRegistry}, one Guice child injector per device, backends opened) before the first one's
 * {@link DeviceTransport} starts (plugged into the bus, listening on its socket); if anything is wrong,
 * everything built is closed and a {@link VnetConfigException} lists every problem with its HOCON path.
 */
public final class Vnet implements AutoCloseable {

    private final List<VnetDevice> devices;

    private Vnet(List<VnetDevice> devices) {
        this.devices = List.copyOf(devices);
    }

    /** Starts the configured devices with the plugins on this class's class path. */
    public static Vnet start(VnetConfig config, HostServices host) {
        return start(config, host, PluginRegistry.discover(Vnet.class.getClassLoader()));
    }

    /** Starts the configured devices with the plugins in {@code registry}. */
    public static Vnet start(VnetConfig config, HostServices host, PluginRegistry registry) {
        List<ConfigProblem> problems = new ArrayList<>();
        PluginRegistry onThisHost = registry.forHost(host);
        for (DeviceSpec spec : config.devices()) {
            problems.addAll(onThisHost.check(spec));
        }
        if (!problems.isEmpty()) {
            throw new VnetConfigException(problems);
        }
        Injector parent = Guice.createInjector(new AbstractModule() {
            @Override
            protected void configure() {
                bind(HostServices.class).toInstance(host);
                if (host.memory() != null) {
                    bind(GuestMemory.class).toInstance(host.memory());
                }
                bind(PluginRegistry.class).toInstance(registry);
            }
        });
        List<VnetDevice> built = new ArrayList<>();
        for (DeviceSpec spec : config.devices()) {
            try {
                Injector child = parent.createChildInjector(new AbstractModule() {
                    @Override
                    protected void configure() {
                        bind(DeviceSpec.class).toInstance(spec);
                    }
                }, registry.device(spec.type()).module(), registry.transport(spec.transport().type()).module());
                built.add(new VnetDevice(spec, child));
            } catch (CreationException e) {
                problems.addAll(problemsOf(spec, e.getErrorMessages(), e));
            } catch (ProvisionException e) {
                problems.addAll(problemsOf(spec, e.getErrorMessages(), e));
            } catch (RuntimeException e) {
                problems.addAll(problemsOf(spec, List.of(), e));
            }
        }
        if (!problems.isEmpty()) {
            built.forEach(VnetDevice::close);
            throw new VnetConfigException(problems);
        }
        try {
            for (VnetDevice d : built) {
                try {
                    d.start(host);
                } catch (VnetConfigException e) {
                    problems.addAll(e.problems());
                }
            }
        } catch (RuntimeException e) {
            built.forEach(VnetDevice::close);
            throw e;
        }
        if (!problems.isEmpty()) {
            built.forEach(VnetDevice::close);
            throw new VnetConfigException(problems);
        }
        return new Vnet(built);
    }

    public List<VnetDevice> devices() {
        return devices;
    }

    public VnetDevice device(String id) {
        return devices.stream().filter(d -> d.id().equals(id)).findFirst()
                .orElseThrow(() -> new IllegalArgumentException("no device " + id));
    }

    /** Stops every device's transport (unplug, close sockets), then the device, releasing backends; idempotent. */
    @Override
    public void close() {
        devices.forEach(VnetDevice::close);
    }

    /** Turns what went wrong while building a device into problems naming the device's path. */
    private static List<ConfigProblem> problemsOf(DeviceSpec spec, Collection<Message> messages, RuntimeException e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof VnetConfigException vce) {
                return vce.problems();
            }
        }
        for (Message m : messages) {
            for (Throwable t = m.getCause(); t != null; t = t.getCause()) {
                if (t instanceof VnetConfigException vce) {
                    return vce.problems();
                }
            }
        }
        Throwable root = e;
        while (root.getCause() != null) {
            root = root.getCause();
        }
        return List.of(new ConfigProblem(spec.path(), "device " + spec.id(),
                "a device its plugins can build: " + root.getMessage()));
    }
}
