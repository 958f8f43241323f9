package dev.vnet.tap;

import dev.vnet.linux.Errno;
import dev.vnet.linux.Libc;
import dev.vnet.testkit.netns.NetNs;
import dev.vnet.spi.BackendException;
import dev.vnet.spi.BackendRequest;
import dev.vnet.spi.NetBackend;
import dev.vnet.spi.NetBackendProvider;
import dev.vnet.spi.Offloads;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.ServiceLoader;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Getting a device: create, attach, handed-in fds; what the kernel reports about it. */
@Timeout(30)
class TapSetupTest {

    @BeforeAll
    static void requireTap() {
        NetPrerequisites.assumeTapRootAndIp();
    }

    static TapBackend open(Map<String, Object> options, int queues) {
        return TapBackend.open(options, queues);
    }

    @Test
    void providerIsFoundByServiceLoaderAsTap() {
        List<NetBackendProvider> providers = ServiceLoader.load(NetBackendProvider.class).stream()
                .map(ServiceLoader.Provider::get).filter(p -> p.type().equals("tap")).toList();
        assertThat(providers).hasSize(1);
        String name = NetNs.randomIfname();
        try (NetBackend backend = providers.getFirst().open(new BackendRequest("nic0", 1, Map.of("ifname", name)))) {
            assertThat(backend).isInstanceOf(TapBackend.class);
            assertThat(Path.of("/sys/class/net", name)).exists();
        }
        assertThat(Path.of("/sys/class/net", name)).doesNotExist();
    }

    @Test
    void tunGetFeaturesProbeReportsTapVnetHdrAndMultiQueue() {
        assertThat(Tap.isAvailable()).isTrue();
        assertThat(Tap.unavailabilityCause()).isNull();
        int needed = Tun.IFF_TAP | Tun.IFF_NO_PI | Tun.IFF_VNET_HDR | Tun.IFF_MULTI_QUEUE;
        assertThat(Tap.features() & needed).as(Tun.flagsToString(Tap.features())).isEqualTo(needed);
        System.out.println("TUNGETFEATURES: " + Tun.flagsToString(Tap.features()));
    }

    @Test
    void createNamedInterfaceSetsTapFlagsAndVnetHeaderSize12() {
        String name = NetNs.randomIfname();
        try (TapBackend tap = open(Map.of("ifname", name, "mode", "create"), 1);
                Arena arena = Arena.ofConfined()) {
            assertThat(tap.ifname()).isEqualTo(name);
            assertThat(tap.vnetHeader()).isTrue();
            assertThat(tap.maxQueuePairs()).isEqualTo(1);
            assertThat(tap.queue(0).peekLength()).isEqualTo(-1);
            MemorySegment state = Libc.newCallState(arena);
            int fd = tap.tapQueue(0).fd();
            Tun.IfReq ifr = Tun.getIff(state, fd);
            assertThat(ifr.name()).isEqualTo(name);
            assertThat(ifr.flags() & (Tun.IFF_TAP | Tun.IFF_NO_PI | Tun.IFF_VNET_HDR | Tun.IFF_MULTI_QUEUE))
                    .as(Tun.flagsToString(ifr.flags())).isEqualTo(Tun.IFF_TAP | Tun.IFF_NO_PI | Tun.IFF_VNET_HDR);
            assertThat(Tun.vnetHdrSize(state, fd)).isEqualTo(12);
            assertThat(Libc.fcntl(state, fd, Libc.F_GETFL, 0) & Libc.O_NONBLOCK).isNotZero();
            assertThat(Libc.fcntl(state, fd, Libc.F_GETFD, 0) & 1).as("FD_CLOEXEC").isEqualTo(1);
        }
    }

    @Test
    void createWithTemplateNameLetsTheKernelNumberIt() {
        try (TapBackend tap = open(Map.of("ifname", "vtt%d", "queues", 2), 2)) {
            assertThat(tap.ifname()).matches("vtt\\d+");
            assertThat(tap.maxQueuePairs()).isEqualTo(2);
        }
        try (TapBackend tap = open(Map.of(), 1)) {
            assertThat(tap.ifname()).matches("tap\\d+");
        }
    }

    @Test
    void createModeRefusesAnExistingInterface() {
        String name = NetNs.randomIfname();
        try (TapBackend first = open(Map.of("ifname", name), 1)) {
            assertThat(first.ifname()).isEqualTo(name);
            assertThatThrownBy(() -> open(Map.of("ifname", name, "mode", "create"), 1))
                    .isInstanceOf(BackendException.class).hasMessageContaining(name + " already exists")
                    .extracting(e -> ((BackendException) e).errno()).isEqualTo(Errno.EEXIST);
        }
    }

    @Test
    void attachModeUsesAnExistingPersistentTap() {
        String name = NetNs.randomIfname();
        NetNs.run("ip", "tuntap", "add", "dev", name, "mode", "tap", "vnet_hdr", "multi_queue");
        try {
            try (TapBackend tap = open(Map.of("ifname", name, "mode", "attach", "queues", 2), 2)) {
                assertThat(tap.ifname()).isEqualTo(name);
                assertThat(tap.maxQueuePairs()).isEqualTo(2);
            }
            assertThat(Path.of("/sys/class/net", name)).as("persistent interface outlives the backend").exists();
            // A single-queue open of a multiqueue device is refused with a clear reason.
            assertThatThrownBy(() -> open(Map.of("ifname", name, "mode", "attach", "queues", 1), 1))
                    .isInstanceOf(BackendException.class).hasMessageContaining("exists but is not a TAP device with no"
                            + " IFF_MULTI_QUEUE").hasMessageContaining("EINVAL");
        } finally {
            NetNs.run("ip", "link", "del", name);
        }
    }

