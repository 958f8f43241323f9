package dev.vnet.tap;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * The {@code tap} backend's options, validated. See {@link TapBackendProvider} for the table.
 *
 * @param ifname  interface name or {@code %d} template; empty when the kernel picks ({@code tap%d}) or fds
 *                are handed in
 * @param mode    how {@code ifname} is obtained
 * @param queues  queue pairs, one fd each
 * @param fds     fds handed in by the host, or empty
 * @param sndbuf  {@code TUNSETSNDBUF} bytes, or 0 for the kernel's default (unlimited)
 */
record TapOptions(String ifname, Mode mode, int queues, List<Integer> fds, int sndbuf) {

    /** The most queue pairs a TAP device takes ({@code MAX_TAP_QUEUES} in the kernel). */
    static final int MAX_QUEUES = 256;

    static final Set<String> NAMES = Set.of("ifname", "mode", "queues", "fd", "fds", "sndbuf");

    /** How the backend gets its TAP device. */
    enum Mode {
        /** Attach to {@code ifname} when it exists, else create it (QEMU's behaviour). */
        AUTO,
        /** Create {@code ifname}; fail when an interface of that name exists. */
        CREATE,
        /** Attach to the existing TAP interface {@code ifname}; fail when there is none. */
        ATTACH,
        /** Use the fds the host handed in ({@code fd}/{@code fds}). */
        FDS
    }

    TapOptions {
        fds = List.copyOf(fds);
    }

    /**
     * Validates {@code options}.
     *
     * @param maxQueues the device's queue pairs ({@link dev.vnet.spi.BackendRequest#queuePairs()})
     * @throws IllegalArgumentException naming the offending option
     */
    static TapOptions parse(Map<String, Object> options, int maxQueues) {
        Set<String> unknown = new TreeSet<>(options.keySet());
        unknown.removeAll(NAMES);
        if (!unknown.isEmpty()) {
            throw new IllegalArgumentException("unknown tap option" + (unknown.size() > 1 ? "s " : " ")
                    + String.join(", ", unknown) + "; known: " + String.join(", ", new TreeSet<>(NAMES)));
        }
        if (maxQueues < 1) {
            throw new IllegalArgumentException("the device asked for " + maxQueues + " queue pairs");
        }
        boolean handedIn = options.containsKey("fd") || options.containsKey("fds");
        if (options.containsKey("fd") && options.containsKey("fds")) {
            throw new IllegalArgumentException("tap options 'fd' and 'fds' exclude each other: give one fd as 'fd'"
                    + " or all as 'fds'");
        }
        int sndbuf = options.containsKey("sndbuf")
                ? integer(options, "sndbuf", 1, Integer.MAX_VALUE, "a byte count from 1 to 2147483647") : 0;
        Integer queuesOption = options.containsKey("queues")
                ? integer(options, "queues", 1, MAX_QUEUES, "an integer from 1 to " + MAX_QUEUES) : null;
        if (handedIn) {
            for (String excluded : List.of("ifname", "mode")) {
                if (options.containsKey(excluded)) {
                    throw new IllegalArgumentException("tap option '" + excluded + "' cannot be combined with '"
                            + (options.containsKey("fd") ? "fd" : "fds") + "': handed-in fds already name their"
                            + " interface");
                }
            }
            List<Integer> fds = options.containsKey("fd")
                    ? List.of(integer(options, "fd", 0, Integer.MAX_VALUE, "a file descriptor number (>= 0)"))
                    : fdList(options.get("fds"));
            if (queuesOption != null && queuesOption != fds.size()) {
                throw new IllegalArgumentException("tap option 'queues' (" + queuesOption + ") must equal the number"
                        + " of fds (" + fds.size() + ")");
            }
            if (fds.size() > maxQueues) {
                throw new IllegalArgumentException("tap option 'fds' has " + fds.size() + " fds but the device has "
                        + maxQueues + " queue pair" + (maxQueues == 1 ? "" : "s"));
            }
            return new TapOptions("", Mode.FDS, fds.size(), fds, sndbuf);
        }
        int queues = queuesOption != null ? queuesOption : Math.min(maxQueues, MAX_QUEUES);
        if (queues > maxQueues) {
            throw new IllegalArgumentException("tap option 'queues' (" + queues + ") exceeds the device's "
                    + maxQueues + " queue pair" + (maxQueues == 1 ? "" : "s"));
        }
        String ifname = options.containsKey("ifname") ? ifname(options.get("ifname")) : "";
        Mode mode = Mode.AUTO;
        if (options.containsKey("mode")) {
            Object value = options.get("mode");
            String text = value instanceof String s ? s.toLowerCase(Locale.ROOT) : "";
            mode = switch (text) {
                case "auto" -> Mode.AUTO;
                case "create" -> Mode.CREATE;
                case "attach" -> Mode.ATTACH;
                default -> throw new IllegalArgumentException("tap option 'mode' must be \"auto\", \"create\" or"
                        + " \"attach\", got " + show(value));
            };
        }
        boolean template = ifname.isEmpty() || ifname.contains("%");
        if (mode == Mode.ATTACH && template) {
            throw new IllegalArgumentException("tap option 'mode' = \"attach\" needs option 'ifname' to name an"
                    + " existing interface" + (ifname.isEmpty() ? "" : ", not the template \"" + ifname + "\""));
        }
        return new TapOptions(ifname, mode, queues, List.of(), sndbuf);
    }

