package dev.vnet.config;

import dev.vnet.spi.MacAddress;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigObject;
import com.typesafe.config.ConfigParseOptions;
import com.typesafe.config.ConfigValue;
import com.typesafe.config.ConfigValueType;
import dev.vnet.config.TransportSpec.SocketMode;
import dev.vnet.virtio.QueueConfig;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Pattern;

/**
 * The validated form of a vnet HOCON file: the devices to build. {@link #load} reads every device,
 * checks every key against {@code reference.conf}'s rules and reports all problems at once in a
 * {@link VnetConfigException}, each naming its HOCON path, the bad value and what is allowed.
 */
public record VnetConfig(List<DeviceSpec> devices) {

    private static final Pattern ID = Pattern.compile("[a-zA-Z0-9_.-]{1,32}");
    private static final Set<String> DEVICE_KEYS = Set.of("id", "type", "transport", "queue-pairs", "rx-queue-size",
            "tx-queue-size", "ctrl-queue-size", "mac", "mtu", "speed", "duplex", "busy-poll-micros", "features",
            "backend");
    private static final Set<String> TRANSPORT_KEYS = Set.of("type", "slot", "function", "socket", "mode");
    private static final List<String> PCI_KEYS = List.of("slot", "function");
    private static final List<String> VHOST_USER_KEYS = List.of("socket", "mode");
    /** Largest rx/tx ring a pci device offers (QEMU's virtio-net-pci allows 256..1024). */
    private static final int PCI_MAX_QUEUE_SIZE = 1024;
    private static final int MIN_QUEUE_SIZE = 8;

    public VnetConfig {
        devices = List.copyOf(devices);
    }

    /** The embedded default: {@code reference.conf} plus one loopback device {@code net0}. */
    public static VnetConfig defaults() {
        return parse("vnet.devices = [ { id = net0 } ]");
    }

    /** Reads a HOCON file over {@code reference.conf}. */
    public static VnetConfig load(Path file) {
        return load(file, null);
    }

    /** Reads HOCON text over {@code reference.conf}. */
    public static VnetConfig parse(String hocon) {
        try {
            return load(ConfigFactory.parseString(hocon));
        } catch (ConfigException.Parse e) {
            throw new VnetConfigException(List.of(new ConfigProblem("(text)", e.getMessage(), "valid HOCON syntax")));
        }
    }

    /** Validates {@code config} layered over {@code reference.conf}. */
    public static VnetConfig load(Config config) {
        return load(config, null);
    }

    /**
     * Reads a HOCON file; with a non-null {@code plugins} it also checks every plugin type, in the same
     * pass.
     */
    public static VnetConfig load(Path file, PluginRegistry plugins) {
        if (!Files.isReadable(file)) {
            throw new VnetConfigException(List.of(new ConfigProblem("(file)", file.toString(), "a readable HOCON file")));
        }
        try {
            return load(ConfigFactory.parseFile(file.toFile(), ConfigParseOptions.defaults().setAllowMissing(false)),
                    plugins);
        } catch (ConfigException e) {
            throw new VnetConfigException(List.of(new ConfigProblem("(file)", e.getMessage(), "valid HOCON syntax")));
        }
    }

    /**
     * Validates {@code config} layered over {@code reference.conf}; with a non-null {@code plugins},
     * device, transport and backend types are checked too, so every problem is reported together.
     */
    public static VnetConfig load(Config config, PluginRegistry plugins) {
        Config root;
        try {
            root = config.withFallback(ConfigFactory.defaultReference(VnetConfig.class.getClassLoader())).resolve();
        } catch (ConfigException e) {
            throw new VnetConfigException(List.of(new ConfigProblem("(substitution)", e.getMessage(),
                    "resolvable ${...} references")));
        }
        Reader r = new Reader(plugins);
        List<DeviceSpec> devices = r.devices(root);
        if (!r.problems.isEmpty()) {
            throw new VnetConfigException(r.problems);
        }
        return new VnetConfig(devices);
    }

    /** Collects problems instead of stopping at the first. */
    private static final class Reader {
        final List<ConfigProblem> problems = new ArrayList<>();
        /** What devices claimed so far, by the device path that claimed it: ids, pci "slot.function", sockets. */
        final Map<String, String> ids = new HashMap<>();
        final Map<String, String> slots = new HashMap<>();
        final Map<Path, String> sockets = new HashMap<>();
        final PluginRegistry plugins;

