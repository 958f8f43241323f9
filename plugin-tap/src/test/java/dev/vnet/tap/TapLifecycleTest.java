package dev.vnet.tap;

import dev.vnet.spi.BackendException;
import dev.vnet.spi.BackendQueue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import static dev.vnet.tap.Packets.concat;
import static dev.vnet.tap.Packets.ip;
import static dev.vnet.tap.Packets.mac;
import static dev.vnet.tap.Packets.vnetHdr;
import static dev.vnet.tap.TapTrafficTest.GUEST_IP;
import static dev.vnet.tap.TapTrafficTest.GUEST_MAC;
import static dev.vnet.tap.TapTrafficTest.NS_IP;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** EAGAIN and readiness, closing under a waiting poll thread, and fd accounting. */
@Timeout(60)
class TapLifecycleTest {

    @BeforeAll
    static void requireTap() {
        NetNs.assumeTapAndRoot();
    }

    @Test
    void eagainReadReturnsZeroAndReadableFiresOncePerArming() throws Exception {
        try (NetNs ns = NetNs.create(); Wire wire = new Wire(1); TapBackend tap = TapTrafficTest.tapIn(ns, wire)) {
            BackendQueue q = tap.queue(0);
            assertThat(q.read(wire.rxBuffers(2048))).isZero();
            assertThat(q.read(wire.rxBuffers(2048))).as("arming twice wakes once").isZero();
            byte[] arp = concat(vnetHdr(0, 0, 0, 0, 0, 0), Packets.arpRequest(mac(GUEST_MAC), ip(GUEST_IP), ip(NS_IP)));
            assertThat(wire.send(q, arp)).isTrue();
            assertThat(wire.readable[0].tryAcquire(5, TimeUnit.SECONDS)).isTrue();
            // A second frame without a new EAGAIN arms nothing: no second call.
            assertThat(wire.send(q, arp)).isTrue();
            Thread.sleep(200);
            assertThat(wire.readableCalls.get()).isEqualTo(1);
            assertThat(q.read(wire.rxBuffers(2048))).isPositive();
            assertThat(q.read(wire.rxBuffers(2048))).isPositive();
            assertThat(q.read(wire.rxBuffers(2048))).isZero();
            assertThat(wire.readableCalls.get()).isEqualTo(1);
        }
    }

    @Test
    void closeWhileThePollThreadWaitsStopsItPromptlyAndLaterCallsFail() {
        Wire wire = new Wire(2);
        TapBackend tap = TapBackend.open(Map.of("ifname", NetNs.randomIfname(), "queues", 2), 2);
        try (wire) {
            tap.setReadinessListener(wire);
            assertThat(tap.queue(0).read(wire.rxBuffers(2048))).isZero(); // queue 0 armed, queue 1 idle
            Thread poll0 = tap.tapQueue(0).pollThread();
            Thread poll1 = tap.tapQueue(1).pollThread();
            assertThat(poll0.isAlive()).isTrue();
            long start = System.nanoTime();
            tap.close();
            long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
            assertThat(millis).as("close took %d ms", millis).isLessThan(2000);
            assertThat(poll0.isAlive()).isFalse();
            assertThat(poll1.isAlive()).isFalse();
            assertThat(wire.readableCalls.get()).isZero();
            assertThatThrownBy(() -> tap.queue(0).read(wire.rxBuffers(2048))).isInstanceOf(BackendException.class)
                    .hasMessageContaining("closed");
            assertThatThrownBy(() -> tap.queue(1).write(wire.txFrame(new byte[60], 60)))
                    .isInstanceOf(BackendException.class);
            tap.close(); // idempotent
        } finally {
            tap.close();
        }
    }

    @Test
    void openCloseCyclesIncludingMultiQueueLeakNoFdsOrThreads() throws Exception {
        cycle(); // warm-up: class loading and the JDK's own lazily opened files
        long before = openFds();
        for (int i = 0; i < 5; i++) {
            cycle();
        }
        assertThat(openFds()).as("entries in /proc/self/fd").isEqualTo(before);
        assertThat(Thread.getAllStackTraces().keySet()).noneMatch(t -> t.getName().startsWith("vnet-tap-"));
    }

    private static void cycle() {
        try (Wire wire = new Wire(4)) {
            try (TapBackend single = TapBackend.open(Map.of("ifname", NetNs.randomIfname()), 1)) {
                single.setReadinessListener(wire);
                single.queue(0).read(wire.rxBuffers(2048));
            }
            try (TapBackend multi = TapBackend.open(Map.of("ifname", NetNs.randomIfname(), "queues", 4), 4)) {
                multi.setReadinessListener(wire);
                for (int q = 0; q < 4; q++) {
                    multi.queue(q).read(wire.rxBuffers(2048));
                }
                multi.setActiveQueues(2);
            }
            // A failed open closes what it opened.
            assertThatThrownBy(() -> TapBackend.open(Map.of("ifname", "lo", "queues", 2), 2))
                    .isInstanceOf(BackendException.class);
        }
    }

    private static long openFds() throws IOException {
        try (Stream<Path> fds = Files.list(Path.of("/proc/self/fd"))) {
            return fds.count();
        }
    }
}
