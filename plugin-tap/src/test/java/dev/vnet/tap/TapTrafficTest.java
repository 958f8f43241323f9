package dev.vnet.tap;

import dev.vnet.linux.Errno;
import dev.vnet.linux.Libc;
import dev.vnet.testkit.netns.NetNs;
import dev.vnet.spi.BackendException;
import dev.vnet.spi.BackendQueue;
import dev.vnet.spi.Offloads;

import java.io.ByteArrayOutputStream;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import static dev.vnet.tap.Packets.ETH;
import static dev.vnet.tap.Packets.VNET_HDR;
import static dev.vnet.tap.Packets.concat;
import static dev.vnet.tap.Packets.eth;
import static dev.vnet.tap.Packets.ip;
import static dev.vnet.tap.Packets.ipv4;
import static dev.vnet.tap.Packets.le16;
import static dev.vnet.tap.Packets.mac;
import static dev.vnet.tap.Packets.u16;
import static dev.vnet.tap.Packets.udp;
import static dev.vnet.tap.Packets.vnetHdr;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Frames between the backend and the real kernel, each test in its own network namespace: the TAP is
 * created in the root namespace, then moved into the test's namespace where it gets
 * {@value #NS_IP}/24; the "guest" behind the backend is {@value #GUEST_IP} with {@value #GUEST_MAC}.
 */
@Timeout(60)
class TapTrafficTest {

    static final String NS_MAC = "02:00:00:00:00:01";
    static final String GUEST_MAC = "02:00:00:00:00:02";
    static final String NS_IP = "10.200.0.1";
    static final String GUEST_IP = "10.200.0.2";
    /** The second TAP of the forwarding tests. */
    static final String NS_IP_B = "10.201.0.1";
    static final String PEER_IP_B = "10.201.0.2";
    static final String NS_MAC_B = "02:00:00:00:01:01";
    static final String PEER_MAC_B = "02:00:00:00:01:02";

    static final String UDP_RECEIVER = """
            import socket, sys
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
            s.bind((sys.argv[1], int(sys.argv[2])))
            s.settimeout(15)
            print('READY')
            for i in range(int(sys.argv[3])):
                data, addr = s.recvfrom(65535)
                print(addr[0], addr[1], len(data), data.hex())
            """;

    @BeforeAll
    static void requireTap() {
        NetPrerequisites.assumeTapRootAndIp();
    }

    /** Opens a single-queue TAP, moves it into {@code ns} and configures the namespace's side. */
    static TapBackend tapIn(NetNs ns, Wire wire) {
        TapBackend tap = TapBackend.open(Map.of("ifname", NetNs.randomIfname()), 1);
        tap.setReadinessListener(wire);
        ns.adopt(tap.ifname(), NS_MAC, NS_IP + "/24");
        ns.neigh(tap.ifname(), GUEST_IP, GUEST_MAC);
        return tap;
    }

    @Test
    void arpRequestFromNativeMemoryIsAnsweredByTheKernelAndReadinessListenerFires() throws Exception {
        try (NetNs ns = NetNs.create(); Wire wire = new Wire(1); TapBackend tap = tapIn(ns, wire)) {
            BackendQueue q = tap.queue(0);
            assertThat(q.read(wire.rxBuffers(2048))).as("nothing waiting: EAGAIN reads as 0").isZero();

            byte[] arp = Packets.arpRequest(mac(GUEST_MAC), ip(GUEST_IP), ip(NS_IP));
            assertThat(wire.send(q, concat(vnetHdr(0, 0, 0, 0, 0, 0), arp))).isTrue();

            assertThat(wire.readable[0].tryAcquire(5, TimeUnit.SECONDS)).as("readable(0) after the EAGAIN").isTrue();
            byte[] reply = wire.receive(q, 0, Wire.ethertype(0x0806), 5000);
            byte[] f = Wire.strip(reply);
            assertThat(Arrays.copyOfRange(f, 0, 6)).isEqualTo(mac(GUEST_MAC));
            assertThat(Arrays.copyOfRange(f, 6, 12)).isEqualTo(mac(NS_MAC));
            assertThat(u16(f, ETH + 6)).as("ARP op reply").isEqualTo(2);
            assertThat(Arrays.copyOfRange(f, ETH + 8, ETH + 14)).as("sender MAC").isEqualTo(mac(NS_MAC));
            assertThat(Arrays.copyOfRange(f, ETH + 14, ETH + 18)).as("sender IP").isEqualTo(ip(NS_IP));
            assertThat(reply[1]).as("gso_type").isEqualTo((byte) 0);
        }
    }

    @Test
    void udpWithNeedsCsumArrivesIntactAtAKernelSocket() {
        try (NetNs ns = NetNs.create(); Wire wire = new Wire(1); TapBackend tap = tapIn(ns, wire);
                NetNs.Python receiver = ns.python(UDP_RECEIVER, NS_IP, "9000", "1")) {
            receiver.awaitReady();
            byte[] payload = Packets.payload(1000, 7);
            byte[] datagram = udp(ip(GUEST_IP), ip(NS_IP), 4321, 9000, payload, true);
            byte[] frame = concat(vnetHdr(Packets.F_NEEDS_CSUM, 0, 0, 0, ETH + 20, 6),
                    eth(mac(NS_MAC), mac(GUEST_MAC), 0x0800, ipv4(17, ip(GUEST_IP), ip(NS_IP), datagram, 1)));
            assertThat(wire.send(tap.queue(0), frame)).isTrue();
            assertThat(receiver.line(15)).isEqualTo(GUEST_IP + " 4321 1000 " + HexFormat.of().formatHex(payload));
        }
    }

    @Test
    void needsCsumFrameForwardedToAnotherTapGetsItsChecksumCompletedByTheKernel() {
        try (NetNs ns = NetNs.create(); Wire wire = new Wire(1); Wire wireB = new Wire(1);
                TapBackend tap = tapIn(ns, wire); TapBackend tapB = forwardingPeer(ns, wireB)) {
            byte[] payload = Packets.payload(777, 3);
            byte[] frame = concat(vnetHdr(Packets.F_NEEDS_CSUM, 0, 0, 0, ETH + 20, 6),
                    eth(mac(NS_MAC), mac(GUEST_MAC), 0x0800,
                            ipv4(17, ip(GUEST_IP), ip(PEER_IP_B), udp(ip(GUEST_IP), ip(PEER_IP_B), 4000, 5000,
                                    payload, true), 9)));
            assertThat(wire.send(tap.queue(0), frame)).isTrue();

            byte[] got = wireB.receive(tapB.queue(0), 0, Wire.ipv4(17, 5000), 5000);
            assertThat(got[0] & Packets.F_NEEDS_CSUM).as("B has no CSUM offload: checksum complete").isZero();
            byte[] f = Wire.strip(got);
            assertThat(Packets.l4ChecksumOk(f, ETH)).as("UDP checksum computed by the kernel").isTrue();
            assertThat(u16(f, ETH + 20 + 6)).as("checksum field").isNotZero();
            assertThat(Arrays.copyOfRange(f, ETH + 28, f.length)).isEqualTo(payload);
        }
    }

    @Test
    void udpFromTheKernelArrivesViaReadvWithASaneVnetHeaderAndCsumOffloadChangesIt() {
        String sender = """
                import socket, sys
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                s.sendto(bytes.fromhex(sys.argv[2]), (sys.argv[1], 7000))
                print('SENT')
                """;
        try (NetNs ns = NetNs.create(); Wire wire = new Wire(1); TapBackend tap = tapIn(ns, wire)) {
            byte[] payload = Packets.payload(300, 11);
            String hex = HexFormat.of().formatHex(payload);
            try (NetNs.Python p = ns.python(sender, GUEST_IP, hex)) {
                assertThat(p.line(15)).isEqualTo("SENT");
            }
            byte[] got = wire.receive(tap.queue(0), 0, Wire.ipv4(17, 7000), 5000);
            assertThat(got[0] & ~Packets.F_DATA_VALID).as("flags").isZero();
            assertThat(got[1]).as("gso_type NONE").isEqualTo((byte) 0);
            assertThat(le16(got, 4)).as("gso_size").isZero();
            byte[] f = Wire.strip(got);
            assertThat(Arrays.copyOfRange(f, 0, 6)).isEqualTo(mac(GUEST_MAC));
            assertThat(Arrays.copyOfRange(f, 6, 12)).isEqualTo(mac(NS_MAC));
            assertThat(Packets.ipv4HeaderChecksumOk(f, ETH)).isTrue();
            assertThat(Packets.l4ChecksumOk(f, ETH)).as("full UDP checksum without CSUM offload").isTrue();
            assertThat(Arrays.copyOfRange(f, ETH + 28, f.length)).isEqualTo(payload);

            // With CSUM offload the kernel leaves the checksum partial and says where it goes.
            tap.setOffloads(Offloads.CSUM);
            try (NetNs.Python p = ns.python(sender, GUEST_IP, hex)) {
                assertThat(p.line(15)).isEqualTo("SENT");
            }
            got = wire.receive(tap.queue(0), 0, Wire.ipv4(17, 7000), 5000);
            assertThat(got[0] & Packets.F_NEEDS_CSUM).as("NEEDS_CSUM").isNotZero();
            assertThat(le16(got, 6)).as("csum_start").isEqualTo(ETH + 20);
            assertThat(le16(got, 8)).as("csum_offset").isEqualTo(6);
            f = Wire.strip(got);
            int stored = u16(f, ETH + 20 + 6);
            int pseudo = Packets.fold(Packets.pseudoHeaderSum(ip(NS_IP), ip(GUEST_IP), 17, 8 + payload.length));
            assertThat(stored).as("partial checksum = pseudo-header sum").isEqualTo(pseudo);
        }
    }

    @Test
    void usoGsoFrameIsSegmentedByTheKernelAndArrivesWholeAtTheReceiver() {
        try (NetNs ns = NetNs.create(); Wire wire = new Wire(1); TapBackend tap = tapIn(ns, wire);
                NetNs.Python receiver = ns.python(UDP_RECEIVER, NS_IP, "9001", "4")) {
            assumeTrue((tap.supportedOffloads() & Offloads.USO4) != 0, "the kernel has no USO");
            receiver.awaitReady();
            int mss = 1000;
            byte[] payload = Packets.payload(4 * mss, 5);
            byte[] datagram = udp(ip(GUEST_IP), ip(NS_IP), 4322, 9001, payload, true);
            byte[] frame = concat(vnetHdr(Packets.F_NEEDS_CSUM, Packets.GSO_UDP_L4, ETH + 28, mss, ETH + 20, 6),
                    eth(mac(NS_MAC), mac(GUEST_MAC), 0x0800, ipv4(17, ip(GUEST_IP), ip(NS_IP), datagram, 2)));
            assertThat(frame.length).isGreaterThan(1514 + VNET_HDR);
            assertThat(wire.send(tap.queue(0), frame)).isTrue();
            ByteArrayOutputStream all = new ByteArrayOutputStream();
            for (int i = 0; i < 4; i++) {
                String[] line = receiver.line(15).split(" ");
                assertThat(line).hasSize(4);
                assertThat(Integer.parseInt(line[2])).as("segment %d", i).isEqualTo(mss);
                all.writeBytes(HexFormat.of().parseHex(line[3]));
            }
            assertThat(all.toByteArray()).isEqualTo(payload);
        }
    }

    @Test
    void tcpv4GsoFrameIsSegmentedByTheKernelWhenForwarded() {
        try (NetNs ns = NetNs.create(); Wire wire = new Wire(1); Wire wireB = new Wire(1);
                TapBackend tap = tapIn(ns, wire); TapBackend tapB = forwardingPeer(ns, wireB)) {
            int mss = 1400;
            byte[] payload = Packets.payload(10_000, 9);
            long seq = 1_000_000;
            byte[] segment = Packets.tcp(ip(GUEST_IP), ip(PEER_IP_B), 40000, 5001, seq, 1, 0x18, payload, true);
            byte[] frame = concat(vnetHdr(Packets.F_NEEDS_CSUM, Packets.GSO_TCPV4, ETH + 40, mss, ETH + 20, 16),
                    eth(mac(NS_MAC), mac(GUEST_MAC), 0x0800, ipv4(6, ip(GUEST_IP), ip(PEER_IP_B), segment, 3)));
            assertThat(wire.send(tap.queue(0), frame)).isTrue();

            ByteArrayOutputStream all = new ByteArrayOutputStream();
            int segments = 0;
            while (all.size() < payload.length) {
                byte[] f = Wire.strip(wireB.receive(tapB.queue(0), 0, Wire.ipv4(6, 5001), 5000));
                segments++;
                assertThat(Packets.ipv4HeaderChecksumOk(f, ETH)).isTrue();
                assertThat(Packets.l4ChecksumOk(f, ETH)).as("segment %d TCP checksum", segments).isTrue();
                assertThat(Packets.u32(f, ETH + 20 + 4)).as("sequence number").isEqualTo(seq + all.size());
                int data = u16(f, ETH + 2) - 40;
                assertThat(data).isLessThanOrEqualTo(mss);
                all.write(f, ETH + 40, data);
            }
            assertThat(segments).isEqualTo((payload.length + mss - 1) / mss);
            assertThat(all.toByteArray()).isEqualTo(payload);
        }
    }

    @Test
    void einvalFromTheKernelThrowsBackendExceptionWithErrnoAndTheQueueSurvives() {
        try (NetNs ns = NetNs.create(); Wire wire = new Wire(1); TapBackend tap = tapIn(ns, wire)) {
            BackendQueue q = tap.queue(0);
            byte[] tooShort = concat(vnetHdr(0, 0, 0, 0, 0, 0), new byte[5]);
            assertThatThrownBy(() -> wire.send(q, tooShort)).isInstanceOf(BackendException.class)
                    .hasMessageContaining("writev failed: EINVAL (Invalid argument)")
                    .extracting(e -> ((BackendException) e).errno()).isEqualTo(Errno.EINVAL);

            byte[] arp = Packets.arpRequest(mac(GUEST_MAC), ip(GUEST_IP), ip(NS_IP));
            byte[] badCsum = concat(vnetHdr(Packets.F_NEEDS_CSUM, 0, 0, 0, 4000, 6), arp);
            assertThatThrownBy(() -> wire.send(q, badCsum)).isInstanceOf(BackendException.class)
                    .extracting(e -> ((BackendException) e).errno()).isEqualTo(Errno.EINVAL);

            assertThat(wire.send(q, concat(vnetHdr(0, 0, 0, 0, 0, 0), arp))).isTrue();
            assertThat(wire.receive(q, 0, Wire.ethertype(0x0806), 5000)).isNotEmpty();
        }
    }

    @Test
    void frameInMoreRangesThanIovMaxGoesThroughABounceBufferBothWays() {
        try (NetNs ns = NetNs.create(); Wire wire = new Wire(1); TapBackend tap = tapIn(ns, wire)) {
            BackendQueue q = tap.queue(0);
            byte[] arp = concat(vnetHdr(0, 0, 0, 0, 0, 0),
                    Packets.arpRequest(mac(GUEST_MAC), ip(GUEST_IP), ip(NS_IP)), new byte[1100]);
            dev.vnet.spi.SegmentList many = new dev.vnet.spi.SegmentList(2048);
            java.lang.foreign.MemorySegment.copy(arp, 0, wire.ram, java.lang.foreign.ValueLayout.JAVA_BYTE, 0,
                    arp.length);
            for (int i = 0; i < arp.length; i++) {
                many.add(wire.ram, i, 1); // one byte per range
            }
            assertThat(many.count()).isGreaterThan(Libc.IOV_MAX);
            assertThat(q.write(many)).isTrue();

            // Find the reply with ordinary buffers, then check a bounced read on the next one.
            wire.receive(q, 0, Wire.ethertype(0x0806), 5000);
            assertThat(wire.send(q, concat(vnetHdr(0, 0, 0, 0, 0, 0),
                    Packets.arpRequest(mac(GUEST_MAC), ip(GUEST_IP), ip(NS_IP))))).isTrue();
            dev.vnet.spi.SegmentList small = new dev.vnet.spi.SegmentList(2048);
            long base = 64 * 1024;
            small.add(wire.ram, base, VNET_HDR);
            for (int i = 0; i < 1500; i++) {
                small.add(wire.ram, base + VNET_HDR + i, 1);
            }
            int n = 0;
            for (int tries = 0; tries < 50 && n == 0; tries++) {
                n = q.read(small);
                if (n == 0) {
                    wire.readable[0].drainPermits();
                    try {
                        wire.readable[0].tryAcquire(100, TimeUnit.MILLISECONDS);
                    } catch (InterruptedException e) {
                        throw new IllegalStateException(e);
                    }
                }
            }
            assertThat(n).isEqualTo(VNET_HDR + 42); // an ARP reply: Ethernet 14 + ARP 28, no padding from Linux
            byte[] f = new byte[n];
            small.copyTo(0, java.lang.foreign.MemorySegment.ofArray(f), 0, n);
            assertThat(u16(f, VNET_HDR + 12)).isEqualTo(0x0806);
            assertThat(Arrays.copyOfRange(f, VNET_HDR + ETH + 8, VNET_HDR + ETH + 14)).isEqualTo(mac(NS_MAC));
        }
    }

    @Test
    void heapSegmentsAreRefusedBecauseTheKernelNeedsNativeAddresses() {
        try (TapBackend tap = TapBackend.open(Map.of("ifname", NetNs.randomIfname()), 1)) {
            dev.vnet.spi.SegmentList heap = new dev.vnet.spi.SegmentList(4);
            heap.add(java.lang.foreign.MemorySegment.ofArray(new byte[64]), 0, 64);
            assertThatThrownBy(() -> tap.queue(0).write(heap)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("not in native memory");
            assertThatThrownBy(() -> tap.queue(0).read(heap)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("not in native memory");
        }
    }

    /** A second TAP in {@code ns} on 10.201.0.1/24 with forwarding on, leading to {@value #PEER_IP_B}. */
    private static TapBackend forwardingPeer(NetNs ns, Wire wire) {
        TapBackend tap = TapBackend.open(Map.of("ifname", NetNs.randomIfname()), 1);
        tap.setReadinessListener(wire);
        ns.adopt(tap.ifname(), NS_MAC_B, NS_IP_B + "/24");
        ns.neigh(tap.ifname(), PEER_IP_B, PEER_MAC_B);
        ns.exec("sysctl", "-q", "-w", "net.ipv4.ip_forward=1");
        return tap;
    }
}