        Reader(PluginRegistry plugins) {
            this.plugins = plugins;
        }

        void checkType(String path, String type, java.util.function.Function<PluginRegistry, List<ConfigProblem>> check) {
            if (plugins != null && type != null) {
                problems.addAll(check.apply(plugins));
            }
        }

        List<DeviceSpec> devices(Config root) {
            Config defaults = root.getConfig("vnet.device-defaults");
            List<DeviceSpec> out = new ArrayList<>();
            ConfigValue list = root.getValue("vnet.devices");
            if (list.valueType() != ConfigValueType.LIST) {
                problem("vnet.devices", list, "a list of device objects");
                return out;
            }
            List<? extends ConfigValue> entries = root.getList("vnet.devices");
            for (int i = 0; i < entries.size(); i++) {
                String path = "vnet.devices[" + i + "]";
                ConfigValue entry = entries.get(i);
                if (entry.valueType() != ConfigValueType.OBJECT) {
                    problem(path, entry, "a device object");
                    continue;
                }
                Config written = ((ConfigObject) entry).toConfig();
                DeviceSpec spec = device(path, written.withFallback(defaults), written);
                if (spec != null) {
                    out.add(spec);
                }
            }
            return out;
        }

        /** {@code c} is the device merged over the defaults, {@code written} the entry as the file has it. */
        DeviceSpec device(String path, Config c, Config written) {
            int before = problems.size();
            unknownKeys(path, c.root(), DEVICE_KEYS);
            String id = c.hasPath("id") ? string(c, path, "id") : null;
            if (id == null && !c.hasPath("id")) {
                problems.add(new ConfigProblem(path + ".id", "(missing)", "a device id matching " + ID.pattern()));
            } else if (id != null && !ID.matcher(id).matches()) {
                problems.add(new ConfigProblem(path + ".id", quote(id), "a device id matching " + ID.pattern()));
            } else if (id != null) {
                claim(ids, id, path, path + ".id", quote(id), "an id not already used by ");
            }
            String type = string(c, path, "type");
            checkType(path + ".type", type, reg -> reg.checkDevice(path + ".type", type));
            TransportSpec transport = transport(path, c, written);
            int pairs = intIn(c, path, "queue-pairs", 1, 256, "an integer 1..256");
            // Over vhost-user the front-end picks each ring's size up to this maximum; only the split
            // ring's own limit applies (virtio 1.2, 2.7).
            int maxRing = transport != null && TransportSpec.VHOST_USER.equals(transport.type())
                    ? QueueConfig.MAX_SIZE : PCI_MAX_QUEUE_SIZE;
            int rx = powerOfTwo(c, path, "rx-queue-size", MIN_QUEUE_SIZE, maxRing);
            int tx = powerOfTwo(c, path, "tx-queue-size", MIN_QUEUE_SIZE, maxRing);
            int ctrl = powerOfTwo(c, path, "ctrl-queue-size", MIN_QUEUE_SIZE, PCI_MAX_QUEUE_SIZE);
            MacAddress mac = mac(c, path, id);
            int mtu = intIn(c, path, "mtu", 68, 65535, "an integer 68..65535");
            int speed = intIn(c, path, "speed", -1, Integer.MAX_VALUE, "-1 (unknown) or 0..2147483647 Mbit/s");
            Duplex duplex = choice(c, path, "duplex", Duplex.class, "full, half or unknown");
            int busyPoll = intIn(c, path, "busy-poll-micros", 0, 1_000_000, "an integer 0..1000000 (microseconds)");
            Map<String, Boolean> features = features(c, path + ".features");
            if (pairs > 1 && Boolean.FALSE.equals(features.get("mq"))) {
                problems.add(new ConfigProblem(path + ".queue-pairs", String.valueOf(pairs),
                        "1 while features.mq is false"));
            }
            BackendSpec backend = backend(c, path + ".backend");
            if (problems.size() != before) {
                return null;
            }
            return new DeviceSpec(id, path, type, transport, pairs, rx, tx, ctrl, mac, mtu, speed, duplex, busyPoll,
                    features, backend);
        }

