package dev.vnet.testkit.net;

import java.nio.ByteBuffer;
import java.util.Arrays;

/**
 * Builders and parsers for the frames tests and the demo guest exchange: Ethernet, ARP, IPv4 with UDP
 * or ICMP echo. Big-endian network order; checksums computed (or left partial for offload tests).
 */
public final class Frames {

    public static final int ETH_HLEN = 14;
    public static final int ETHERTYPE_IPV4 = 0x0800;
    public static final int ETHERTYPE_ARP = 0x0806;
    public static final int ETHERTYPE_VLAN = 0x8100;
    public static final int IPPROTO_ICMP = 1;
    public static final int IPPROTO_TCP = 6;
    public static final int IPPROTO_UDP = 17;
    public static final byte[] BROADCAST = {-1, -1, -1, -1, -1, -1};

    private Frames() {
    }

    public static int ethertype(byte[] frame) {
        return frame.length < ETH_HLEN ? -1 : u16(frame, 12);
    }

    public static byte[] destination(byte[] frame) {
        return Arrays.copyOfRange(frame, 0, 6);
    }

    public static byte[] source(byte[] frame) {
        return Arrays.copyOfRange(frame, 6, 12);
    }

    /** An Ethernet frame around {@code payload}. */
    public static byte[] ethernet(byte[] dst, byte[] src, int ethertype, byte[] payload) {
        ByteBuffer b = ByteBuffer.allocate(ETH_HLEN + payload.length);
        b.put(dst).put(src).putShort((short) ethertype).put(payload);
        return b.array();
    }

    /** An ARP request "who has {@code targetIp}? tell {@code senderIp}" (RFC 826), broadcast. */
    public static byte[] arpRequest(byte[] senderMac, byte[] senderIp, byte[] targetIp) {
        return ethernet(BROADCAST, senderMac, ETHERTYPE_ARP, arp(1, senderMac, senderIp, new byte[6], targetIp));
    }

    private static byte[] arp(int op, byte[] sha, byte[] spa, byte[] tha, byte[] tpa) {
        ByteBuffer b = ByteBuffer.allocate(28);
        b.putShort((short) 1).putShort((short) ETHERTYPE_IPV4).put((byte) 6).put((byte) 4).putShort((short) op);
        b.put(sha).put(spa).put(tha).put(tpa);
        return b.array();
    }

    /** An IPv4 header (no options, DF, TTL 64) followed by {@code l4}; header checksum filled in. */
    public static byte[] ipv4(byte[] src, byte[] dst, int protocol, byte[] l4, int id) {
        ByteBuffer b = ByteBuffer.allocate(20 + l4.length);
        b.put((byte) 0x45).put((byte) 0).putShort((short) (20 + l4.length)).putShort((short) id)
                .putShort((short) 0x4000).put((byte) 64).put((byte) protocol).putShort((short) 0).put(src).put(dst)
                .put(l4);
        byte[] ip = b.array();
        putU16(ip, 10, InetChecksum.of(ip, 0, 20));
        return ip;
    }

    /**
     * An Ethernet/IPv4/UDP frame. With {@code partialChecksum} the UDP checksum field holds only the
     * folded pseudo-header sum, as a driver leaves it for VIRTIO_NET_HDR_F_NEEDS_CSUM; otherwise it is complete.
     */
    public static byte[] udp(byte[] dstMac, byte[] srcMac, byte[] srcIp, byte[] dstIp, int srcPort, int dstPort,
                             byte[] payload, boolean partialChecksum) {
        ByteBuffer u = ByteBuffer.allocate(8 + payload.length);
        u.putShort((short) srcPort).putShort((short) dstPort).putShort((short) (8 + payload.length)).putShort((short) 0)
                .put(payload);
        byte[] l4 = u.array();
        byte[] ip = ipv4(srcIp, dstIp, IPPROTO_UDP, l4, 1);
        long pseudo = InetChecksum.pseudoHeader(ip, 0, IPPROTO_UDP, l4.length);
        int csum;
        if (partialChecksum) {
            long s = pseudo;
            while ((s >>> 16) != 0) {
                s = (s & 0xFFFF) + (s >>> 16);
            }
            csum = (int) s;
        } else {
            csum = InetChecksum.finish(InetChecksum.sum(l4, 0, l4.length, pseudo));
            csum = csum == 0 ? 0xFFFF : csum;
        }
        putU16(ip, 20 + 6, csum);
        return ethernet(dstMac, srcMac, ETHERTYPE_IPV4, ip);
    }

    /** Whether the IPv4 UDP frame's checksum verifies (0 = none is accepted). */
    public static boolean udpChecksumValid(byte[] frame) {
        int ip = ETH_HLEN;
        int ihl = (frame[ip] & 0xF) * 4;
        int udpLen = u16(frame, ip + ihl + 4);
        if (u16(frame, ip + ihl + 6) == 0) {
            return true;
        }
        long pseudo = InetChecksum.pseudoHeader(frame, ip, IPPROTO_UDP, udpLen);
        return InetChecksum.finish(InetChecksum.sum(frame, ip + ihl, udpLen, pseudo)) == 0;
    }

    /** An ICMP echo request from {@code srcIp} to {@code dstIp}. */
    public static byte[] icmpEcho(byte[] dstMac, byte[] srcMac, byte[] srcIp, byte[] dstIp, int ident, int seq,
                                  byte[] payload) {
        ByteBuffer b = ByteBuffer.allocate(8 + payload.length);
        b.put((byte) 8).put((byte) 0).putShort((short) 0).putShort((short) ident).putShort((short) seq).put(payload);
        byte[] icmp = b.array();
        putU16(icmp, 2, InetChecksum.of(icmp, 0, icmp.length));
        return ethernet(dstMac, srcMac, ETHERTYPE_IPV4, ipv4(srcIp, dstIp, IPPROTO_ICMP, icmp, seq));
    }

    public static int u16(byte[] b, int offset) {
        return ((b[offset] & 0xFF) << 8) | (b[offset + 1] & 0xFF);
    }

    public static void putU16(byte[] b, int offset, int value) {
        b[offset] = (byte) (value >>> 8);
        b[offset + 1] = (byte) value;
    }

    /** {@code "10.0.0.2"} as 4 bytes. */
    public static byte[] ip(String dotted) {
        String[] parts = dotted.split("\\.");
        if (parts.length != 4) {
            throw new IllegalArgumentException("not an IPv4 address: " + dotted);
        }
        byte[] out = new byte[4];
        for (int i = 0; i < 4; i++) {
            int v = Integer.parseInt(parts[i]);
            if (v < 0 || v > 255) {
                throw new IllegalArgumentException("not an IPv4 address: " + dotted);
            }
            out[i] = (byte) v;
        }
        return out;
    }
}
