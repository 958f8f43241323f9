package dev.vnet.vhostuser;

import dev.vnet.net.NetDeviceConfig;
import dev.vnet.net.QueueStats;
import dev.vnet.net.VirtioNetDevice;
import dev.vnet.spi.BackendRequest;
import dev.vnet.spi.NetBackend;
import dev.vnet.spi.NetBackendProvider;
import java.io.IOException;
import java.io.Reader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.ServiceLoader;
import java.util.concurrent.CountDownLatch;

/**
 * {@code vnet-vhost-user}: serves virtio-net devices to vhost-user front-ends (QEMU, DPDK virtio-user,
 * cloud-hypervisor). One device per {@code --socket}; see {@link #USAGE}.
 *
 * <p>Until the HOCON layer (module {@code config}) can describe a vhost-user device, {@code --config}
 * reads a Java properties file whose keys are the long option names without dashes ({@code socket},
 * {@code backend}, {@code ifname}, ...); options on the command line win.
 */
public final class Main {

    static final String USAGE = """
            usage: vnet-vhost-user --socket PATH [--socket PATH2] [--client] [--config FILE]
                                   [--backend loopback|tap|cable] [--ifname NAME] [--queues N]
                                   [--queue-size N] [--mac MAC] [--mtu N] [--stats SECONDS]
              --socket PATH    vhost-user socket; repeat for more devices (cable needs exactly two)
              --client         connect to a front-end listening at PATH (default: listen at PATH)
              --config FILE    properties file with the same keys (socket may list paths separated by ',')
              --backend TYPE   loopback (default: frames sent come back), tap (a Linux TAP interface),
                               cable (joins the two devices of two sockets)
              --ifname NAME    TAP interface name (tap backend); created when missing; %d for a template
              --queues N       queue pairs per device (default 1)
              --queue-size N   largest ring size accepted (default 1024)
              --mac MAC        the device MAC (default 52:54:00:12:34:56, last byte + device index)
              --mtu N          MTU (default 1500)
              --stats SECONDS  print per-queue counters every SECONDS (and at exit)
            """;

    private Main() {
    }