        /** The transport of device {@code devicePath}; also claims its slot or socket against the others. */
        TransportSpec transport(String devicePath, Config device, Config written) {
            String path = devicePath + ".transport";
            if (!isObject(device, "transport", path)) {
                return null;
            }
            Config t = device.getConfig("transport");
            unknownKeys(path, t.root(), TRANSPORT_KEYS);
            String type = string(t, path, "type");
            checkType(path + ".type", type, reg -> reg.checkTransport(path + ".type", type));
            if (TransportSpec.VHOST_USER.equals(type)) {
                onlyFor(written, path, PCI_KEYS, TransportSpec.PCI);
                String socket = socket(t, path);
                if (socket != null) {
                    claim(sockets, Path.of(socket).toAbsolutePath().normalize(), devicePath, path + ".socket",
                            quote(socket), "a socket path not already used by ");
                }
                SocketMode mode = choice(t, path, "mode", SocketMode.class,
                        "server (listen at socket) or client (connect to a front-end listening there)");
                return TransportSpec.vhostUser(socket, mode);
            }
            onlyFor(written, path, VHOST_USER_KEYS, TransportSpec.VHOST_USER);
            int before = problems.size();
            int slot = TransportSpec.AUTO_SLOT;
            ConfigValue v = t.getValue("slot");
            if (!(v.valueType() == ConfigValueType.STRING && "auto".equals(v.unwrapped()))) {
                slot = intIn(t, path, "slot", 1, 31, "auto or an integer 1..31");
            }
            int function = intIn(t, path, "function", 0, 7, "an integer 0..7");
            if (slot != TransportSpec.AUTO_SLOT && problems.size() == before) {
                claim(slots, slot + "." + function, devicePath, path + ".slot", slot + "." + function,
                        "a slot.function not already used by ");
            }
            return new TransportSpec(type, slot, function);
        }

        /** Records that {@code devicePath} uses {@code place}, or a problem when another device already does. */
        <K> void claim(Map<K, String> taken, K place, String devicePath, String path, String value, String allowed) {
            String other = taken.putIfAbsent(place, devicePath);
            if (other != null) {
                problems.add(new ConfigProblem(path, value, allowed + other));
            }
        }

        /** Problems for {@code keys} the device entry sets although they belong to transport {@code owner}. */
        void onlyFor(Config written, String path, List<String> keys, String owner) {
            for (String key : keys) {
                if (written.hasPath("transport." + key)) {
                    problems.add(new ConfigProblem(path + "." + key, render(written.getValue("transport." + key)),
                            "no " + key + ": it applies to transport type " + owner + " only"));
                }
            }
        }

        String socket(Config t, String path) {
            String allowed = "a Unix socket path of 1.." + TransportSpec.SUN_PATH_MAX
                    + " bytes (UTF-8, sun_path) without NUL, such as \"/run/vnet0.sock\"";
            ConfigValue v = t.hasPath("socket") ? t.getValue("socket") : null;
            if (v == null || v.valueType() != ConfigValueType.STRING) {
                problem(path + ".socket", v, allowed);
                return null;
            }
            String socket = (String) v.unwrapped();
            int bytes = socket.getBytes(StandardCharsets.UTF_8).length;
            if (socket.isBlank() || bytes > TransportSpec.SUN_PATH_MAX || socket.indexOf('\0') >= 0) {
                problems.add(new ConfigProblem(path + ".socket", render(v) + " (" + bytes + " bytes)", allowed));
                return null;
            }
            return socket;
        }

        MacAddress mac(Config c, String path, String id) {
            String text = string(c, path, "mac");
            if (text == null) {
                return null;
            }
            if (text.equals("auto")) {
                return id == null ? null : MacAddress.derive(id);
            }
            MacAddress mac = null;
            try {
                mac = MacAddress.parse(text);
            } catch (IllegalArgumentException e) {
                // reported below
            }
            if (mac == null || mac.isMulticast() || mac.value() == 0) {
                problems.add(new ConfigProblem(path + ".mac", quote(text),
                        "auto or a unicast MAC such as \"52:54:00:12:34:56\""));
                return null;
            }
            return mac;
        }

