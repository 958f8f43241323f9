package dev.vnet.vhostuser;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import dev.vnet.config.ConfigProblem;
import dev.vnet.config.PluginRegistry;
import dev.vnet.config.TransportSpec;
import dev.vnet.config.VnetConfig;
import dev.vnet.config.VnetConfigException;
import dev.vnet.spi.MacAddress;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The command line of {@code vnet-vhost-user}. Either {@code --config FILE} (the devices of a HOCON file)
 * or {@code --socket PATH}... with the device options, which become the same HOCON devices: one
 * {@code vhost-user} device per socket, {@code vhost0}, {@code vhost1}, ... With {@code --config} the
 * file alone describes the devices, so a device option beside it is refused rather than half-applied.
 */
final class LauncherOptions {

    /** A command line that cannot be run as given; the launcher prints the message and the usage. */
    static final class UsageException extends RuntimeException {
        private static final long serialVersionUID = 1L;

        UsageException(String message) {
            super(message);
        }
    }

    private static final List<String> FLAGS = List.of("client", "help");
    private static final List<String> VALUED = List.of("socket", "config", "backend", "ifname", "queues", "queue-size",
            "mac", "mtu", "stats");
    /** Each device option and the HOCON key of a device it sets. */
    private static final Map<String, String> DEVICE_KEYS = deviceKeys();
    private static final String DEFAULT_MAC = "52:54:00:12:34:56";
    /** The largest ring a front-end may pick without --queue-size. */
    private static final String DEFAULT_QUEUE_SIZE = "1024";

    private final Map<String, List<String>> opts;

    private LauncherOptions(Map<String, List<String>> opts) {
        this.opts = opts;
    }

    private static Map<String, String> deviceKeys() {
        Map<String, String> keys = new LinkedHashMap<>();
        keys.put("socket", "transport.socket");
        keys.put("client", "transport.mode");
        keys.put("backend", "backend.type");
        keys.put("ifname", "backend.ifname");
        keys.put("queues", "queue-pairs");
        keys.put("queue-size", "rx-queue-size");
        keys.put("mac", "mac");
        keys.put("mtu", "mtu");
        return keys;
    }

