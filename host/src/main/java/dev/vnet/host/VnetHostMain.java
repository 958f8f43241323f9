package dev.vnet.host;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import dev.vnet.config.PluginRegistry;
import dev.vnet.config.Vnet;
import dev.vnet.config.VnetConfig;
import dev.vnet.config.VnetConfigException;
import dev.vnet.config.VnetDevice;
import dev.vnet.testkit.net.Frames;
import dev.vnet.testkit.net.GuestResponder;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code bin/vnet-host}: the reference host with the Linux driver model as its guest.
 *
 * <ul>
 *   <li>No arguments: the embedded default (one loopback NIC). The guest probes the NIC, negotiates,
 *       sets up queues and vectors, exchanges frames, prints a transcript and exits 0.</li>
 *   <li>{@code --config FILE}: the devices of that HOCON file. Loopback NICs loop frames back; NICs joined
 *       by a {@code cable} exchange frames; NICs on {@code tap} answer ARP and ICMP echo at
 *       {@code vnet-host.guest-ip} until SIGINT/SIGTERM or {@code --duration}.</li>
 *   <li>A bad configuration exits 2 with every problem listed, before any device starts.</li>
 * </ul>
 */
@Command(name = "vnet-host", mixinStandardHelpOptions = true,
        description = "Runs virtio-net NICs in the vnet reference host, driven by a Linux-like guest driver model.")
public final class VnetHostMain implements Callable<Integer> {

    @Option(names = "--config", paramLabel = "FILE", description = "HOCON file (default: one loopback NIC)")
    Path config;

    @Option(names = "--duration", paramLabel = "SECONDS",
            description = "stop after this many seconds (TAP responder mode runs until stopped otherwise)")
    Double duration;

    @Option(names = "--frames", paramLabel = "N", defaultValue = "64",
            description = "frames per queue pair in the loopback/cable exchange (default: ${DEFAULT-VALUE})")
    int frames;

    @Option(names = "--ram-mib", paramLabel = "MIB", defaultValue = "256", description = "guest RAM (default: ${DEFAULT-VALUE})")
    int ramMib;

    private final PrintStream out;
    private volatile boolean stopping;

    /** A host whose transcript goes to {@code out}; run it with {@link #execute}. */
    public VnetHostMain(PrintStream out) {
        this.out = out;
    }

    /** Parses {@code args} and runs; returns the exit code (0 ok, 1 traffic failed, 2 bad configuration). */
    public int execute(String... args) {
        return new CommandLine(this).execute(args);
    }

    public static void main(String[] args) {
        VnetHostMain main = new VnetHostMain(System.out);
        Thread runner = Thread.currentThread();
        for (String signal : new String[] {"INT", "TERM"}) {
            sun.misc.Signal.handle(new sun.misc.Signal(signal), s -> {
                main.stopping = true;
                runner.interrupt();
            });
        }
        System.exit(main.execute(args));
    }

    /** Asks a running responder loop to end (what SIGINT/SIGTERM do). */
    public void stop() {
        stopping = true;
    }

    @Override
    public Integer call() throws Exception {
        VnetConfig vnetConfig;
        Config demo;
        try {
            if (config == null) {
                vnetConfig = VnetConfig.defaults();
                demo = ConfigFactory.empty();
                out.println("vnet-host: built-in default configuration (one virtio-net NIC on a loopback backend)");
            } else {
                vnetConfig = VnetConfig.load(config, PluginRegistry.discover(VnetHostMain.class.getClassLoader()));
                demo = Files.isReadable(config) ? ConfigFactory.parseFile(config.toFile()) : ConfigFactory.empty();
                out.println("vnet-host: configuration " + config);
            }
        } catch (VnetConfigException e) {
            System.err.println("vnet-host: " + e.getMessage());
            return 2;
        }
        if (vnetConfig.devices().isEmpty()) {
            System.err.println("vnet-host: the configuration has no devices (vnet.devices is empty)");
            return 2;
        }
        try (ReferenceHost host = new ReferenceHost((long) ramMib << 20);
             Vnet vnet = startOrReport(vnetConfig, host)) {
            if (vnet == null) {
                return 2;
            }
            List<DemoGuest> guests = new ArrayList<>();
            for (VnetDevice d : vnet.devices()) {
                DemoGuest g = new DemoGuest(host, d);
                g.boot();
                g.describe(out);
                guests.add(g);
            }
            List<DemoGuest> responders = guests.stream()
                    .filter(g -> vnet.device(g.id()).spec().backend().type().equals("tap")).toList();
            boolean ok = exchange(guests.stream().filter(g -> !responders.contains(g)).toList(), vnet);
            if (!responders.isEmpty()) {
                respond(responders, demo);
            }
            out.println("traffic:");
            for (DemoGuest g : guests) {
                out.println(" " + g.id() + ":");
                g.traffic(out);
            }
            out.println("vnet-host: stopping: devices reset, backends closed");
            return ok ? 0 : 1;
        }
    }

