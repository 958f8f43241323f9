package dev.vnet.it;

import static dev.vnet.it.TapGuest.GUEST_IP;
import static dev.vnet.it.TapGuest.GUEST_IP_BYTES;
import static dev.vnet.it.TapGuest.GUEST_MAC;
import static dev.vnet.it.TapGuest.GUEST_MAC_BYTES;
import static dev.vnet.it.TapGuest.NS_IP;
import static dev.vnet.it.TapGuest.NS_IP_BYTES;
import static dev.vnet.it.TapGuest.NS_MAC_BYTES;
import static dev.vnet.testkit.net.VirtioNetConstants.*;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.vnet.tap.NetPrerequisites;
import dev.vnet.testkit.netns.NetNs;
import dev.vnet.tap.Tap;
import dev.vnet.testkit.net.Frames;
import dev.vnet.testkit.net.InetChecksum;
import dev.vnet.testkit.net.VirtioNetDriver;
import dev.vnet.testkit.net.VirtioNetDriver.Received;
import java.io.ByteArrayOutputStream;
import java.time.Duration;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * End to end: the Linux {@code virtio_net} model drives {@code VirtioPciFunction} + {@code VirtioNetDevice} +
 * {@code TapBackend} against the real kernel, each test in a network namespace of its own (created and
 * deleted by the test). Needs root, {@code /dev/net/tun}, iproute2 and python3; skipped with the cause
 * elsewhere.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class TapGuestTest {

    static final Duration WAIT = Duration.ofSeconds(10);

    static final String UDP_RECEIVER = """
            import socket, sys
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
            s.bind((sys.argv[1], int(sys.argv[2])))
            s.settimeout(20)
            print('READY')
            for i in range(int(sys.argv[3])):
                data, addr = s.recvfrom(65535)
                print(addr[0], addr[1], len(data), data.hex())
            """;

    static final String UDP_SENDER = """
            import socket, sys
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind(('0.0.0.0', int(sys.argv[3])))
            s.sendto(bytes.fromhex(sys.argv[4]), (sys.argv[1], int(sys.argv[2])))
            print('SENT')
            """;

    static final String UDP_ECHO = """
            import socket, sys
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind((sys.argv[1], int(sys.argv[2])))
            print('READY')
            while True:
                data, addr = s.recvfrom(65535)
                s.sendto(data, addr)
            """;

    @BeforeAll
    static void requirements() {
        NetPrerequisites.assumeTapRootAndIp();
    }

    static byte[] payload(int n, long seed) {
        byte[] b = new byte[n];
        new Random(seed).nextBytes(b);
        return b;
    }

    static boolean isArpReply(byte[] f) {
        return Frames.ethertype(f) == Frames.ETHERTYPE_ARP && f.length >= 42 && Frames.u16(f, 20) == 2;
    }

    static boolean isEchoReply(byte[] f, int ident, int seq) {
        return Frames.ethertype(f) == Frames.ETHERTYPE_IPV4 && f.length >= 42 && f[23] == Frames.IPPROTO_ICMP
                && f[34] == 0 && Frames.u16(f, 38) == ident && Frames.u16(f, 40) == seq;
    }

    static boolean isUdpTo(byte[] f, int port) {
        return Frames.ethertype(f) == Frames.ETHERTYPE_IPV4 && f.length >= 42 && f[23] == Frames.IPPROTO_UDP
                && Frames.u16(f, 36) == port;
    }

    @Test
    void theGuestPingsTheNamespaceAndTheKernelAnswersArpAndEcho() {
        try (NetNs ns = NetNs.create(); TapGuest g = TapGuest.start(ns, 1, d -> d)) {
            g.driver.send(0, Frames.arpRequest(GUEST_MAC_BYTES, GUEST_IP_BYTES, NS_IP_BYTES));
            Received arp = g.receive(r -> isArpReply(r.frame()), WAIT);
            assertThat(arp).as("the kernel's ARP reply").isNotNull();
            byte[] a = arp.frame();
            assertThat(Frames.destination(a)).isEqualTo(GUEST_MAC_BYTES);
            assertThat(Frames.source(a)).isEqualTo(NS_MAC_BYTES);
            assertThat(Arrays.copyOfRange(a, 22, 28)).as("sender MAC").isEqualTo(NS_MAC_BYTES);
            assertThat(Arrays.copyOfRange(a, 28, 32)).as("sender IP").isEqualTo(NS_IP_BYTES);
            assertThat(Arrays.copyOfRange(a, 38, 42)).as("target IP").isEqualTo(GUEST_IP_BYTES);

            byte[] data = payload(56, 1);
            byte[] nsMac = Arrays.copyOfRange(a, 22, 28);
            g.driver.send(0, Frames.icmpEcho(nsMac, GUEST_MAC_BYTES, GUEST_IP_BYTES, NS_IP_BYTES, 0x4242, 1, data));
            Received pong = g.receive(r -> isEchoReply(r.frame(), 0x4242, 1), WAIT);
            assertThat(pong).as("the kernel's ICMP echo reply").isNotNull();
            byte[] f = pong.frame();
            int total = Frames.u16(f, 16);
            assertThat(Arrays.copyOfRange(f, 26, 30)).as("from").isEqualTo(NS_IP_BYTES);
            assertThat(Arrays.copyOfRange(f, 30, 34)).as("to").isEqualTo(GUEST_IP_BYTES);
            assertThat(InetChecksum.of(f, 14, 20)).as("IP header checksum").isZero();
            assertThat(InetChecksum.of(f, 34, total - 20)).as("ICMP checksum").isZero();
            assertThat(Arrays.copyOfRange(f, 42, 14 + total)).isEqualTo(data);
            assertThat(g.device.stats().tx(0).getPackets()).isGreaterThanOrEqualTo(2);
            assertThat(g.device.stats().rx(0).getPackets()).isGreaterThanOrEqualTo(2);
            assertThat(g.driver.rxErrors()).isZero();
            assertThat(g.driver.needsReset()).isFalse();
        }
    }

    @Test
    void aUdpDatagramWithAPartialChecksumArrivesIntactAtAKernelSocket() {
        NetPrerequisites.assumePython();
        try (NetNs ns = NetNs.create(); TapGuest g = TapGuest.start(ns, 1, d -> d);
             NetNs.Python receiver = ns.python(UDP_RECEIVER, NS_IP, "9000", "1")) {
            assertThat(g.driver.has(VIRTIO_NET_F_CSUM)).as("TAP offers checksum offload").isTrue();
            receiver.awaitReady();
            byte[] data = payload(1000, 7);
            byte[] frame = Frames.udp(NS_MAC_BYTES, GUEST_MAC_BYTES, GUEST_IP_BYTES, NS_IP_BYTES, 4321, 9000, data, true);
            assertThat(Frames.udpChecksumValid(frame)).as("the guest left the checksum partial").isFalse();
            g.driver.send(0, VirtioNetDriver.header(VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_NONE, 0, 0, 34, 6),
                    frame);
            assertThat(receiver.line(15)).isEqualTo(GUEST_IP + " 4321 1000 " + HexFormat.of().formatHex(data));
            assertThat(g.driver.awaitTxDone(0, WAIT)).containsOnly(0);
        }
    }

    @ParameterizedTest(name = "GUEST_CSUM {0}: a datagram from the kernel arrives with the negotiated checksum flags")
    @ValueSource(booleans = {true, false})
    void aUdpDatagramFromTheKernelArrivesWithTheNegotiatedChecksumFlags(boolean guestCsum) {
        NetPrerequisites.assumePython();
        try (NetNs ns = NetNs.create();
             TapGuest g = TapGuest.start(ns, 1, d -> guestCsum ? d : d.without(VIRTIO_NET_F_GUEST_CSUM))) {
            assertThat(g.driver.has(VIRTIO_NET_F_GUEST_CSUM)).isEqualTo(guestCsum);
            ns.neigh(g.tap.ifname(), GUEST_IP, GUEST_MAC);
            byte[] data = payload(700, 3);
            try (NetNs.Python sender = ns.python(UDP_SENDER, GUEST_IP, "7000", "7001", HexFormat.of().formatHex(data))) {
                assertThat(sender.line(15)).isEqualTo("SENT");
            }
            Received r = g.receive(x -> isUdpTo(x.frame(), 7000), WAIT);
            assertThat(r).as("the kernel's datagram").isNotNull();
            byte[] f = r.frame();
            assertThat(r.gsoType()).isEqualTo(VIRTIO_NET_HDR_GSO_NONE);
            assertThat(Arrays.copyOfRange(f, 26, 30)).isEqualTo(NS_IP_BYTES);
            assertThat(Frames.u16(f, 34)).as("source port").isEqualTo(7001);
            assertThat(Arrays.copyOfRange(f, 42, 42 + data.length)).isEqualTo(data);
            if (guestCsum) {
                assertThat(r.flags()).as("NEEDS_CSUM or DATA_VALID")
                        .isIn(VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_F_DATA_VALID);
                if (r.flags() == VIRTIO_NET_HDR_F_NEEDS_CSUM) {
                    assertThat(r.csumStart()).isEqualTo(34);
                    assertThat(r.csumOffset()).isEqualTo(6);
                    // What the guest stack does for a partial checksum (skb_checksum_help).
                    Frames.putU16(f, 34 + 6, InetChecksum.finish(InetChecksum.sum(f, 34, f.length - 34, 0)));
                }
            } else {
                assertThat(r.flags()).as("no GUEST_CSUM: no checksum flags").isZero();
            }
            assertThat(Frames.udpChecksumValid(f)).as("UDP checksum").isTrue();
            assertThat(InetChecksum.of(f, 14, 20)).isZero();
        }
    }

    @Test
    void aUsoSuperFrameFromTheGuestIsSegmentedByTheKernelAndArrivesWhole() {
        NetPrerequisites.assumePython();
        try (NetNs ns = NetNs.create(); TapGuest g = TapGuest.start(ns, 1, d -> d);
             NetNs.Python receiver = ns.python(UDP_RECEIVER, NS_IP, "9001", "8")) {
            assumeTrue(g.driver.has(VIRTIO_NET_F_HOST_USO), () -> {
                System.out.println("SKIPPED: the kernel's TAP has no USO, so the device offers no HOST_USO");
                return "no HOST_USO";
            });
            receiver.awaitReady();
            int mss = 1400;
            byte[] data = payload(8 * mss, 5);
            byte[] frame = Frames.udp(NS_MAC_BYTES, GUEST_MAC_BYTES, GUEST_IP_BYTES, NS_IP_BYTES, 4322, 9001, data, true);
            assertThat(frame.length).isGreaterThan(9000);
            g.driver.send(0, VirtioNetDriver.header(VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_UDP_L4, 42, mss, 34, 6),
                    frame);
            ByteArrayOutputStream all = new ByteArrayOutputStream();
            for (int i = 0; i < 8; i++) {
                String[] line = receiver.line(15).split(" ");
                assertThat(line).hasSize(4);
                assertThat(line[0]).isEqualTo(GUEST_IP);
                assertThat(Integer.parseInt(line[2])).as("segment %d", i).isEqualTo(mss);
                all.writeBytes(HexFormat.of().parseHex(line[3]));
            }
            assertThat(all.toByteArray()).isEqualTo(data);
            assertThat(g.device.stats().tx(0).getPackets()).isEqualTo(1);
        }
    }

    static int kernelTxQueues(NetNs ns, String ifname) {
        String list = ns.exec("ls", "/sys/class/net/" + ifname + "/queues");
        return (int) Arrays.stream(list.split("\\s+")).filter(s -> s.startsWith("tx-")).count();
    }

    @Test
    void fourQueuePairsCarryTrafficAndVqPairsSetDetachesTapQueues() {
        NetPrerequisites.assumePython();
        assumeTrue(Tap.supportsMultiQueue(), () -> {
            System.out.println("SKIPPED: the kernel's TUN driver has no IFF_MULTI_QUEUE");
            return "no multiqueue TAP";
        });
        try (NetNs ns = NetNs.create(); TapGuest g = TapGuest.start(ns, 4, d -> d);
             NetNs.Python echo = ns.python(UDP_ECHO, NS_IP, "9100")) {
            assertThat(g.driver.queuePairs()).isEqualTo(4);
            assertThat(g.tap.maxQueuePairs()).isEqualTo(4);
            assertThat(g.tap.activeQueues()).isEqualTo(4);
            assertThat(kernelTxQueues(ns, g.tap.ifname())).isEqualTo(4);
            ns.neigh(g.tap.ifname(), GUEST_IP, GUEST_MAC);
            echo.awaitReady();
            // Which RX queue an echo comes back on is the tun driver's flow-steering choice (usually the
            // flow's TX queue, but not guaranteed): send on every pair, then more flows until every RX
            // queue has carried traffic.
            for (int p = 0; p < 4; p++) {
                assertThat(echoOn(g, p, 6000 + p)).as("echo for pair %d", p).isBetween(0, 3);
            }
            for (int port = 6004; port < 6068 && !everyRxQueueUsed(g, 4); port++) {
                assertThat(echoOn(g, port % 4, port)).as("echo from port %d", port).isBetween(0, 3);
            }
            for (int p = 0; p < 4; p++) {
                assertThat(g.device.stats().tx(p).getPackets()).as("tx%d", p).isPositive();
                assertThat(g.device.stats().rx(p).getPackets()).as("rx%d", p).isPositive();
            }

            assertThat(g.driver.setQueuePairs(2)).isEqualTo(VIRTIO_NET_OK);
            assertThat(g.device.activeQueuePairs()).isEqualTo(2);
            assertThat(g.tap.activeQueues()).as("TUNSETQUEUE detached queues 2 and 3").isEqualTo(2);
            assertThat(kernelTxQueues(ns, g.tap.ifname())).isEqualTo(2);
            long rx2 = g.device.stats().rx(2).getPackets();
            long rx3 = g.device.stats().rx(3).getPackets();
            for (int round = 0; round < 4; round++) {
                int pair = round % 2;
                assertThat(echoOn(g, pair, 6100 + round)).as("round %d", round).isIn(0, 1);
            }
            assertThat(g.device.stats().rx(2).getPackets()).isEqualTo(rx2);
            assertThat(g.device.stats().rx(3).getPackets()).isEqualTo(rx3);

            assertThat(g.driver.setQueuePairs(4)).isEqualTo(VIRTIO_NET_OK);
            assertThat(g.tap.activeQueues()).isEqualTo(4);
            long tx3 = g.device.stats().tx(3).getPackets();
            assertThat(echoOn(g, 3, 6200)).isBetween(0, 3);
            assertThat(g.device.stats().tx(3).getPackets()).as("pair 3 transmits again").isEqualTo(tx3 + 1);
        }
    }

    private static boolean everyRxQueueUsed(TapGuest g, int pairs) {
        for (int p = 0; p < pairs; p++) {
            if (g.device.stats().rx(p).getPackets() == 0) {
                return false;
            }
        }
        return true;
    }

    /** Sends a datagram from {@code port} on {@code pair}, waits for the echo and returns the pair it came on. */
    static int echoOn(TapGuest g, int pair, int port) {
        byte[] data = payload(64 + port % 100, port);
        byte[] frame = Frames.udp(NS_MAC_BYTES, GUEST_MAC_BYTES, GUEST_IP_BYTES, NS_IP_BYTES, port, 9100, data, false);
        g.driver.send(pair, frame);
        int[] on = {-1};
        Received r = g.receive(x -> isUdpTo(x.frame(), port), WAIT, on);
        assertThat(r).as("echo to port %d", port).isNotNull();
        assertThat(Arrays.copyOfRange(r.frame(), 42, 42 + data.length)).isEqualTo(data);
        return on[0];
    }
}