    /** @throws UsageException an unknown option, or one without its value */
    static LauncherOptions parse(String... args) {
        Map<String, List<String>> opts = new LinkedHashMap<>();
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            String key = a.equals("-h") || a.equals("--h") ? "help" : a.startsWith("--") ? a.substring(2) : null;
            if (key == null) {
                throw new UsageException("unexpected argument " + a);
            }
            if (FLAGS.contains(key)) {
                opts.computeIfAbsent(key, k -> new ArrayList<>()).add("true");
            } else if (VALUED.contains(key)) {
                if (i + 1 >= args.length) {
                    throw new UsageException(a + " needs a value");
                }
                opts.computeIfAbsent(key, k -> new ArrayList<>()).add(args[++i]);
            } else {
                throw new UsageException("unknown option " + a);
            }
        }
        return new LauncherOptions(opts);
    }

    boolean help() {
        return opts.containsKey("help");
    }

    /** Seconds between counter printouts, 0 for none. */
    int statsSeconds() {
        String text = one("stats", "0");
        try {
            int seconds = Integer.parseInt(text);
            if (seconds >= 0) {
                return seconds;
            }
        } catch (NumberFormatException e) {
            // reported below
        }
        throw new UsageException("--stats " + text + ": expected whole seconds, 0 or more");
    }

    /**
     * The validated devices: those of the {@code --config} file, or those the command line describes.
     *
     * @throws UsageException      no --socket and no --config, --config with device options, or cable
     *                             without exactly two sockets
     * @throws VnetConfigException every problem, named by HOCON path (and by option for the command line)
     */
    VnetConfig load(PluginRegistry plugins) {
        if (opts.containsKey("config")) {
            List<String> beside = DEVICE_KEYS.keySet().stream().filter(opts::containsKey).map(k -> "--" + k).toList();
            if (!beside.isEmpty()) {
                throw new UsageException(String.join(", ", beside) + " beside --config: the file describes the"
                        + " devices and wins, so set " + String.join(", ", beside.stream()
                        .map(o -> DEVICE_KEYS.get(o.substring(2))).toList())
                        + " in its vnet.devices (or vnet.device-defaults) instead");
            }
            return VnetConfig.load(Path.of(one("config", null)), plugins);
        }
        List<String> sockets = opts.getOrDefault("socket", List.of());
        if (sockets.isEmpty()) {
            throw new UsageException("--socket (or --config) is required");
        }
        String backend = one("backend", "loopback");
        if (backend.equals("cable") && sockets.size() != 2) {
            throw new UsageException("the cable backend joins exactly two sockets");
        }
        try {
            return VnetConfig.load(commandLineDevices(sockets, backend), plugins);
        } catch (VnetConfigException e) {
            throw explain(e);
        }
    }

    /** The HOCON the simple command line stands for: {@code vnet.devices = [ ... ]}, one per socket. */
    private Config commandLineDevices(List<String> sockets, String backendType) {
        List<Map<String, Object>> devices = new ArrayList<>();
        for (int i = 0; i < sockets.size(); i++) {
            Map<String, Object> backend = new LinkedHashMap<>();
            backend.put("type", backendType);
            switch (backendType) {
                case "tap" -> backend.put("ifname", one("ifname", "vnet%d"));
                case "cable" -> backend.put("name", "vnet-vhost-user");
                default -> { }
            }
            Map<String, Object> device = new LinkedHashMap<>();
            device.put("id", "vhost" + i);
            device.put("transport", Map.of("type", TransportSpec.VHOST_USER, "socket", sockets.get(i),
                    "mode", opts.containsKey("client") ? "client" : "server"));
            device.put("queue-pairs", number(one("queues", "1")));
            device.put("rx-queue-size", number(one("queue-size", DEFAULT_QUEUE_SIZE)));
            device.put("tx-queue-size", number(one("queue-size", DEFAULT_QUEUE_SIZE)));
            device.put("mac", withIndex(one("mac", DEFAULT_MAC), i));
            device.put("mtu", number(one("mtu", "1500")));
            device.put("backend", backend);
            devices.add(device);
        }
        return ConfigFactory.parseMap(Map.of("vnet.devices", devices));
    }

    /** A whole number as a number, anything else as the text for validation to report. */
    private static Object number(String text) {
        try {
            return Long.parseLong(text);
        } catch (NumberFormatException e) {
            return text;
        }
    }

    /** Device {@code index} gets the MAC's last octet plus its index (wrapping), the first the MAC itself. */
    private static String withIndex(String mac, int index) {
        MacAddress parsed;
        try {
            parsed = MacAddress.parse(mac);
        } catch (IllegalArgumentException e) {
            return mac;
        }
        long last = (parsed.value() + index) & 0xFF;
        return new MacAddress((parsed.value() & ~0xFFL) | last).toString();
    }

    /**
     * For devices the command line describes, names the option behind each problem beside its HOCON path;
     * a {@code --config} file's problems keep their paths.
     */
    VnetConfigException explain(VnetConfigException e) {
        if (opts.containsKey("config")) {
            return e;
        }
        return new VnetConfigException(e.problems().stream().map(LauncherOptions::withOption).toList());
    }

    private static ConfigProblem withOption(ConfigProblem p) {
        String key = p.path().replaceFirst("^vnet\\.devices\\[\\d+]\\.", "");
        String option = key.equals("tx-queue-size") ? "queue-size" : key.startsWith("backend") ? "backend" : null;
        for (Map.Entry<String, String> e : DEVICE_KEYS.entrySet()) {
            if (option == null && e.getValue().equals(key)) {
                option = e.getKey();
            }
        }
        return option == null ? p : new ConfigProblem("--" + option + " (" + p.path() + ")", p.value(), p.allowed());
    }

    private String one(String key, String dflt) {
        List<String> v = opts.get(key);
        return v == null || v.isEmpty() ? dflt : v.getLast();
    }
}
