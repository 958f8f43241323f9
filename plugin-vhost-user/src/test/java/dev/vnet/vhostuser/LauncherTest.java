package dev.vnet.vhostuser;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.vnet.config.ConfigProblem;
import dev.vnet.config.TransportSpec.SocketMode;
import dev.vnet.config.VnetConfigException;
import dev.vnet.config.VnetDevice;
import dev.vnet.net.NetFeatures;
import dev.vnet.net.VirtioNetDevice;
import dev.vnet.spi.MacAddress;
import dev.vnet.testkit.DriverQueue;
import dev.vnet.virtio.VirtioFeatures;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code vnet-vhost-user} through {@link Launcher}, the code path of {@link Main} without the exit: HOCON
 * files and command lines become running vhost-user devices that a {@link FakeFrontEnd} drives.
 */
class LauncherTest {

    private static final AtomicInteger IDS = new AtomicInteger();
    private static final long MQ_FEATURES = VirtioFeatures.bit(VirtioFeatures.VIRTIO_F_VERSION_1)
            | (1L << VhostUser.F_PROTOCOL_FEATURES) | (1L << NetFeatures.VIRTIO_NET_F_MQ);

    @TempDir
    Path dir;

    private final ByteArrayOutputStream printed = new ByteArrayOutputStream();
    private final PrintStream out = new PrintStream(printed, true, StandardCharsets.UTF_8);

    private Launcher launch(String... args) {
        return Launcher.start(LauncherOptions.parse(args), out);
    }

    private Path conf(String hocon) throws Exception {
        Path f = dir.resolve("vnet" + IDS.incrementAndGet() + ".conf");
        Files.writeString(f, hocon);
        return f;
    }

    private List<ConfigProblem> problems(String... args) {
        try (Launcher l = launch(args)) {
            throw new AssertionError("expected configuration problems, got " + l.devices());
        } catch (VnetConfigException e) {
            return e.problems();
        }
    }

    /** Enables pairs 0 and 1 and sends one frame out on each; returns {rx0, rx1} with their fds. */
    private record Pairs(DriverQueue[] rx, DriverQueue[] tx, int[][] rxFds, int[][] txFds) {
        static Pairs enable(FakeFrontEnd fe) {
            DriverQueue[] rx = {fe.queue(), fe.queue()};
            DriverQueue[] tx = {fe.queue(), fe.queue()};
            int[][] rxFds = new int[2][];
            int[][] txFds = new int[2][];
            for (int p = 0; p < 2; p++) {
                rxFds[p] = fe.ring(2 * p, rx[p], 0);
                txFds[p] = fe.ring(2 * p + 1, tx[p], 0);
            }
            return new Pairs(rx, tx, rxFds, txFds);
        }
    }

    @Test
    void aHoconFileWithTwoVhostUserDevicesIsServedAndTheirCableCarriesFrames() throws Exception {
        String cable = "launcher-" + IDS.incrementAndGet();
        Path a = dir.resolve("net0.sock");
        Path b = dir.resolve("net1.sock");
        Path file = conf("""
                vnet.devices = [
                  { id = lt-a%1$s, transport { type = vhost-user, socket = "%2$s", mode = server }, queue-pairs = 2,
                    backend { type = cable, name = %4$s } }
                  { id = lt-b%1$s, transport { type = vhost-user, socket = "%3$s" }, queue-pairs = 2,
                    mac = "52:54:00:00:00:42", backend { type = cable, name = %4$s } }
                ]""".formatted(IDS.incrementAndGet(), a, b, cable));
        try (Launcher launcher = launch("--config", file.toString());
             FakeFrontEnd left = new FakeFrontEnd().connect(a);
             FakeFrontEnd right = new FakeFrontEnd().connect(b)) {
            List<VnetDevice> devices = launcher.devices();
            assertThat(devices).hasSize(2);
            assertThat(printed.toString(StandardCharsets.UTF_8).lines().toList()).hasSize(2)
                    .allSatisfy(l -> assertThat(l).contains("(server, cable backend, 2 queue pair(s), features 0x"))
                    .anySatisfy(l -> assertThat(l).contains(" on " + a + " "))
                    .anySatisfy(l -> assertThat(l).contains(" on " + b + " "));
            assertThat(devices.get(1).instance(VirtioNetDevice.class).config().mac())
                    .isEqualTo(MacAddress.parse("52:54:00:00:00:42"));
            assertThat(Launcher.transport(devices.get(1)).mode()).isEqualTo(SocketMode.SERVER);

            left.negotiate(MQ_FEATURES, 2);
            right.negotiate(MQ_FEATURES, 2);
            Pairs l = Pairs.enable(left);
            Pairs r = Pairs.enable(right);
            assertThat(devices.get(0).instance(VirtioNetDevice.class).activeQueuePairs()).isEqualTo(2);
            for (int p = 0; p < 2; p++) {
                long buf = right.postRx(r.rx()[p], r.rxFds()[p], 10 + p);
                left.send(l.tx()[p], l.txFds()[p], 10 + p);
                right.expectReceived(r.rx()[p], r.rxFds()[p], buf, 10 + p);
                buf = left.postRx(l.rx()[p], l.rxFds()[p], 20 + p);
                right.send(r.tx()[p], r.txFds()[p], 20 + p);
                left.expectReceived(l.rx()[p], l.rxFds()[p], buf, 20 + p);
            }
        }
        assertThat(a).doesNotExist();
        assertThat(b).doesNotExist();
    }

