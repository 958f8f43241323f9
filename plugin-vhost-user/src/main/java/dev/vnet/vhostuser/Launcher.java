package dev.vnet.vhostuser;

import dev.vnet.config.ConfigProblem;
import dev.vnet.config.HostServices;
import dev.vnet.config.PluginRegistry;
import dev.vnet.config.Vnet;
import dev.vnet.config.VnetConfig;
import dev.vnet.config.VnetConfigException;
import dev.vnet.config.VnetDevice;
import dev.vnet.net.QueueStats;
import dev.vnet.net.VirtioNetDevice;
import java.io.PrintStream;
import java.util.List;
import java.util.Locale;

/**
 * The running devices of {@code vnet-vhost-user}: what its options or {@code --config} file describe,
 * started through the {@link Vnet} entry point on a host with no guest RAM or PCI bus
 * ({@link HostServices#none()}), so every device must use {@code transport.type = vhost-user}.
 */
final class Launcher implements AutoCloseable {

    private final Vnet vnet;

    private Launcher(Vnet vnet) {
        this.vnet = vnet;
    }

    /**
     * Validates everything, then starts every device (all or none) and prints one line per device.
     *
     * @throws LauncherOptions.UsageException the command line cannot be run as given
     * @throws VnetConfigException            every configuration problem, by HOCON path
     */
    static Launcher start(LauncherOptions options, PrintStream out) {
        PluginRegistry plugins = PluginRegistry.discover(Launcher.class.getClassLoader())
                .forHost(HostServices.none());
        VnetConfig config = options.load(plugins);
        if (config.devices().isEmpty()) {
            throw new VnetConfigException(List.of(new ConfigProblem("vnet.devices", "[]",
                    "at least one device with transport.type = vhost-user")));
        }
        Vnet vnet;
        try {
            vnet = Vnet.start(config, HostServices.none(), plugins);
        } catch (VnetConfigException e) {
            throw options.explain(e);
        }
        for (VnetDevice d : vnet.devices()) {
            VhostUserTransport t = transport(d);
            out.printf("vnet-vhost-user: %s on %s (%s, %s backend, %d queue pair(s), features 0x%x)%n", d.id(),
                    t.socket(), t.mode().name().toLowerCase(Locale.ROOT), d.spec().backend().type(),
                    d.spec().queuePairs(), t.backend().offeredFeatures());
        }
        out.flush();
        return new Launcher(vnet);
    }

    List<VnetDevice> devices() {
        return vnet.devices();
    }

    static VhostUserTransport transport(VnetDevice d) {
        return (VhostUserTransport) d.transport();
    }

    /** Stops serving front-ends (sockets closed, rings stopped); the devices keep their counters. */
    void stopServing() {
        for (VnetDevice d : vnet.devices()) {
            d.transport().close();
        }
    }

    /** One {@code stats ID:} line per device with each queue that saw traffic; with rings, their state. */
    void printStats(PrintStream out, boolean rings) {
        for (VnetDevice d : vnet.devices()) {
            StringBuilder sb = new StringBuilder("stats " + d.id() + ":");
            for (QueueStats q : d.instance(VirtioNetDevice.class).stats().all()) {
                if (q.getPackets() + q.getDrops() + q.getKicks() > 0) {
                    sb.append(String.format(" q%d(%s) packets=%d bytes=%d drops=%d kicks=%d irqs=%d;",
                            q.getQueueIndex(), q.getKind(), q.getPackets(), q.getBytes(), q.getDrops(), q.getKicks(),
                            q.getInterrupts()));
                }
            }
            out.println(sb);
        }
        if (rings) {
            for (VnetDevice d : vnet.devices()) {
                out.println("rings " + d.id() + ":" + transport(d).backend().describeRings());
            }
        }
        out.flush();
    }

    /** Stops every transport and device and releases the backends; idempotent. */
    @Override
    public void close() {
        vnet.close();
    }
}
