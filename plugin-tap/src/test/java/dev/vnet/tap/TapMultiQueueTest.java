package dev.vnet.tap;

import dev.vnet.linux.Libc;
import dev.vnet.testkit.netns.NetNs;
import dev.vnet.spi.BackendQueue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import static dev.vnet.tap.Packets.ETH;
import static dev.vnet.tap.Packets.concat;
import static dev.vnet.tap.Packets.eth;
import static dev.vnet.tap.Packets.ip;
import static dev.vnet.tap.Packets.ipv4;
import static dev.vnet.tap.Packets.mac;
import static dev.vnet.tap.Packets.udp;
import static dev.vnet.tap.Packets.vnetHdr;
import static dev.vnet.tap.TapTrafficTest.GUEST_IP;
import static dev.vnet.tap.TapTrafficTest.GUEST_MAC;
import static dev.vnet.tap.TapTrafficTest.NS_IP;
import static dev.vnet.tap.TapTrafficTest.NS_MAC;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

/** A four-queue TAP: traffic on every queue fd, then on two after {@code setActiveQueues(2)}. */
@Timeout(90)
class TapMultiQueueTest {

    static final int FLOWS = 64;
    static final String FLOW_SENDER = """
            import socket, sys
            for i in range(int(sys.argv[2])):
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                s.sendto(b'flow%d' % i, (sys.argv[1], 7000))
                s.close()
            print('SENT')
            """;

    @BeforeAll
    static void requireTap() {
        NetPrerequisites.assumeTapRootAndIp();
    }

    @Test
    void fourQueuesCarryTrafficOnEveryFdAndSetActiveQueues2DetachesTwoWhileTrafficContinues() {
        try (NetNs ns = NetNs.create(); Wire wire = new Wire(4);
                TapBackend tap = TapBackend.open(Map.of("ifname", NetNs.randomIfname(), "queues", 4), 4)) {
            tap.setReadinessListener(wire);
            assertThat(tap.maxQueuePairs()).isEqualTo(4);
            try (Arena arena = Arena.ofConfined()) {
                Tun.IfReq ifr = Tun.getIff(Libc.newCallState(arena), tap.tapQueue(3).fd());
                assertThat(ifr.flags() & Tun.IFF_MULTI_QUEUE).isNotZero();
            }
            ns.adopt(tap.ifname(), NS_MAC, NS_IP + "/24");
            ns.neigh(tap.ifname(), GUEST_IP, GUEST_MAC);

            // TX: one datagram from each queue fd reaches a kernel socket.
            assertThat(sendFromQueues(ns, wire, tap, 4)).containsExactlyInAnyOrder("q0", "q1", "q2", "q3");
            // RX: many flows from the kernel spread over all four queues.
            int[] perQueue = receiveFlows(ns, wire, tap, 4);
            assertThat(perQueue).as("frames per queue").doesNotContain(0);
            assertThat(java.util.Arrays.stream(perQueue).sum()).isEqualTo(FLOWS);

            tap.setActiveQueues(2);
            assertThat(tap.activeQueues()).isEqualTo(2);
            assertThat(sendFromQueues(ns, wire, tap, 2)).containsExactlyInAnyOrder("q0", "q1");
            perQueue = receiveFlows(ns, wire, tap, 2);
            assertThat(perQueue[0] + perQueue[1]).isEqualTo(FLOWS);
            for (int q = 2; q < 4; q++) {
                assertThat(tap.queue(q).read(wire.rxBuffers(2048))).as("detached queue %d receives nothing", q)
                        .isZero();
            }

            tap.setActiveQueues(4); // attach again
            assertThat(sendFromQueues(ns, wire, tap, 4)).containsExactlyInAnyOrder("q0", "q1", "q2", "q3");
        }
    }

    /** Sends "q<i>" from each of the first {@code queues} queues; returns what a socket in {@code ns} got. */
    private static Set<String> sendFromQueues(NetNs ns, Wire wire, TapBackend tap, int queues) {
        Set<String> got = new HashSet<>();
        try (NetNs.Python receiver = ns.python(TapTrafficTest.UDP_RECEIVER, NS_IP, "9000", String.valueOf(queues))) {
            receiver.awaitReady();
            for (int i = 0; i < queues; i++) {
                byte[] payload = ("q" + i).getBytes(StandardCharsets.US_ASCII);
                byte[] frame = concat(vnetHdr(0, 0, 0, 0, 0, 0), eth(mac(NS_MAC), mac(GUEST_MAC), 0x0800,
                        ipv4(17, ip(GUEST_IP), ip(NS_IP), udp(ip(GUEST_IP), ip(NS_IP), 5000 + i, 9000, payload,
                                false), 100 + i)));
                assertThat(wire.send(tap.queue(i), frame)).isTrue();
            }
            for (int i = 0; i < queues; i++) {
                String[] line = receiver.line(15).split(" ");
                got.add(new String(java.util.HexFormat.of().parseHex(line[3]), StandardCharsets.US_ASCII));
            }
        }
        return got;
    }

    /** Has the namespace send {@link #FLOWS} one-datagram flows to the guest; counts them per queue. */
    private static int[] receiveFlows(NetNs ns, Wire wire, TapBackend tap, int queues) {
        try (NetNs.Python sender = ns.python(FLOW_SENDER, GUEST_IP, String.valueOf(FLOWS))) {
            assertThat(sender.line(15)).isEqualTo("SENT");
        }
        int[] perQueue = new int[queues];
        int total = 0;
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (total < FLOWS) {
            boolean any = false;
            for (int q = 0; q < queues; q++) {
                BackendQueue queue = tap.queue(q);
                for (int n; (n = queue.read(wire.rxBuffers(2048))) > 0; ) {
                    any = true;
                    byte[] frame = new byte[n];
                    wire.rx.copyTo(0, MemorySegment.ofArray(frame), 0, n);
                    if (Wire.ipv4(17, 7000).test(frame)) {
                        perQueue[q]++;
                        total++;
                    }
                }
            }
            if (!any) {
                try {
                    long left = deadline - System.nanoTime();
                    if (left <= 0 || !wire.anyReadable.tryAcquire(left, TimeUnit.NANOSECONDS)) {
                        fail("received " + total + " of " + FLOWS + " flows: " + java.util.Arrays.toString(perQueue));
                    }
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new IllegalStateException(e);
                }
            }
        }
        return perQueue;
    }
}