    @Test
    void clientModeConnectsToAFrontEndListeningAtTheSocket() throws Exception {
        Path sock = dir.resolve("qemu.sock");
        int listening = FakeFrontEnd.listen(sock);
        Path file = conf("""
                vnet.devices = [ { id = lt-c%s, transport { type = vhost-user, socket = "%s", mode = client } } ]"""
                .formatted(IDS.incrementAndGet(), sock));
        try (Launcher launcher = launch("--config", file.toString(), "--stats", "1");
             FakeFrontEnd fe = new FakeFrontEnd().accept(listening)) {
            assertThat(printed.toString(StandardCharsets.UTF_8)).contains("(client, loopback backend, 1 queue pair(s)");
            fe.negotiate(VirtioFeatures.bit(VirtioFeatures.VIRTIO_F_VERSION_1) | (1L << VhostUser.F_PROTOCOL_FEATURES), 1);
            DriverQueue rx = fe.queue();
            DriverQueue tx = fe.queue();
            fe.roundTrip(rx, tx, fe.ring(0, rx, 0), fe.ring(1, tx, 0), 7);
            launcher.printStats(out, true);
            assertThat(printed.toString(StandardCharsets.UTF_8)).containsPattern("stats lt-c\\d+: q0\\(rx\\) packets=1 ")
                    .containsPattern("rings lt-c\\d+:");
        } finally {
            Native.close(listening);
        }
    }

    @Test
    void theSimpleCommandLineStillServesOneDevicePerSocket() throws Exception {
        Path sock = dir.resolve("cli.sock");
        try (Launcher launcher = launch("--socket", sock.toString(), "--queues", "2", "--mtu", "9000");
             FakeFrontEnd fe = new FakeFrontEnd().connect(sock)) {
            VnetDevice d = launcher.devices().getFirst();
            assertThat(d.id()).isEqualTo("vhost0");
            assertThat(d.spec().mac()).isEqualTo(MacAddress.parse("52:54:00:12:34:56"));
            assertThat(d.spec().mtu()).isEqualTo(9000);
            assertThat(d.spec().rxQueueSize()).isEqualTo(1024);
            assertThat(printed.toString(StandardCharsets.UTF_8)).isEqualTo(String.format(
                    "vnet-vhost-user: vhost0 on %s (server, loopback backend, 2 queue pair(s), features 0x%x)%n",
                    sock, Launcher.transport(d).backend().offeredFeatures()));
            fe.negotiate(MQ_FEATURES, 2);
            Pairs p = Pairs.enable(fe);
            fe.roundTrip(p.rx()[1], p.tx()[1], p.rxFds()[1], p.txFds()[1], 3);
        }
    }

    @Test
    void aRingLargerThanTheConfiguredQueueSizeEndsTheConnection() throws Exception {
        Path sock = dir.resolve("small.sock");
        try (Launcher launcher = launch("--socket", sock.toString(), "--queue-size", "32");
             FakeFrontEnd fe = new FakeFrontEnd().connect(sock)) {
            fe.negotiate(VirtioFeatures.bit(VirtioFeatures.VIRTIO_F_VERSION_1) | (1L << VhostUser.F_PROTOCOL_FEATURES), 1);
            fe.channel().send(VhostUser.SET_VRING_NUM, FakeFrontEnd.V | VhostUser.FLAG_NEED_REPLY,
                    Message.vringStatePayload(0, FakeFrontEnd.QSIZE), new int[0]);
            assertThat(fe.channel().readReply()).isNull();
            assertThat(Launcher.transport(launcher.devices().getFirst()).server().protocolErrors()).isEqualTo(1);
        }
    }

    @Test
    void twoSocketsWithMacIndexAndCableAsBefore() {
        Path a = dir.resolve("a.sock");
        Path b = dir.resolve("b.sock");
        try (Launcher launcher = launch("--socket", a.toString(), "--socket", b.toString(), "--backend", "cable",
                "--mac", "52:54:00:00:00:ff")) {
            assertThat(launcher.devices()).extracting(VnetDevice::id).containsExactly("vhost0", "vhost1");
            assertThat(launcher.devices()).extracting(d -> d.spec().mac().toString())
                    .containsExactly("52:54:00:00:00:ff", "52:54:00:00:00:00");
            assertThat(a).exists();
            assertThat(b).exists();
        }
        assertThatThrownBy(() -> launch("--socket", a.toString(), "--backend", "cable"))
                .isInstanceOf(LauncherOptions.UsageException.class).hasMessageContaining("exactly two sockets");
        assertThatThrownBy(() -> launch("--queues", "2")).isInstanceOf(LauncherOptions.UsageException.class)
                .hasMessageContaining("--socket (or --config) is required");
    }

