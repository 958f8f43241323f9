package dev.vnet.tap;

import dev.vnet.testkit.netns.NetNs;
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
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** EAGAIN and readiness, closing under a waiting poll thread, and fd accounting. */
@Timeout(60)
class TapLifecycleTest {

    @BeforeAll
    static void requireTap() {
        NetPrerequisites.assumeTapRootAndIp();
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

    /**
     * A write finds the socket buffer full: the TAP is a bridge port next to a veth whose tbf
     * qdisc holds flooded frames, which stay charged to the TAP's socket (sndbuf 4 KiB) until tbf lets
     * them go, and then the kernel reports POLLOUT.
     */
    @Test
    void eagainWriteWithASmallSndbufReturnsFalseAndWritableFires() throws Exception {
        try (NetNs ns = NetNs.create(); Wire wire = new Wire(1);
                TapBackend tap = TapBackend.open(Map.of("ifname", NetNs.randomIfname(), "sndbuf", 4096), 1)) {
            tap.setReadinessListener(wire);
            String name = tap.ifname();
            NetNs.run("ip", "link", "set", name, "netns", ns.name());
            ns.ip("link", "add", "br0", "type", "bridge");
            ns.ip("link", "add", "d0", "type", "veth", "peer", "name", "d1");
            ns.ip("link", "set", name, "master", "br0");
            ns.ip("link", "set", "d0", "master", "br0");
            for (String link : new String[] {"br0", "d0", "d1", name}) {
                ns.ip("link", "set", link, "up");
            }
            NetNs.run("tc", "-n", ns.name(), "qdisc", "add", "dev", "d0", "root", "tbf", "rate", "200kbit", "burst",
                    "1600", "latency", "5s");
            // To a MAC nobody has: the bridge floods it to d0.
            byte[] frame = concat(vnetHdr(0, 0, 0, 0, 0, 0),
                    Packets.eth(mac("02:00:00:00:09:09"), mac(GUEST_MAC), 0x88b5, Packets.payload(1000, 1)));
            BackendQueue q = tap.queue(0);
            int sent = 0;
            while (sent < 200 && wire.send(q, frame)) {
                sent++;
            }
            assertThat(sent).as("writes before EAGAIN").isLessThan(200);
            assertThat(wire.writable[0].tryAcquire(10, TimeUnit.SECONDS)).as("writable(0) after EAGAIN").isTrue();
            assertThat(wire.writableCalls.get()).isEqualTo(1);
            assertThat(wire.send(q, frame)).isTrue();
        }
    }

    @Test
    void readvAndWritevPathsAllocateNothingPerFrame() {
        var threads = (com.sun.management.ThreadMXBean) java.lang.management.ManagementFactory.getThreadMXBean();
        assumeTrue(threads.isThreadAllocatedMemorySupported(), "no per-thread allocation counter");
        try (NetNs ns = NetNs.create(); Wire wire = new Wire(1);
                TapBackend tap = TapBackend.open(Map.of("ifname", NetNs.randomIfname()), 1)) {
            tap.setReadinessListener(wire);
            NetNs.run("ip", "link", "set", tap.ifname(), "netns", ns.name());
            ns.ip("link", "set", tap.ifname(), "up");
            BackendQueue q = tap.queue(0);
            // To a MAC nobody has, with an unused ethertype: the kernel drops it, nothing comes back.
            byte[] frame = concat(vnetHdr(0, 0, 0, 0, 0, 0),
                    Packets.eth(mac("02:00:00:00:09:09"), mac(GUEST_MAC), 0x88b5, Packets.payload(200, 1)));
            dev.vnet.spi.SegmentList tx = wire.txFrame(frame, 64);
            dev.vnet.spi.SegmentList rx = wire.rxBuffers(2048);
            // The JDK's downcall stubs allocate until C2 compiles them (seconds on a busy machine), so run
            // rounds until one allocates (almost) nothing; our own per-frame code must never allocate.
            long tid = Thread.currentThread().threadId();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            long allocated;
            int rounds = 0;
            do {
                long before = threads.getThreadAllocatedBytes(tid);
                int written = pump(q, tx, rx, 1000);
                allocated = threads.getThreadAllocatedBytes(tid) - before;
                assertThat(written).isEqualTo(1000);
                rounds++;
            } while (allocated >= 1000 && System.nanoTime() < deadline);
            System.out.println("allocation-free after " + rounds + " rounds of 1,000 frames");
            assertThat(allocated).as("bytes allocated by 1,000 writev + 1,000 readv (round %d)", rounds)
                    .isLessThan(1000);
        }
    }

    /** Writes {@code tx} and reads into {@code rx} {@code n} times; returns how many writes went through. */
    private static int pump(BackendQueue q, dev.vnet.spi.SegmentList tx, dev.vnet.spi.SegmentList rx, int n) {
        int written = 0;
        for (int i = 0; i < n; i++) {
            written += q.write(tx) ? 1 : 0;
            q.read(rx);
        }
        return written;
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