    public static void main(String[] args) throws Exception {
        Map<String, List<String>> opts;
        try {
            opts = parse(args);
        } catch (IllegalArgumentException e) {
            System.err.println("vnet-vhost-user: " + e.getMessage());
            System.err.print(USAGE);
            System.exit(2);
            return;
        }
        if (opts.containsKey("help")) {
            System.out.print(USAGE);
            return;
        }
        List<String> sockets = opts.getOrDefault("socket", List.of());
        String backendType = one(opts, "backend", "loopback");
        if (sockets.isEmpty()) {
            fail("--socket is required");
        }
        if (backendType.equals("cable") && sockets.size() != 2) {
            fail("the cable backend joins exactly two sockets");
        }
        boolean client = opts.containsKey("client");
        int queues = Integer.parseInt(one(opts, "queues", "1"));
        int queueSize = Integer.parseInt(one(opts, "queue-size", "1024"));
        int mtu = Integer.parseInt(one(opts, "mtu", "1500"));
        String mac = one(opts, "mac", "52:54:00:12:34:56");
        int statsSeconds = Integer.parseInt(one(opts, "stats", "0"));

        NetBackendProvider provider = ServiceLoader.load(NetBackendProvider.class).stream()
                .map(ServiceLoader.Provider::get).filter(p -> p.type().equals(backendType)).findFirst()
                .orElseThrow(() -> new IllegalArgumentException("no backend of type " + backendType));

        List<VirtioNetDevice> devices = new ArrayList<>();
        List<VhostUserBackend> backends = new ArrayList<>();
        List<VhostUserServer> servers = new ArrayList<>();
        for (int i = 0; i < sockets.size(); i++) {
            String id = "vhost" + i;
            Map<String, Object> backendOptions = new HashMap<>();
            switch (backendType) {
                case "tap" -> {
                    backendOptions.put("ifname", one(opts, "ifname", "vnet%d"));
                }
                case "cable" -> backendOptions.put("name", "vnet-vhost-user");
                default -> { }
            }
            NetBackend nb = provider.open(new BackendRequest(id, queues, backendOptions));
            NetDeviceConfig config = NetDeviceConfig.builder().id(id).mac(withIndex(mac, i)).mtu(mtu)
                    .queuePairs(queues).queueSizes(queueSize, queueSize).build();
            VirtioNetDevice device = new VirtioNetDevice(config, nb);
            VhostUserBackend backend = new VhostUserBackend(device);
            devices.add(device);
            backends.add(backend);
            servers.add(new VhostUserServer(Path.of(sockets.get(i)), client, backend).start());
            System.out.printf("vnet-vhost-user: %s on %s (%s, %s backend, %d queue pair(s), features 0x%x)%n", id,
                    sockets.get(i), client ? "client" : "server", backendType, queues, backend.offeredFeatures());
        }
        CountDownLatch done = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            for (VhostUserServer s : servers) {
                s.close();
            }
            if (statsSeconds > 0) {
                printStats(devices);
            }
            for (VhostUserBackend b : backends) {
                b.close();
            }
            for (VirtioNetDevice d : devices) {
                d.close();
            }
            done.countDown();
        }));
        if (statsSeconds > 0) {
            Thread.ofPlatform().daemon(true).name("stats").start(() -> {
                while (true) {
                    try {
                        Thread.sleep(statsSeconds * 1000L);
                    } catch (InterruptedException e) {
                        return;
                    }
                    printStats(devices);
                    for (VhostUserBackend b : backends) {
                        System.out.println("rings " + b.device().config().id() + ":" + b.describeRings());
                    }
                }
            });
        }
        done.await();
    }

    static void printStats(List<VirtioNetDevice> devices) {
        for (VirtioNetDevice d : devices) {
            StringBuilder sb = new StringBuilder("stats " + d.config().id() + ":");
            for (QueueStats q : d.stats().all()) {
                if (q.getPackets() + q.getDrops() + q.getKicks() > 0) {
                    sb.append(String.format(" q%d(%s) packets=%d bytes=%d drops=%d kicks=%d irqs=%d;", q.getQueueIndex(),
                            q.getKind(), q.getPackets(), q.getBytes(), q.getDrops(), q.getKicks(), q.getInterrupts()));
                }
            }
            System.out.println(sb);
        }
        System.out.flush();
    }

    private static String withIndex(String mac, int index) {
        if (index == 0) {
            return mac;
        }
        int last = Integer.parseInt(mac.substring(mac.length() - 2), 16);
        return mac.substring(0, mac.length() - 2) + String.format("%02x", (last + index) & 0xFF);
    }

    private static String one(Map<String, List<String>> opts, String key, String dflt) {
        List<String> v = opts.get(key);
        return v == null || v.isEmpty() ? dflt : v.getLast();
    }

    private static void fail(String message) {
        System.err.println("vnet-vhost-user: " + message);
        System.err.print(USAGE);
        System.exit(2);
    }

    static Map<String, List<String>> parse(String[] args) throws IOException {
        Map<String, List<String>> cli = new HashMap<>();
        List<String> flags = List.of("client", "help");
        List<String> valued = List.of("socket", "config", "backend", "ifname", "queues", "queue-size", "mac", "mtu",
                "stats");
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            if (!a.startsWith("--")) {
                throw new IllegalArgumentException("unexpected argument " + a);
            }
            String key = a.substring(2);
            if (key.equals("h")) {
                key = "help";
            }
            if (flags.contains(key)) {
                cli.computeIfAbsent(key, k -> new ArrayList<>()).add("true");
            } else if (valued.contains(key)) {
                if (i + 1 >= args.length) {
                    throw new IllegalArgumentException(a + " needs a value");
                }
                cli.computeIfAbsent(key, k -> new ArrayList<>()).add(args[++i]);
            } else {
                throw new IllegalArgumentException("unknown option " + a);
            }
        }
        Map<String, List<String>> merged = new HashMap<>();
        if (cli.containsKey("config")) {
            Properties p = new Properties();
            try (Reader r = Files.newBufferedReader(Path.of(cli.get("config").getLast()))) {
                p.load(r);
            }
            for (String key : p.stringPropertyNames()) {
                if (!flags.contains(key) && !valued.contains(key)) {
                    throw new IllegalArgumentException("unknown key " + key + " in " + cli.get("config").getLast());
                }
                String v = p.getProperty(key).trim();
                if (flags.contains(key)) {
                    if (Boolean.parseBoolean(v)) {
                        merged.put(key, List.of("true"));
                    }
                } else {
                    merged.put(key, key.equals("socket") ? List.of(v.split("\\s*,\\s*")) : List.of(v));
                }
            }
        }
        merged.putAll(cli);
        return merged;
    }
}