    @Test
    void deviceOptionsBesideConfigAreRefusedNamingTheKeyToSetInstead() throws Exception {
        Path file = conf("vnet.devices = [ { id = x, transport { type = vhost-user, socket = \"/tmp/x\" } } ]");
        assertThatThrownBy(() -> launch("--config", file.toString(), "--queues", "2", "--client"))
                .isInstanceOf(LauncherOptions.UsageException.class)
                .hasMessageContaining("--client, --queues beside --config")
                .hasMessageContaining("transport.mode, queue-pairs");
        assertThatThrownBy(() -> LauncherOptions.parse("--sockets", "x")).hasMessageContaining("unknown option --sockets");
        assertThatThrownBy(() -> LauncherOptions.parse("--socket")).hasMessageContaining("--socket needs a value");
        assertThat(LauncherOptions.parse("-h").help()).isTrue();
        assertThat(LauncherOptions.parse("--socket", "x").help()).isFalse();
        assertThatThrownBy(() -> LauncherOptions.parse("--stats", "-1").statsSeconds()).hasMessageContaining("--stats -1");
    }

    @Test
    void commandLineProblemsNameTheOptionAndItsHoconPath() {
        assertThat(problems("--socket", dir.resolve("x.sock").toString(), "--queues", "0", "--mtu", "big",
                "--backend", "vde", "--queue-size", "100"))
                .extracting(ConfigProblem::path).containsExactlyInAnyOrder(
                        "--queues (vnet.devices[0].queue-pairs)", "--mtu (vnet.devices[0].mtu)",
                        "--backend (vnet.devices[0].backend.type)", "--queue-size (vnet.devices[0].rx-queue-size)",
                        "--queue-size (vnet.devices[0].tx-queue-size)");
        assertThat(problems("--socket", "x".repeat(108))).singleElement().satisfies(p -> {
            assertThat(p.path()).isEqualTo("--socket (vnet.devices[0].transport.socket)");
            assertThat(p.allowed()).contains("1..107 bytes");
        });
    }

    @Test
    void aPciDeviceIsRefusedWithEveryOtherProblemAndNoSocketIsOpened() throws Exception {
        Path a = dir.resolve("a.sock");
        Path file = conf("""
                vnet.devices = [
                  { id = ok, transport { type = vhost-user, socket = "%1$s" } }
                  { id = emulated }
                  { id = twin, transport { type = vhost-user, socket = "%2$s/./a.sock" } }
                  { id = listener, transport { type = vhost-user, socket = "%2$s/l.sock", mode = listen } }
                ]""".formatted(a, dir));
        List<ConfigProblem> p = problems("--config", file.toString());
        assertThat(p).extracting(ConfigProblem::path).containsExactlyInAnyOrder("vnet.devices[1].transport.type",
                "vnet.devices[2].transport.socket", "vnet.devices[3].transport.mode");
        assertThat(p.getFirst().value()).isEqualTo("\"pci\"");
        assertThat(p.getFirst().allowed()).contains("pci needs guest RAM and a PCI bus")
                .contains("usable here: vhost-user (");
        assertThat(a).doesNotExist();
        assertThat(problems("--config", conf("vnet.devices = []").toString())).singleElement()
                .extracting(ConfigProblem::path).isEqualTo("vnet.devices");
    }

    @Test
    void aSocketThatCannotBeBoundClosesTheDevicesAlreadyListening() throws Exception {
        Path a = dir.resolve("a.sock");
        Path file = conf("""
                vnet.devices = [
                  { id = lt-d%1$s, transport { type = vhost-user, socket = "%2$s" } }
                  { id = lt-e%1$s, transport { type = vhost-user, socket = "%3$s/missing/b.sock" } }
                ]""".formatted(IDS.incrementAndGet(), a, dir));
        assertThat(problems("--config", file.toString())).singleElement().satisfies(p -> {
            assertThat(p.path()).isEqualTo("vnet.devices[1].transport.socket");
            assertThat(p.allowed()).contains("No such file or directory");
        });
        assertThat(a).doesNotExist();
    }

    @Test
    void aFileThatIsNoSocketIsNeverReplaced() throws Exception {
        Path precious = dir.resolve("precious");
        Files.writeString(precious, "keep me");
        assertThat(problems("--socket", precious.toString())).singleElement()
                .satisfies(p -> assertThat(p.allowed()).contains("exists and is not a socket"));
        assertThat(precious).hasContent("keep me");
    }
}
