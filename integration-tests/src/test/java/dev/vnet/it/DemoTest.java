package dev.vnet.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.vnet.testkit.netns.NetNs;
import dev.vnet.host.VnetHostMain;
import dev.vnet.tap.NetPrerequisites;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** The README's main job, {@code bin/vnet-host}, run in-process. */
class DemoTest {

    private final ByteArrayOutputStream transcript = new ByteArrayOutputStream();
    private final VnetHostMain demo = new VnetHostMain(new PrintStream(transcript, true, StandardCharsets.UTF_8));

    private String transcript() {
        return transcript.toString(StandardCharsets.UTF_8);
    }

    @Test
    @Timeout(60)
    void defaultRunProbesNegotiatesExchangesTrafficAndExitsZero() {
        assertThat(demo.execute()).isZero();
        assertThat(transcript())
                .contains("built-in default configuration")
                .containsPattern("net0: virtio-net at PCI 00:01\\.0, backend loopback, MAC 52(:[0-9a-f]{2}){5}, link up")
                .containsPattern("negotiated features \\(\\d+ of \\d+ offered\\): .*mrg-rxbuf.*event-idx.*version-1")
                .contains("queue pairs: 1 in use of 1; interrupts: MSI-X, one vector per queue")
                .contains("exchange net0 -> net0: 64 of 64 frames arrived intact")
                .containsPattern("device: TX 64 packets \\((\\d+) bytes\\), RX 64 packets \\(\\1 bytes\\), 0 dropped")
                .contains("devices reset, backends closed");
    }

    @Test
    @Timeout(60)
    void cablePairWithFourQueuePairsExchangesBothWays(@TempDir Path dir) throws Exception {
        Path conf = dir.resolve("cable.conf");
        Files.writeString(conf, """
                vnet.devices = [
                  { id = left,  queue-pairs = 4, backend { type = cable, name = w } }
                  { id = right, queue-pairs = 4, backend { type = cable, name = w } }
                ]""");
        assertThat(demo.execute("--config", conf.toString(), "--frames", "8")).isZero();
        assertThat(transcript())
                .contains("queue pairs: 4 in use of 4")
                .contains("exchange left -> right: 32 of 32 frames arrived intact over 4 queue pairs")
                .contains("exchange right -> left: 32 of 32 frames arrived intact over 4 queue pairs");
    }

    @Test
    @Timeout(60)
    void badConfigurationExitsTwoBeforeAnyDeviceStarts(@TempDir Path dir) throws Exception {
        Path conf = dir.resolve("bad.conf");
        Files.writeString(conf, "vnet.devices = [ { id = a, mtu = 10, backend.type = nope } ]");
        PrintStream err = System.err;
        ByteArrayOutputStream errors = new ByteArrayOutputStream();
        System.setErr(new PrintStream(errors, true, StandardCharsets.UTF_8));
        try {
            assertThat(demo.execute("--config", conf.toString())).isEqualTo(2);
        } finally {
            System.setErr(err);
        }
        assertThat(errors.toString(StandardCharsets.UTF_8))
                .contains("2 configuration problems")
                .contains("vnet.devices[0].mtu: 10 is not allowed")
                .contains("vnet.devices[0].backend.type: \"nope\" is not allowed");
        assertThat(transcript()).doesNotContain("virtio-net at PCI");
    }

    @Test
    @Timeout(90)
    void tapDemoAnswersPingFromTheHostKernelAndStopsCleanly(@TempDir Path dir) throws Exception {
        NetPrerequisites.assumeTapRootAndIp();
        assumeTrue(Files.isExecutable(Path.of("/usr/bin/ping")) || Files.isExecutable(Path.of("/bin/ping")),
                () -> "SKIPPED: ping (iputils-ping) is not installed; bin/setup-test-host installs it");
        String ifname = NetNs.randomIfname();
        Path conf = dir.resolve("tap.conf");
        Files.writeString(conf, """
                vnet.devices = [ { id = net0, backend { type = tap, ifname = %s } } ]
                vnet-host.guest-ip = "10.77.0.2"
                """.formatted(ifname));
        long tunFdsBefore = tunFds();
        try (NetNs ns = NetNs.create()) {
            CompletableFuture<Integer> run = CompletableFuture.supplyAsync(() -> demo.execute("--config", conf.toString()));
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (!transcript().contains("running until SIGINT/SIGTERM")) {
                assertThat(run).as("demo exited early:%n%s", transcript()).isNotDone();
                assertThat(System.nanoTime()).as("demo did not start").isLessThan(deadline);
                Thread.sleep(50);
            }
            ns.adopt(ifname, "02:00:00:77:00:01", "10.77.0.1/24");
            String ping = ns.exec("ping", "-c", "3", "-i", "0.2", "-W", "2", "10.77.0.2");
            assertThat(ping).contains("3 packets transmitted, 3 received");
            demo.stop();
            assertThat(run.get(20, TimeUnit.SECONDS)).isZero();
        }
        assertThat(transcript())
                .contains("net0: guest answers ARP and ICMP echo at 10.77.0.2")
                .containsPattern("answered [1-9]\\d* ARP requests, 3 ICMP echo requests")
                .contains("devices reset, backends closed");
        assertThat(tunFds()).as("the TAP fds are closed").isEqualTo(tunFdsBefore);
    }

    /** Descriptors of this process open on /dev/net/tun. */
    private static long tunFds() throws Exception {
        try (var s = Files.list(Path.of("/proc/self/fd"))) {
            return s.filter(fd -> {
                try {
                    return Files.readSymbolicLink(fd).toString().equals("/dev/net/tun");
                } catch (Exception e) {
                    return false; // closed meanwhile
                }
            }).count();
        }
    }
}
