package dev.vnet.testkit.netns;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

/**
 * A network namespace owned by one test: created with {@code ip netns add} under a random name, deleted
 * by {@link #close}. IPv6 is off inside it so the kernel sends no router solicitations or DAD probes to
 * the guest. Needs iproute2 ({@code ip}); {@link #python} needs {@code python3}.
 */
public final class NetNs implements AutoCloseable {

    private final String name;

    private NetNs(String name) {
        this.name = name;
    }

    /**
     * Why namespace tests cannot run here (not root, no {@code ip}), or null when they can. Callers turn a
     * non-null answer into a skipped test that prints it.
     */
    public static String missingPrerequisite() {
        if (!isRoot()) {
            return "network namespaces need root";
        }
        if (!runs("ip", "-V")) {
            return "iproute2 ('ip') is not installed";
        }
        return null;
    }

    /** Why {@link #python} cannot run here, or null. */
    public static String missingPython() {
        return runs("python3", "-c", "pass") ? null : "python3 is not installed";
    }

    public static boolean isRoot() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("Uid:")) {
                    return line.split("\\s+")[1].equals("0");
                }
            }
        } catch (IOException e) {
            return false;
        }
        return false;
    }

    public static boolean runs(String... cmd) {
        try {
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
            p.getInputStream().readAllBytes();
            return p.waitFor(10, TimeUnit.SECONDS) && p.exitValue() == 0;
        } catch (IOException e) {
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    public static NetNs create() {
        NetNs ns = new NetNs("vnet-test-" + HexFormat.of().toHexDigits(ThreadLocalRandom.current().nextInt()));
        run("ip", "netns", "add", ns.name);
        try {
            ns.exec("sysctl", "-q", "-w", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1");
            ns.ip("link", "set", "lo", "up");
        } catch (RuntimeException | AssertionError e) {
            ns.close();
            throw e;
        }
        return ns;
    }

    public static String randomIfname() {
        return "vt" + HexFormat.of().toHexDigits(ThreadLocalRandom.current().nextInt());
    }

    /** Moves {@code ifname} from the root namespace in here, gives it {@code mac} and {@code cidr}, brings it up. */
    public void adopt(String ifname, String mac, String cidr) {
        run("ip", "link", "set", ifname, "netns", name);
        ip("link", "set", ifname, "address", mac);
        ip("addr", "add", cidr, "dev", ifname);
        ip("link", "set", ifname, "up");
    }

    /** A permanent neighbour entry, so the kernel sends to {@code ip} without asking ARP first. */
    public void neigh(String ifname, String ip, String mac) {
        ip("neigh", "replace", ip, "lladdr", mac, "dev", ifname, "nud", "permanent");
    }

    public String ip(String... args) {
        List<String> cmd = new ArrayList<>(List.of("ip", "-n", name));
        cmd.addAll(List.of(args));
        return run(cmd.toArray(String[]::new));
    }

    public String exec(String... args) {
        List<String> cmd = new ArrayList<>(List.of("ip", "netns", "exec", name));
        cmd.addAll(List.of(args));
        return run(cmd.toArray(String[]::new));
    }

    /** Starts {@code python3 -u -c script args...} inside the namespace. */
    public Python python(String script, String... args) {
        List<String> cmd = new ArrayList<>(List.of("ip", "netns", "exec", name, Python.executable(), "-u", "-c",
                script));
        cmd.addAll(List.of(args));
        return new Python(cmd);
    }

    /** The namespace's name, for {@code ip netns exec NAME}. */
    public String name() {
        return name;
    }

    @Override
    public void close() {
        try {
            run("ip", "netns", "del", name);
        } catch (RuntimeException | AssertionError e) {
            System.err.println("could not delete namespace " + name + ": " + e.getMessage());
        }
    }

    public static String run(String... cmd) {
        try {
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
            byte[] out = p.getInputStream().readAllBytes();
            if (!p.waitFor(20, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new AssertionError("timed out: " + String.join(" ", cmd));
            }
            String text = new String(out, StandardCharsets.UTF_8);
            if (p.exitValue() != 0) {
                throw new AssertionError(String.join(" ", cmd) + " exited with " + p.exitValue() + ": " + text);
            }
            return text;
        } catch (IOException e) {
            throw new IllegalStateException("cannot run " + String.join(" ", cmd), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    /** A python3 process inside the namespace whose output lines are read on a daemon thread. */
    public static final class Python implements AutoCloseable {
        private static volatile String executable;
        private final Process process;
        private final BlockingQueue<String> lines = new LinkedBlockingQueue<>();

        /** The interpreter behind a version manager's shim, resolved once. */
        public static String executable() {
            if (executable == null) {
                executable = run("python3", "-c", "import sys; print(sys.executable)").strip();
            }
            return executable;
        }

        Python(List<String> cmd) {
            try {
                process = new ProcessBuilder(cmd).redirectErrorStream(true).start();
            } catch (IOException e) {
                throw new IllegalStateException(e);
            }
            Thread.ofPlatform().daemon(true).start(() -> {
                try (BufferedReader r = new BufferedReader(
                        new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
                    for (String line; (line = r.readLine()) != null; ) {
                        lines.add(line);
                    }
                } catch (IOException ignored) {
                    // the process ended
                }
                lines.add("<EOF>");
            });
        }

        public String line(long timeoutSeconds) {
            try {
                String line = lines.poll(timeoutSeconds, TimeUnit.SECONDS);
                if (line == null) {
                    throw new AssertionError("no output from python within " + timeoutSeconds + " s");
                }
                return line;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException(e);
            }
        }

        /** Waits for the line {@code READY} (the script bound its socket). */
        public void awaitReady() {
            String line = line(15);
            if (!line.equals("READY")) {
                throw new AssertionError("python said " + line + " instead of READY; then: " + String.join(" | ", lines));
            }
        }

        @Override
        public void close() {
            process.destroyForcibly();
            try {
                process.waitFor(5, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }
}