    private static String ifname(Object value) {
        if (!(value instanceof String name)) {
            throw new IllegalArgumentException("tap option 'ifname' must be a string, got " + show(value));
        }
        byte[] bytes = name.getBytes(StandardCharsets.UTF_8);
        boolean valid = bytes.length >= 1 && bytes.length <= Tun.IFNAMSIZ - 1 && !name.equals(".")
                && !name.equals("..");
        for (int i = 0; valid && i < name.length(); i++) {
            char c = name.charAt(i);
            valid = c > ' ' && c < 0x7f && c != '/' && c != ':';
        }
        int percent = name.indexOf('%');
        if (valid && percent >= 0) {
            valid = name.indexOf('%', percent + 1) < 0 && name.startsWith("%d", percent);
        }
        if (!valid) {
            throw new IllegalArgumentException("tap option 'ifname' must be 1 to 15 printable ASCII characters"
                    + " without '/', ':' or spaces (optionally one %d template), got " + show(value));
        }
        return name;
    }

    private static List<Integer> fdList(Object value) {
        if (!(value instanceof List<?> list) || list.isEmpty()) {
            throw new IllegalArgumentException("tap option 'fds' must be a non-empty list of file descriptor"
                    + " numbers, got " + show(value));
        }
        if (list.size() > MAX_QUEUES) {
            throw new IllegalArgumentException("tap option 'fds' has " + list.size() + " fds; at most " + MAX_QUEUES);
        }
        List<Integer> fds = new ArrayList<>(list.size());
        for (int i = 0; i < list.size(); i++) {
            Object item = list.get(i);
            Integer fd = integralOrNull(item);
            if (fd == null || fd < 0) {
                throw new IllegalArgumentException("tap option 'fds' element " + i
                        + " must be a file descriptor number (>= 0), got " + show(item));
            }
            if (fds.contains(fd)) {
                throw new IllegalArgumentException("tap option 'fds' names fd " + fd + " twice");
            }
            fds.add(fd);
        }
        return fds;
    }

    private static int integer(Map<String, Object> options, String name, int min, int max, String what) {
        Object value = options.get(name);
        Integer n = integralOrNull(value);
        if (n == null || n < min || n > max) {
            throw new IllegalArgumentException("tap option '" + name + "' must be " + what + ", got " + show(value));
        }
        return n;
    }

    /** An int from any integral {@link Number} (HOCON may give Integer, Long or a whole Double). */
    private static Integer integralOrNull(Object value) {
        if (value instanceof Integer i) {
            return i;
        }
        if (value instanceof Number n) {
            double d = n.doubleValue();
            if (d == Math.rint(d) && d >= Integer.MIN_VALUE && d <= Integer.MAX_VALUE) {
                return (int) d;
            }
        }
        return null;
    }

    private static String show(Object value) {
        return value instanceof String s ? "\"" + s + "\"" : value + (value == null ? "" : " (" + value.getClass()
                .getSimpleName() + ")");
    }
}