        /** The constant of {@code type} that {@code key} names in lower case, such as {@code full}. */
        <E extends Enum<E>> E choice(Config c, String path, String key, Class<E> type, String allowed) {
            String text = string(c, path, key);
            if (text == null) {
                return null;
            }
            try {
                return Enum.valueOf(type, text.toUpperCase(java.util.Locale.ROOT));
            } catch (IllegalArgumentException e) {
                problems.add(new ConfigProblem(path + "." + key, quote(text), allowed));
                return null;
            }
        }

        Map<String, Boolean> features(Config device, String path) {
            Map<String, Boolean> out = new LinkedHashMap<>();
            if (!isObject(device, "features", path)) {
                return out;
            }
            Config f = device.getConfig("features");
            unknownKeys(path, f.root(), Set.copyOf(FeatureSwitches.NAMES));
            for (String name : FeatureSwitches.NAMES) {
                ConfigValue v = f.root().get(name);
                if (v == null || v.valueType() != ConfigValueType.BOOLEAN) {
                    problems.add(new ConfigProblem(path + "." + name, render(v), "true or false"));
                    continue;
                }
                out.put(name, (Boolean) v.unwrapped());
            }
            if (Boolean.FALSE.equals(out.get("version-1"))) {
                problems.add(new ConfigProblem(path + ".version-1", "false",
                        "true: the modern interface vnet implements (virtio-pci and vhost-user alike) requires"
                                + " VIRTIO_F_VERSION_1"));
            }
            return out;
        }

        BackendSpec backend(Config device, String path) {
            if (!isObject(device, "backend", path)) {
                return null;
            }
            Config b = device.getConfig("backend");
            String type = string(b, path, "type");
            checkType(path + ".type", type, reg -> reg.checkBackend(path + ".type", type));
            Map<String, Object> options = new LinkedHashMap<>(b.root().unwrapped());
            options.remove("type");
            return type == null ? null : new BackendSpec(type, path, options);
        }

        // ---- primitives ----

        boolean isObject(Config c, String key, String path) {
            if (!c.hasPath(key) || c.getValue(key).valueType() != ConfigValueType.OBJECT) {
                problems.add(new ConfigProblem(path, render(c.hasPath(key) ? c.getValue(key) : null), "an object"));
                return false;
            }
            return true;
        }

        String string(Config c, String path, String key) {
            ConfigValue v = c.hasPath(key) ? c.getValue(key) : null;
            if (v == null || v.valueType() != ConfigValueType.STRING || ((String) v.unwrapped()).isBlank()) {
                if (!"id".equals(key) || v != null) {
                    problems.add(new ConfigProblem(path + "." + key, render(v), "a non-empty string"));
                }
                return null;
            }
            return (String) v.unwrapped();
        }

        int intIn(Config c, String path, String key, long min, long max, String allowed) {
            ConfigValue v = c.hasPath(key) ? c.getValue(key) : null;
            if (v != null && v.valueType() == ConfigValueType.NUMBER) {
                Number n = (Number) v.unwrapped();
                if (n.doubleValue() == n.longValue() && n.longValue() >= min && n.longValue() <= max) {
                    return (int) n.longValue();
                }
            }
            problems.add(new ConfigProblem(path + "." + key, render(v), allowed));
            return 0;
        }

        int powerOfTwo(Config c, String path, String key, int min, int max) {
            String allowed = "a power of two " + min + ".." + max;
            int before = problems.size();
            int n = intIn(c, path, key, min, max, allowed);
            if (problems.size() == before && Integer.bitCount(n) != 1) {
                problems.add(new ConfigProblem(path + "." + key, String.valueOf(n), allowed));
            }
            return n;
        }

        void unknownKeys(String path, ConfigObject object, Set<String> allowed) {
            for (String key : object.keySet()) {
                if (!allowed.contains(key)) {
                    problems.add(new ConfigProblem(path + "." + key, "an unknown key",
                            "one of " + String.join(", ", new TreeSet<>(allowed))));
                }
            }
        }

        void problem(String path, ConfigValue v, String allowed) {
            problems.add(new ConfigProblem(path, render(v), allowed));
        }

        static String render(ConfigValue v) {
            return v == null ? "(missing)" : v.render(com.typesafe.config.ConfigRenderOptions.concise());
        }

        static String quote(String s) {
            return "\"" + s + "\"";
        }
    }
}
