package dev.vnet.tap;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.HexFormat;

/** Builds and parses the test frames: virtio_net_hdr_v1, Ethernet, ARP, IPv4, UDP, TCP. */
final class Packets {

    static final int VNET_HDR = 12;
    static final int ETH = 14;
    static final int F_NEEDS_CSUM = 1;
    static final int F_DATA_VALID = 2;
    static final int GSO_NONE = 0;
    static final int GSO_TCPV4 = 1;
    static final int GSO_UDP_L4 = 5;

    private Packets() {
    }

    static byte[] mac(String text) {
        return HexFormat.ofDelimiter(":").parseHex(text);
    }

    static byte[] ip(String text) {
        String[] parts = text.split("\\.");
        byte[] b = new byte[4];
        for (int i = 0; i < 4; i++) {
            b[i] = (byte) Integer.parseInt(parts[i]);
        }
        return b;
    }

    /** virtio_net_hdr_v1 (little-endian), num_buffers 0. */
    static byte[] vnetHdr(int flags, int gsoType, int hdrLen, int gsoSize, int csumStart, int csumOffset) {
        return ByteBuffer.allocate(VNET_HDR).order(ByteOrder.LITTLE_ENDIAN).put((byte) flags).put((byte) gsoType)
                .putShort((short) hdrLen).putShort((short) gsoSize).putShort((short) csumStart)
                .putShort((short) csumOffset).putShort((short) 0).array();
    }

    static byte[] concat(byte[]... parts) {
        int n = 0;
        for (byte[] p : parts) {
            n += p.length;
        }
        ByteBuffer b = ByteBuffer.allocate(n);
        for (byte[] p : parts) {
            b.put(p);
        }
        return b.array();
    }

    static byte[] eth(byte[] dst, byte[] src, int type, byte[] payload) {
        return ByteBuffer.allocate(ETH + payload.length).put(dst).put(src).putShort((short) type).put(payload).array();
    }

    static byte[] arpRequest(byte[] senderMac, byte[] senderIp, byte[] targetIp) {
        byte[] arp = ByteBuffer.allocate(28).putShort((short) 1).putShort((short) 0x0800).put((byte) 6).put((byte) 4)
                .putShort((short) 1).put(senderMac).put(senderIp).put(new byte[6]).put(targetIp).array();
        return eth(mac("ff:ff:ff:ff:ff:ff"), senderMac, 0x0806, arp);
    }

    static byte[] ipv4(int protocol, byte[] src, byte[] dst, byte[] payload, int id) {
        ByteBuffer b = ByteBuffer.allocate(20 + payload.length);
        b.put((byte) 0x45).put((byte) 0).putShort((short) (20 + payload.length)).putShort((short) id)
                .putShort((short) 0x4000).put((byte) 64).put((byte) protocol).putShort((short) 0).put(src).put(dst)
                .put(payload);
        byte[] a = b.array();
        int sum = ~fold(sum(a, 0, 20, 0)) & 0xffff;
        a[10] = (byte) (sum >> 8);
        a[11] = (byte) sum;
        return a;
    }

    /**
     * A UDP datagram. With {@code partial}, the checksum field holds only the folded pseudo-header sum
     * (what a NEEDS_CSUM sender leaves for the device to finish); otherwise the full checksum.
     */
    static byte[] udp(byte[] src, byte[] dst, int sport, int dport, byte[] payload, boolean partial) {
        int len = 8 + payload.length;
        byte[] u = ByteBuffer.allocate(len).putShort((short) sport).putShort((short) dport).putShort((short) len)
                .putShort((short) 0).put(payload).array();
        setL4Checksum(u, 6, src, dst, 17, partial);
        return u;
    }

    /** A TCP segment with a 20-byte header, flags such as 0x18 (PSH|ACK). */
    static byte[] tcp(byte[] src, byte[] dst, int sport, int dport, long seq, long ack, int flags, byte[] payload,
            boolean partial) {
        byte[] t = ByteBuffer.allocate(20 + payload.length).putShort((short) sport).putShort((short) dport)
                .putInt((int) seq).putInt((int) ack).put((byte) 0x50).put((byte) flags).putShort((short) 65535)
                .putShort((short) 0).putShort((short) 0).put(payload).array();
        setL4Checksum(t, 16, src, dst, 6, partial);
        return t;
    }

    private static void setL4Checksum(byte[] l4, int at, byte[] src, byte[] dst, int proto, boolean partial) {
        int pseudo = pseudoHeaderSum(src, dst, proto, l4.length);
        int value = partial ? fold(pseudo) : ~fold(sum(l4, 0, l4.length, pseudo)) & 0xffff;
        if (!partial && value == 0 && proto == 17) {
            value = 0xffff;
        }
        l4[at] = (byte) (value >> 8);
        l4[at + 1] = (byte) value;
    }

    static int pseudoHeaderSum(byte[] src, byte[] dst, int proto, int length) {
        return sum(src, 0, 4, 0) + sum(dst, 0, 4, 0) + proto + length;
    }

    /** Whether the L4 checksum of the IPv4 packet at {@code ipOffset} of {@code frame} verifies. */
    static boolean l4ChecksumOk(byte[] frame, int ipOffset) {
        int ihl = (frame[ipOffset] & 0x0f) * 4;
        int total = u16(frame, ipOffset + 2);
        int proto = frame[ipOffset + 9] & 0xff;
        byte[] src = java.util.Arrays.copyOfRange(frame, ipOffset + 12, ipOffset + 16);
        byte[] dst = java.util.Arrays.copyOfRange(frame, ipOffset + 16, ipOffset + 20);
        int l4len = total - ihl;
        return fold(sum(frame, ipOffset + ihl, l4len, pseudoHeaderSum(src, dst, proto, l4len))) == 0xffff;
    }

    static boolean ipv4HeaderChecksumOk(byte[] frame, int ipOffset) {
        return fold(sum(frame, ipOffset, (frame[ipOffset] & 0x0f) * 4, 0)) == 0xffff;
    }

    static int sum(byte[] b, int off, int len, int initial) {
        long s = initial;
        for (int i = 0; i + 1 < len; i += 2) {
            s += ((b[off + i] & 0xff) << 8) | (b[off + i + 1] & 0xff);
        }
        if ((len & 1) != 0) {
            s += (b[off + len - 1] & 0xff) << 8;
        }
        while ((s >> 16) != 0) {
            s = (s & 0xffff) + (s >> 16);
        }
        return (int) s;
    }

    static int fold(int s) {
        while ((s >>> 16) != 0) {
            s = (s & 0xffff) + (s >>> 16);
        }
        return s;
    }

    static int u16(byte[] b, int off) {
        return ((b[off] & 0xff) << 8) | (b[off + 1] & 0xff);
    }

    static int le16(byte[] b, int off) {
        return (b[off] & 0xff) | ((b[off + 1] & 0xff) << 8);
    }

    static long u32(byte[] b, int off) {
        return ((long) u16(b, off) << 16) | u16(b, off + 2);
    }

    static byte[] payload(int length, int seed) {
        byte[] p = new byte[length];
        for (int i = 0; i < length; i++) {
            p[i] = (byte) (i * 31 + seed);
        }
        return p;
    }
}
