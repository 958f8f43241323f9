package dev.vnet.config;

import dev.vnet.spi.MacAddress;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class VnetConfigTest {

    private static List<ConfigProblem> problems(String hocon) {
        try {
            VnetConfig.parse(hocon);
        } catch (VnetConfigException e) {
            return e.problems();
        }
        throw new AssertionError("expected configuration problems");
    }

    @Test
    void defaultsGiveOneLoopbackDeviceWithEveryDocumentedDefault() {
        DeviceSpec d = VnetConfig.defaults().devices().getFirst();
        assertThat(d.id()).isEqualTo("net0");
        assertThat(d.path()).isEqualTo("vnet.devices[0]");
        assertThat(d.type()).isEqualTo("virtio-net");
        assertThat(d.transport()).isEqualTo(new TransportSpec("pci", TransportSpec.AUTO_SLOT, 0));
        assertThat(d.queuePairs()).isEqualTo(1);
        assertThat(d.rxQueueSize()).isEqualTo(256);
        assertThat(d.txQueueSize()).isEqualTo(256);
        assertThat(d.ctrlQueueSize()).isEqualTo(64);
        assertThat(d.mac()).isEqualTo(MacAddress.derive("net0"));
        assertThat(d.mtu()).isEqualTo(1500);
        assertThat(d.speed()).isEqualTo(10000);
        assertThat(d.duplex()).isEqualTo(Duplex.FULL);
        assertThat(d.busyPollMicros()).isZero();
        assertThat(d.features()).hasSize(FeatureSwitches.NAMES.size()).containsValue(true).doesNotContainValue(false);
        assertThat(d.backend()).isEqualTo(new BackendSpec("loopback", "vnet.devices[0].backend", java.util.Map.of()));
    }

    @Test
    void explicitValuesAndBackendOptionsAreKept() {
        VnetConfig c = VnetConfig.parse("""
                vnet.devices = [{
                  id = lan, queue-pairs = 4, rx-queue-size = 1024, mac = "52:54:00:aa:bb:cc", mtu = 9000,
                  speed = -1, duplex = half, busy-poll-micros = 50, transport { slot = 5, function = 1 },
                  features { mrg-rxbuf = false }
                  backend { type = tap, ifname = vnet7, fds = [3, 4] }
                }]""");
        DeviceSpec d = c.devices().getFirst();
        assertThat(d.queuePairs()).isEqualTo(4);
        assertThat(d.rxQueueSize()).isEqualTo(1024);
        assertThat(d.mac()).hasToString("52:54:00:aa:bb:cc");
        assertThat(d.mtu()).isEqualTo(9000);
        assertThat(d.speed()).isEqualTo(-1);
        assertThat(d.duplex()).isEqualTo(Duplex.HALF);
        assertThat(d.busyPollMicros()).isEqualTo(50);
        assertThat(d.transport()).isEqualTo(new TransportSpec("pci", 5, 1));
        assertThat(d.feature("mrg-rxbuf")).isFalse();
        assertThat(d.feature("csum")).isTrue();
        assertThat(d.backend().type()).isEqualTo("tap");
        assertThat(d.backend().options()).containsEntry("ifname", "vnet7").containsEntry("fds", List.of(3, 4));
    }

    @Test
    void derivedMacIsStableLocallyAdministeredUnicastAndDiffersById() {
        MacAddress a = MacAddress.derive("net0");
        assertThat(MacAddress.derive("net0")).isEqualTo(a);
        assertThat(a.isLocallyAdministered()).isTrue();
        assertThat(a.isMulticast()).isFalse();
        assertThat(MacAddress.derive("net1")).isNotEqualTo(a);
    }

    @Test
    void everyProblemInAFileIsReportedTogetherWithPathValueAndAllowed() {
        List<ConfigProblem> p = problems("""
                vnet.devices = [
                  { id = a, queue-pairs = 0, rx-queue-size = 100, tx-queue-size = 2048, ctrl-queue-size = 4,
                    mac = "01:00:5e:00:00:01", mtu = 20, speed = -2, duplex = sideways,
                    transport { slot = 40, function = 9 }, features { mrg-rxbf = true, csum = maybe } }
                  { id = b, backend { type = "" } }
                ]""");
        assertThat(p).extracting(ConfigProblem::path).containsExactlyInAnyOrder(
                "vnet.devices[0].queue-pairs",
                "vnet.devices[0].rx-queue-size",
                "vnet.devices[0].tx-queue-size",
                "vnet.devices[0].ctrl-queue-size",
                "vnet.devices[0].mac",
                "vnet.devices[0].mtu",
                "vnet.devices[0].speed",
                "vnet.devices[0].duplex",
                "vnet.devices[0].transport.slot",
                "vnet.devices[0].transport.function",
                "vnet.devices[0].features.mrg-rxbf",
                "vnet.devices[0].features.csum",
                "vnet.devices[1].backend.type");
        assertThat(p).filteredOn(x -> x.path().endsWith("rx-queue-size")).singleElement()
                .isEqualTo(new ConfigProblem("vnet.devices[0].rx-queue-size", "100", "a power of two 8..1024"));
        assertThat(p).filteredOn(x -> x.path().endsWith("mrg-rxbf")).singleElement().extracting(ConfigProblem::allowed)
                .asString().startsWith("one of ").contains("mrg-rxbuf");
        assertThat(p).filteredOn(x -> x.path().endsWith(".mac")).singleElement().extracting(ConfigProblem::value)
                .isEqualTo("\"01:00:5e:00:00:01\"");
    }

    @Test
    void duplicateIdsAndSlotsAreRefused() {
        List<ConfigProblem> p = problems("""
                vnet.devices = [ { id = a, transport.slot = 3 }, { id = a, transport.slot = 3 } ]""");
        assertThat(p).extracting(ConfigProblem::path)
                .containsExactlyInAnyOrder("vnet.devices[1].id", "vnet.devices[1].transport.slot");
    }

    @Test
    void missingOrMalformedIdIsRefused() {
        assertThat(problems("vnet.devices = [ { mtu = 1500 } ]")).singleElement()
                .isEqualTo(new ConfigProblem("vnet.devices[0].id", "(missing)", "a device id matching [a-zA-Z0-9_.-]{1,32}"));
        assertThat(problems("vnet.devices = [ { id = \"has space\" } ]")).singleElement()
                .extracting(ConfigProblem::path).isEqualTo("vnet.devices[0].id");
    }

    @Test
    void multiplePairsWithoutMqAndVersion1OffAreRefused() {
        assertThat(problems("vnet.devices = [ { id = a, queue-pairs = 2, features.mq = false } ]"))
                .extracting(ConfigProblem::path).containsExactly("vnet.devices[0].queue-pairs");
        assertThat(problems("vnet.devices = [ { id = a, features.version-1 = false } ]")).singleElement()
                .extracting(ConfigProblem::allowed).asString().contains("requires VIRTIO_F_VERSION_1");
    }

    @Test
    void unknownDeviceKeyAndNonListDevicesAreRefused() {
        assertThat(problems("vnet.devices = [ { id = a, queue-pair = 2 } ]")).singleElement()
                .extracting(ConfigProblem::path).isEqualTo("vnet.devices[0].queue-pair");
        assertThat(problems("vnet.devices = { id = a }")).singleElement()
                .extracting(ConfigProblem::allowed).isEqualTo("a list of device objects");
    }

    @Test
    void syntaxErrorsAndMissingFilesAreProblemsToo(@TempDir Path dir) throws Exception {
        assertThat(problems("vnet.devices = [ { id = a ")).singleElement()
                .extracting(ConfigProblem::allowed).isEqualTo("valid HOCON syntax");
        assertThatThrownBy(() -> VnetConfig.load(dir.resolve("nope.conf"))).isInstanceOf(VnetConfigException.class)
                .hasMessageContaining("a readable HOCON file");
        Path f = dir.resolve("ok.conf");
        Files.writeString(f, "vnet.devices = [ { id = x } ]");
        assertThat(VnetConfig.load(f).devices()).singleElement().extracting(DeviceSpec::id).isEqualTo("x");
    }

    @Test
    void exceptionMessageListsEveryProblem() {
        assertThatThrownBy(() -> VnetConfig.parse("vnet.devices = [ { id = a, mtu = 1, speed = x } ]"))
                .hasMessageStartingWith("2 configuration problems:")
                .hasMessageContaining("vnet.devices[0].mtu: 1 is not allowed; expected an integer 68..65535")
                .hasMessageContaining("vnet.devices[0].speed: \"x\" is not allowed");
    }

    @Test
    void vhostUserDevicesTakeASocketAModeAndRingsUpToTheSplitRingLimit() {
        VnetConfig c = VnetConfig.parse("""
                vnet.devices = [
                  { id = net0, transport { type = vhost-user, socket = "/run/vnet0.sock", mode = server },
                    queue-pairs = 2, rx-queue-size = 4096, tx-queue-size = 32768, backend { type = tap, ifname = vnet0 } }
                  { id = net1, transport { type = vhost-user, socket = "relative.sock", mode = client } }
                  { id = net2, transport.type = vhost-user, transport.socket = "/run/vnet2.sock" }
                ]""");
        assertThat(c.devices()).extracting(DeviceSpec::transport).containsExactly(
                TransportSpec.vhostUser("/run/vnet0.sock", TransportSpec.SocketMode.SERVER),
                TransportSpec.vhostUser("relative.sock", TransportSpec.SocketMode.CLIENT),
                TransportSpec.vhostUser("/run/vnet2.sock", TransportSpec.SocketMode.SERVER));
        DeviceSpec d = c.devices().getFirst();
        assertThat(d.queuePairs()).isEqualTo(2);
        assertThat(d.rxQueueSize()).isEqualTo(4096);
        assertThat(d.txQueueSize()).isEqualTo(32768);
        assertThat(d.backend().options()).containsEntry("ifname", "vnet0");
        assertThat(c.devices().get(1).rxQueueSize()).isEqualTo(256);
    }

    @Test
    void vhostUserSocketAndModeProblemsNameTheirPathAndWhatIsAllowed() {
        String longest = "/" + "s".repeat(TransportSpec.SUN_PATH_MAX - 1);
        assertThat(VnetConfig.parse("vnet.devices = [ { id = a, transport { type = vhost-user, socket = \"" + longest
                + "\" } } ]").devices().getFirst().transport().socket()).hasSize(107);
        List<ConfigProblem> p = problems("""
                vnet.devices = [
                  { id = a, transport { type = vhost-user } }
                  { id = b, transport { type = vhost-user, socket = "" } }
                  { id = c, transport { type = vhost-user, socket = "/%s" } }
                  { id = d, transport { type = vhost-user, socket = "/run/\\u0000x" } }
                  { id = e, transport { type = vhost-user, socket = 5, mode = listen } }
                  { id = f, transport { type = vhost-user, socket = "/run/\u00e9%s" } }
                ]""".formatted("s".repeat(107), "e".repeat(101)));
        assertThat(p).extracting(ConfigProblem::path).containsExactly(
                "vnet.devices[0].transport.socket", "vnet.devices[1].transport.socket",
                "vnet.devices[2].transport.socket", "vnet.devices[3].transport.socket",
                "vnet.devices[4].transport.socket", "vnet.devices[4].transport.mode",
                "vnet.devices[5].transport.socket");
        assertThat(p.getFirst()).isEqualTo(new ConfigProblem("vnet.devices[0].transport.socket", "(missing)",
                "a Unix socket path of 1..107 bytes (UTF-8, sun_path) without NUL, such as \"/run/vnet0.sock\""));
        assertThat(p.get(2).value()).endsWith("(108 bytes)");
        assertThat(p.get(5).allowed()).isEqualTo("server (listen at socket) or client (connect to a front-end listening there)");
        assertThat(p.get(6).value()).endsWith("(108 bytes)"); // 107 characters, but é is two bytes
    }

    @Test
    void eachTransportRefusesTheOthersKeysAndItsOwnQueueSizeLimits() {
        List<ConfigProblem> p = problems("""
                vnet.devices = [
                  { id = a, transport { type = vhost-user, socket = "/run/a.sock", slot = 3, function = 1 },
                    rx-queue-size = 65536 }
                  { id = b, transport { slot = 4, socket = "/run/b.sock", mode = client }, rx-queue-size = 2048 }
                ]""");
        assertThat(p).extracting(ConfigProblem::path, ConfigProblem::allowed).containsExactlyInAnyOrder(
                org.assertj.core.groups.Tuple.tuple("vnet.devices[0].transport.slot",
                        "no slot: it applies to transport type pci only"),
                org.assertj.core.groups.Tuple.tuple("vnet.devices[0].transport.function",
                        "no function: it applies to transport type pci only"),
                org.assertj.core.groups.Tuple.tuple("vnet.devices[0].rx-queue-size", "a power of two 8..32768"),
                org.assertj.core.groups.Tuple.tuple("vnet.devices[1].transport.socket",
                        "no socket: it applies to transport type vhost-user only"),
                org.assertj.core.groups.Tuple.tuple("vnet.devices[1].transport.mode",
                        "no mode: it applies to transport type vhost-user only"),
                org.assertj.core.groups.Tuple.tuple("vnet.devices[1].rx-queue-size", "a power of two 8..1024"));
    }

    @Test
    void devicesDefaultsMayMakeEveryDeviceVhostUser() {
        VnetConfig c = VnetConfig.parse("""
                vnet.device-defaults.transport { type = vhost-user, mode = client }
                vnet.devices = [ { id = a, transport.socket = "/run/a.sock" },
                                 { id = b, transport.socket = "/run/b.sock" } ]""");
        assertThat(c.devices()).extracting(d -> d.transport().mode()).containsOnly(TransportSpec.SocketMode.CLIENT);
    }

    @Test
    void twoDevicesOnOneSocketAreRefusedAfterNormalisingThePathBesideTheirOtherProblems() {
        List<ConfigProblem> p = problems("""
                vnet.devices = [
                  { id = a, transport { type = vhost-user, socket = "/run/vnet/a.sock" }, mtu = 1 }
                  { id = b, transport { type = vhost-user, socket = "/run/vnet/./a.sock", mode = client } }
                  { id = c, transport { type = vhost-user, socket = "/run/vnet/c.sock" } }
                  { id = d, transport.slot = 7, mtu = 2 }
                  { id = e, transport.slot = 7 }
                ]""");
        assertThat(p).containsExactly(
                new ConfigProblem("vnet.devices[0].mtu", "1", "an integer 68..65535"),
                new ConfigProblem("vnet.devices[1].transport.socket", "\"/run/vnet/./a.sock\"",
                        "a socket path not already used by vnet.devices[0]"),
                new ConfigProblem("vnet.devices[3].mtu", "2", "an integer 68..65535"),
                new ConfigProblem("vnet.devices[4].transport.slot", "7.0",
                        "a slot.function not already used by vnet.devices[3]"));
    }
}
