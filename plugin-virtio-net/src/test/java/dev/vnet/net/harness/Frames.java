package dev.vnet.net.harness;

import java.nio.ByteBuffer;
import java.util.Random;

/** Test frames: Ethernet, IPv4/IPv6 with UDP or TCP, and an independent RFC 1071 checksum. */
public final class Frames {

    public static final byte[] DEVICE_MAC = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
    public static final byte[] OTHER_MAC = {0x52, 0x54, 0x00, 0x65, 0x43, 0x21};
    public static final byte[] PEER_MAC = {0x52, 0x54, 0x00, 0x00, 0x00, 0x02};
    public static final byte[] BROADCAST = {-1, -1, -1, -1, -1, -1};
    public static final byte[] MULTICAST = {0x01, 0x00, 0x5e, 0x00, 0x00, 0x01};

    private Frames() {
    }

    /** An Ethernet frame of exactly {@code length} bytes (ethertype 0x88B5, local experimental) with a seeded payload. */
    public static byte[] ethernet(byte[] dst, byte[] src, int length, long seed) {
        byte[] f = new byte[length];
        new Random(seed).nextBytes(f);
        System.arraycopy(dst, 0, f, 0, 6);
        System.arraycopy(src, 0, f, 6, 6);
        f[12] = (byte) 0x88;
        f[13] = (byte) 0xB5;
        return f;
    }

    /** The same, 802.1Q-tagged with {@code vid}. */
    public static byte[] vlanTagged(byte[] dst, byte[] src, int vid, int length, long seed) {
        byte[] f = ethernet(dst, src, length, seed);
        f[12] = (byte) 0x81;
        f[13] = 0;
        f[14] = (byte) (vid >> 8);
        f[15] = (byte) vid;
        f[16] = (byte) 0x88;
        f[17] = (byte) 0xB5;
        return f;
    }

    /**
     * An IPv4/UDP frame with {@code payload} bytes whose UDP checksum field holds only the pseudo-header
     * sum, as Linux leaves it for NEEDS_CSUM (csum_start 34, csum_offset 6).
     */
    public static byte[] udp4Partial(byte[] dst, byte[] src, int payload, long seed) {
        int len = 14 + 20 + 8 + payload;
        ByteBuffer b = ByteBuffer.allocate(len);
        b.put(dst).put(src).putShort((short) 0x0800);
        ipv4Header(b, 17, 20 + 8 + payload);
        b.putShort((short) 40000).putShort((short) 9).putShort((short) (8 + payload)).putShort((short) 0);
        byte[] data = new byte[payload];
        new Random(seed).nextBytes(data);
        b.put(data);
        byte[] f = b.array();
        int pseudo = pseudo4(f, 17, 8 + payload);
        putShort(f, 34 + 6, fold(pseudo));
        return f;
    }

    /** An IPv4/TCP super-frame with {@code payload} bytes and a partial (pseudo-header) checksum, for TSO. */
    public static byte[] tcp4Partial(byte[] dst, byte[] src, int payload, long seed) {
        int len = 14 + 20 + 20 + payload;
        ByteBuffer b = ByteBuffer.allocate(len);
        b.put(dst).put(src).putShort((short) 0x0800);
        ipv4Header(b, 6, 20 + 20 + payload);
        b.putShort((short) 40000).putShort((short) 80).putInt(1000).putInt(0);
        b.put((byte) 0x50).put((byte) 0x18).putShort((short) 65535).putShort((short) 0).putShort((short) 0);
        byte[] data = new byte[payload];
        new Random(seed).nextBytes(data);
        b.put(data);
        byte[] f = b.array();
        putShort(f, 34 + 16, fold(pseudo4(f, 6, 0)));
        return f;
    }

    private static void ipv4Header(ByteBuffer b, int proto, int totalLength) {
        int start = b.position();
        b.put((byte) 0x45).put((byte) 0).putShort((short) totalLength).putShort((short) 7).putShort((short) 0x4000)
                .put((byte) 64).put((byte) proto).putShort((short) 0)
                .put(new byte[] {10, 0, 0, 1}).put(new byte[] {10, 0, 0, 2});
        byte[] arr = b.array();
        putShort(arr, start + 10, ~fold(sum(arr, start, 20)) & 0xFFFF);
    }

    public static int sum(byte[] f, int from, int length) {
        int s = 0;
        for (int i = 0; i < length; i += 2) {
            int hi = f[from + i] & 0xFF;
            int lo = i + 1 < length ? f[from + i + 1] & 0xFF : 0;
            s += (hi << 8) | lo;
        }
        return s;
    }

    public static int fold(int s) {
        while ((s >>> 16) != 0) {
            s = (s & 0xFFFF) + (s >>> 16);
        }
        return s;
    }

    private static int pseudo4(byte[] f, int proto, int l4Length) {
        return sum(f, 26, 8) + proto + l4Length;
    }

    /** Whether the L4 checksum of an IPv4 frame verifies (sum over pseudo-header and segment is 0xFFFF). */
    public static boolean l4ChecksumValid(byte[] f) {
        int ihl = (f[14] & 0xF) * 4;
        int total = ((f[16] & 0xFF) << 8) | (f[17] & 0xFF);
        int l4Len = total - ihl;
        int proto = f[23] & 0xFF;
        return fold(sum(f, 26, 8) + proto + l4Len + sum(f, 14 + ihl, l4Len)) == 0xFFFF;
    }

    /** Whether the IPv4 header checksum verifies. */
    public static boolean ipChecksumValid(byte[] f) {
        return fold(sum(f, 14, (f[14] & 0xF) * 4)) == 0xFFFF;
    }

    private static void putShort(byte[] f, int at, int v) {
        f[at] = (byte) (v >> 8);
        f[at + 1] = (byte) v;
    }

    /** A virtio_net_hdr with NEEDS_CSUM and the given GSO type/size. */
    public static byte[] header(int flags, int gsoType, int hdrLen, int gsoSize, int csumStart, int csumOffset) {
        return ByteBuffer.allocate(12).order(java.nio.ByteOrder.LITTLE_ENDIAN).put((byte) flags).put((byte) gsoType)
                .putShort((short) hdrLen).putShort((short) gsoSize).putShort((short) csumStart)
                .putShort((short) csumOffset).putShort((short) 0).array();
    }
}
