package dev.vnet.bench;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * The frames every benchmark sends, vnet header included: 64 B and 1514 B IPv4/UDP frames, and a 64 KiB
 * IPv4/TCP super-frame with a TSO header (GSO_TCPV4, gso_size 1448, NEEDS_CSUM at the TCP checksum), as
 * Linux {@code virtio_net} hands them to the device. Addresses match the TAP setup of {@code bin/bench}:
 * 10.77.0.2 towards 10.99.0.1 (a blackhole route).
 */
public final class BenchFrames {

    public static final int HDR = 12;
    /** MAC of the benchmarked device (the RX filter's own unicast address). */
    public static final byte[] DEVICE_MAC = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
    /** MAC that {@code bin/bench} gives the TAP interface. */
    public static final byte[] TAP_MAC = {0x02, 0x00, 0x00, 0x00, 0x00, 0x01};
    public static final int MSS = 1448;

    private BenchFrames() {
    }

    /** Whether a frame of this size goes as a TSO super-frame. */
    public static boolean isGso(int frameSize) {
        return frameSize > 1514;
    }

    /** vnet header + frame of {@code frameSize} bytes (without the header) from {@code src} to {@code dst}. */
    public static byte[] frame(int frameSize, byte[] dst, byte[] src) {
        if (frameSize < 60) {
            throw new IllegalArgumentException("frame size " + frameSize);
        }
        boolean gso = isGso(frameSize);
        ByteBuffer b = ByteBuffer.allocate(HDR + frameSize);
        b.order(ByteOrder.LITTLE_ENDIAN);
        if (gso) {
            b.put((byte) 1);          // NEEDS_CSUM
            b.put((byte) 1);          // GSO_TCPV4
            b.putShort((short) 54);   // hdr_len
            b.putShort((short) MSS);  // gso_size
            b.putShort((short) 34);   // csum_start: TCP header
            b.putShort((short) 16);   // csum_offset: TCP checksum
            b.putShort((short) 0);    // num_buffers
        } else {
            b.put(new byte[HDR]);
        }
        b.order(ByteOrder.BIG_ENDIAN);
        b.put(dst).put(src).putShort((short) 0x0800);
        int ipLen = frameSize - 14;
        int ipStart = b.position();
        b.put((byte) 0x45).put((byte) 0).putShort((short) ipLen).putShort((short) 1).putShort((short) 0x4000)
                .put((byte) 64).put((byte) (gso ? 6 : 17)).putShort((short) 0)
                .put(new byte[] {10, 77, 0, 2}).put(new byte[] {10, 99, 0, 1});
        b.putShort(ipStart + 10, (short) ipChecksum(b.array(), ipStart, 20));
        if (gso) {
            b.putShort((short) 40000).putShort((short) 5001).putInt(1).putInt(0)
                    .put((byte) 0x50).put((byte) 0x18).putShort((short) 65535).putShort((short) 0).putShort((short) 0);
        } else {
            b.putShort((short) 40000).putShort((short) 5001).putShort((short) (ipLen - 20)).putShort((short) 0);
        }
        for (int i = b.position(); i < b.capacity(); i++) {
            b.put((byte) i);
        }
        return b.array();
    }

    private static int ipChecksum(byte[] a, int off, int len) {
        long sum = 0;
        for (int i = 0; i < len; i += 2) {
            sum += ((a[off + i] & 0xFF) << 8) | (a[off + i + 1] & 0xFF);
        }
        while ((sum >> 16) != 0) {
            sum = (sum & 0xFFFF) + (sum >> 16);
        }
        return (int) (~sum & 0xFFFF);
    }
}