    private Vnet startOrReport(VnetConfig vnetConfig, ReferenceHost host) {
        try {
            return Vnet.start(vnetConfig, host.services());
        } catch (VnetConfigException e) {
            System.err.println("vnet-host: " + e.getMessage());
            return null;
        }
    }

    /** Loopback NICs get their frames back; cable NICs send to their peer. Every frame is checked. */
    private boolean exchange(List<DemoGuest> guests, Vnet vnet) {
        Map<String, List<DemoGuest>> cables = new LinkedHashMap<>();
        boolean ok = true;
        for (DemoGuest g : guests) {
            var backend = vnet.device(g.id()).spec().backend();
            if (backend.type().equals("cable")) {
                cables.computeIfAbsent(String.valueOf(backend.options().get("name")), k -> new ArrayList<>()).add(g);
            } else {
                ok &= transfer(g, g);
            }
        }
        for (List<DemoGuest> ends : cables.values()) {
            if (ends.size() == 2) {
                ok &= transfer(ends.get(0), ends.get(1));
                ok &= transfer(ends.get(1), ends.get(0));
            }
        }
        return ok;
    }

    /** {@link #frames} frames per pair from {@code from} to {@code to}, sizes 60..1514, each verified. */
    private boolean transfer(DemoGuest from, DemoGuest to) {
        int pairs = Math.min(from.pairs(), to.pairs());
        int verified = 0;
        int expected = 0;
        for (int p = 0; p < pairs; p++) {
            for (int i = 0; i < frames; i++) {
                byte[] frame = testFrame(from, p, i);
                expected++;
                if (!from.send(p, frame)) {
                    out.printf("  %s -> %s: TX ring full at frame %d of pair %d%n", from.id(), to.id(), i, p);
                    continue;
                }
                byte[] got = to.receive(p, Duration.ofSeconds(5));
                if (got != null && Arrays.equals(got, frame)) {
                    verified++;
                }
            }
        }
        out.printf("exchange %s -> %s: %d of %d frames arrived intact over %d queue pair%s%n", from.id(), to.id(),
                verified, expected, pairs, pairs == 1 ? "" : "s");
        return verified == expected;
    }

    private static byte[] testFrame(DemoGuest from, int pair, int i) {
        int payload = 60 - 42 + (i * 97) % (1514 - 42 - 17);
        byte[] data = new byte[payload];
        Arrays.fill(data, (byte) i);
        return Frames.udp(Frames.BROADCAST, from.driver().mac(), Frames.ip("192.0.2.1"), Frames.ip("192.0.2.2"),
                10000 + pair, 20000 + i, data, false);
    }

    /** Answers ARP and ICMP echo until stopped or {@link #duration} passes. */
    private void respond(List<DemoGuest> guests, Config demo) {
        long deadline = duration == null ? Long.MAX_VALUE : System.nanoTime() + (long) (duration * 1e9);
        List<GuestResponder> responders = new ArrayList<>();
        for (DemoGuest g : guests) {
            String ip = demo.hasPath("vnet-host.guest-ips." + g.id()) ? demo.getString("vnet-host.guest-ips." + g.id())
                    : demo.hasPath("vnet-host.guest-ip") ? demo.getString("vnet-host.guest-ip") : "10.77.0.2";
            responders.add(new GuestResponder(g.driver().mac(), Frames.ip(ip)));
            out.printf("%s: guest answers ARP and ICMP echo at %s (MAC %s)%n", g.id(), ip,
                    dev.vnet.spi.MacAddress.of(g.driver().mac()));
        }
        out.println("vnet-host: running until SIGINT/SIGTERM" + (duration == null ? "" : " or " + duration + " s"));
        long lastArp = 0;
        long lastEcho = 0;
        while (!stopping && System.nanoTime() < deadline && !Thread.currentThread().isInterrupted()) {
            for (int i = 0; i < guests.size(); i++) {
                guests.get(i).respond(responders.get(i), Duration.ofMillis(50));
            }
            long arp = responders.stream().mapToLong(GuestResponder::arpReplies).sum();
            long echo = responders.stream().mapToLong(GuestResponder::echoReplies).sum();
            if (arp != lastArp || echo != lastEcho) {
                out.printf("  answered %d ARP requests, %d ICMP echo requests%n", arp, echo);
                lastArp = arp;
                lastEcho = echo;
            }
        }
        Thread.interrupted();
    }
}