    @Test
    void attachModeRefusesAMissingInterfaceAndNonTapLinks() {
        assertThatThrownBy(() -> open(Map.of("ifname", "vtmissing0", "mode", "attach"), 1))
                .isInstanceOf(BackendException.class).hasMessageContaining("no interface vtmissing0")
                .hasMessageContaining("ip tuntap add");
        assertThatThrownBy(() -> open(Map.of("ifname", "lo", "mode", "attach"), 1))
                .isInstanceOf(BackendException.class).hasMessageContaining("lo exists but is not a TAP");
    }

    @Test
    void fdsModeAdoptsHandedInMultiQueueFds() throws Exception {
        String name = NetNs.randomIfname();
        int[] fds = new int[3];
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = Libc.newCallState(arena);
            for (int i = 0; i < fds.length; i++) {
                // As a host would hand them in: blocking, multiqueue, with a vnet header.
                try (Arena a = Arena.ofConfined()) {
                    fds[i] = Libc.open(state, a.allocateFrom(Tun.DEVICE), Libc.O_RDWR | Libc.O_CLOEXEC);
                }
                assertThat(fds[i]).isNotNegative();
                Tun.setIff(state, fds[i], name, Tun.IFF_TAP | Tun.IFF_NO_PI | Tun.IFF_VNET_HDR | Tun.IFF_MULTI_QUEUE);
            }
            try (TapBackend tap = open(Map.of("fds", List.of(fds[0], fds[1], fds[2])), 4)) {
                assertThat(tap.ifname()).isEqualTo(name);
                assertThat(tap.maxQueuePairs()).isEqualTo(3);
                assertThat(Libc.fcntl(state, fds[1], Libc.F_GETFL, 0) & Libc.O_NONBLOCK).isNotZero();
                assertThat(Tun.vnetHdrSize(state, fds[2])).isEqualTo(12);
            }
            for (int fd : fds) {
                assertThat(Files.exists(Path.of("/proc/self/fd/" + fd))).as("fd %d closed by the backend", fd).isFalse();
            }
        }
    }

    @Test
    void fdModeRefusesFdsWithoutVnetHeaderOrNotTun() {
        String name = NetNs.randomIfname();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = Libc.newCallState(arena);
            int fd = Tun.openDevice(state, Tun.DEVICE);
            try {
                Tun.setIff(state, fd, name, Tun.IFF_TAP | Tun.IFF_NO_PI);
                assertThatThrownBy(() -> open(Map.of("fd", fd), 1)).isInstanceOf(BackendException.class)
                        .hasMessageContaining("lacks IFF_VNET_HDR");
                assertThat(Files.exists(Path.of("/proc/self/fd/" + fd))).as("refused fd stays open").isTrue();
            } finally {
                Libc.close(state, fd);
            }
            int eventFd = Libc.eventfd(state, 0, Libc.EFD_CLOEXEC);
            try {
                assertThatThrownBy(() -> open(Map.of("fd", eventFd), 1)).isInstanceOf(BackendException.class)
                        .hasMessageContaining("is not a /dev/net/tun fd");
            } finally {
                Libc.close(state, eventFd);
            }
            assertThatThrownBy(() -> open(Map.of("fd", 100_000), 1)).isInstanceOf(BackendException.class)
                    .hasMessageContaining("fd 100000 is not open").hasMessageContaining("EBADF");
        }
    }

    @Test
    void offloadProbeReportsWhatTunSetOffloadAccepts() {
        try (TapBackend tap = open(Map.of("ifname", NetNs.randomIfname()), 1)) {
            int supported = tap.supportedOffloads();
            System.out.println("TUNSETOFFLOAD accepts: " + Offloads.toString(supported));
            assertThat(supported & (Offloads.CSUM | Offloads.TSO4 | Offloads.TSO6 | Offloads.TSO_ECN))
                    .isEqualTo(Offloads.CSUM | Offloads.TSO4 | Offloads.TSO6 | Offloads.TSO_ECN);
            assertThat(tap.offloads()).as("nothing enabled until the guest says").isZero();

            tap.setOffloads(supported);
            assertThat(tap.offloads()).isEqualTo(supported);
            tap.setOffloads(Offloads.TSO4); // without CSUM nothing else applies
            assertThat(tap.offloads()).isZero();
            if ((supported & Offloads.USO4) != 0) {
                tap.setOffloads(Offloads.CSUM | Offloads.USO4); // the kernel takes USO only as a pair
                assertThat(tap.offloads()).isEqualTo(Offloads.CSUM);
            }
            tap.setOffloads(0);
            assertThat(tap.offloads()).isZero();
        }
    }

    @Test
    void setOffloadsRefusesUnsupportedBits() {
        try (TapBackend tap = open(Map.of("ifname", NetNs.randomIfname()), 1)) {
            assertThatThrownBy(() -> tap.setOffloads(0x80)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("supported");
        }
    }

    @Test
    void providerRejectsUnknownOptionNamingIt() {
        assertThatThrownBy(() -> new TapBackendProvider().open(new BackendRequest("nic0", 1, Map.of("bogus", 1))))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("bogus");
    }

    @Test
    void missingTunDeviceGivesAClearError() {
        assertThatThrownBy(() -> TapBackend.open(TapOptions.parse(Map.of("ifname", NetNs.randomIfname()), 1),
                "/nonexistent/net/tun"))
                .isInstanceOf(BackendException.class)
                .hasMessageContaining("/nonexistent/net/tun is missing: load the tun module")
                .hasMessageContaining("ENOENT (No such file or directory)")
                .extracting(e -> ((BackendException) e).errno()).isEqualTo(Errno.ENOENT);
    }
}
