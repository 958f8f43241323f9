package dev.vnet.net;

import dev.vnet.spi.SegmentList;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * What a NIC does in hardware, done in Java for peers that cannot: completing a partial checksum
 * ({@code VIRTIO_NET_HDR_F_NEEDS_CSUM}: the 16-bit one's complement sum from {@code csum_start} to the
 * end, stored at {@code csum_start + csum_offset}, RFC 1071) and segmenting a TCP (TSO) or UDP (USO)
 * super-frame into MSS-sized frames with fixed IP lengths, IDs, sequence numbers and checksums.
 *
 * <p>UFO (IP fragmentation) is not implemented: {@link #segment} refuses it. Everything allocates nothing.
 */
public final class SoftwareOffload {

    private static final ValueLayout.OfShort BE16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);
    private static final ValueLayout.OfInt BE32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);
    private static final int ETH_P_IP = 0x0800;
    private static final int ETH_P_IPV6 = 0x86DD;
    private static final int ETH_P_8021Q = 0x8100;
    private static final int IPPROTO_TCP = 6;
    private static final int IPPROTO_UDP = 17;
    private static final int TCP_FIN = 0x01;
    private static final int TCP_PSH = 0x08;
    private static final int TCP_CWR = 0x80;

    /** Receives one segment built by {@link #segment}: a zeroed virtio header then the frame. */
    @FunctionalInterface
    public interface SegmentSink {
        /** @return false to stop segmenting (the receiver is full) */
        boolean accept(MemorySegment buffer, long offset, long length);
    }

    private SoftwareOffload() {
    }

    /** Folds a running sum to 16 bits (end-around carry). */
    public static int fold(long sum) {
        while ((sum >>> 16) != 0) {
            sum = (sum & 0xFFFF) + (sum >>> 16);
        }
        return (int) sum;
    }

    /** Unfolded one's complement sum of {@code [offset, offset + length)} of a contiguous segment. */
    public static long sum(MemorySegment s, long offset, long length) {
        long sum = 0;
        long i = 0;
        for (; i + 1 < length; i += 2) {
            sum += Short.toUnsignedInt(s.get(BE16, offset + i));
        }
        if (i < length) {
            sum += (s.get(ValueLayout.JAVA_BYTE, offset + i) & 0xFF) << 8;
        }
        return sum;
    }

    /** Unfolded one's complement sum of {@code length} bytes starting {@code from} bytes into a scatter list. */
    public static long sum(SegmentList list, long from, long length) {
        long sum = 0;
        boolean odd = false;
        long skip = from;
        long left = length;
        for (int r = 0; r < list.count() && left > 0; r++) {
            long len = list.length(r);
            if (skip >= len) {
                skip -= len;
                continue;
            }
            MemorySegment seg = list.segment(r);
            long off = list.offset(r) + skip;
            long n = Math.min(len - skip, left);
            skip = 0;
            left -= n;
            long i = 0;
            if (odd && n > 0) {
                sum += seg.get(ValueLayout.JAVA_BYTE, off) & 0xFF;
                i = 1;
                odd = false;
            }
            for (; i + 1 < n; i += 2) {
                sum += Short.toUnsignedInt(seg.get(BE16, off + i));
            }
            if (i < n) {
                sum += (seg.get(ValueLayout.JAVA_BYTE, off + i) & 0xFF) << 8;
                odd = true;
            }
        }
        return sum;
    }

    /**
     * Completes a partial checksum in a contiguous frame: sums from {@code csumStart} to {@code length}
     * (the field holds the pseudo-header sum the sender put there) and stores the complement.
     *
     * @return false when the offsets do not fit the frame
     */
    public static boolean completeChecksum(MemorySegment frame, long base, long length, int csumStart, int csumOffset) {
        if (!checksumFits(length, csumStart, csumOffset)) {
            return false;
        }
        int c = ~fold(sum(frame, base + csumStart, length - csumStart)) & 0xFFFF;
        frame.set(BE16, base + csumStart + csumOffset, (short) c);
        return true;
    }

    /** The value to store for a partial checksum over a scatter list holding the frame from {@code base}. */
    public static int checksumValue(SegmentList list, long base, long length, int csumStart) {
        return ~fold(sum(list, base + csumStart, length - csumStart)) & 0xFFFF;
    }

    /** Whether {@code csum_start}/{@code csum_offset} leave room for the 2-byte field inside the frame. */
    public static boolean checksumFits(long length, int csumStart, int csumOffset) {
        return csumStart >= 0 && csumOffset >= 0 && (long) csumStart + csumOffset + 2 <= length;
    }

    /**
     * Segments a GSO frame (TCPV4, TCPV6 or UDP_L4; the ECN bit allowed) held contiguously in
     * {@code in[base, base + length)} into frames of at most {@code gsoSize} payload bytes, each fully
     * checksummed, built one after another in {@code out} (at least {@link NetHeader#MAX_BUFFER_LEN}
     * bytes) behind a zeroed 12-byte virtio header and handed to {@code sink}.
     *
     * @return the number of segments emitted, or -1 when the frame cannot be segmented (UFO, unknown
     *         protocol, IPv6 extension headers, bad lengths, gso_size 0)
     */
    public static int segment(MemorySegment in, long base, int length, int gsoType, int gsoSize, MemorySegment out,
                              SegmentSink sink) {
        if (length < NetHeader.ETH_HLEN + 20 || gsoSize <= 0) {
            return -1;
        }
        int type = gsoType & ~NetHeader.VIRTIO_NET_HDR_GSO_ECN;
        int l3 = NetHeader.ETH_HLEN;
        int ethType = u16(in, base + 12);
        if (ethType == ETH_P_8021Q) {
            l3 += 4;
            ethType = u16(in, base + 16);
        }
        boolean v4 = ethType == ETH_P_IP;
        if (!v4 && ethType != ETH_P_IPV6) {
            return -1;
        }
        int ipHdr;
        int proto;
        if (v4) {
            ipHdr = (in.get(ValueLayout.JAVA_BYTE, base + l3) & 0xF) * 4;
            proto = in.get(ValueLayout.JAVA_BYTE, base + l3 + 9) & 0xFF;
        } else {
            ipHdr = 40;
            proto = in.get(ValueLayout.JAVA_BYTE, base + l3 + 6) & 0xFF;
        }
        if (ipHdr < 20 || l3 + ipHdr + 8 > length) {
            return -1;
        }
        boolean tcp = proto == IPPROTO_TCP;
        if (!tcp && proto != IPPROTO_UDP) {
            return -1;
        }
        boolean ok = switch (type) {
            case NetHeader.VIRTIO_NET_HDR_GSO_TCPV4 -> v4 && tcp;
            case NetHeader.VIRTIO_NET_HDR_GSO_TCPV6 -> !v4 && tcp;
            case NetHeader.VIRTIO_NET_HDR_GSO_UDP_L4 -> !tcp;
            default -> false;
        };
        if (!ok) {
            return -1;
        }
        int l4 = l3 + ipHdr;
        int l4Hdr = tcp ? ((in.get(ValueLayout.JAVA_BYTE, base + l4 + 12) >> 4) & 0xF) * 4 : 8;
        int hdrLen = l4 + l4Hdr;
        if ((tcp && l4Hdr < 20) || hdrLen > length || out.byteSize() < (long) NetHeader.SIZE + length) {
            return -1;
        }
        int payload = length - hdrLen;
        int seq0 = tcp ? in.get(BE32, base + l4 + 4) : 0;
        int id0 = v4 ? u16(in, base + l3 + 4) : 0;
        long pseudo = v4 ? sum(in, base + l3 + 12, 8) : sum(in, base + l3 + 8, 32);
        pseudo += proto;
        int count = 0;
        long o = NetHeader.SIZE;
        for (int off = 0; off < payload || (payload == 0 && count == 0); off += gsoSize) {
            int n = Math.min(gsoSize, payload - off);
            boolean last = off + n >= payload;
            out.asSlice(0, NetHeader.SIZE).fill((byte) 0);
            MemorySegment.copy(in, base, out, o, hdrLen);
            MemorySegment.copy(in, base + hdrLen + off, out, o + hdrLen, n);
            if (v4) {
                out.set(BE16, o + l3 + 2, (short) (ipHdr + l4Hdr + n));
                out.set(BE16, o + l3 + 4, (short) (id0 + count));
                out.set(BE16, o + l3 + 10, (short) 0);
                out.set(BE16, o + l3 + 10, (short) ~fold(sum(out, o + l3, ipHdr)));
            } else {
                out.set(BE16, o + l3 + 4, (short) (l4Hdr + n));
            }
            int l4Len = l4Hdr + n;
            int csumField;
            if (tcp) {
                out.set(BE32, o + l4 + 4, seq0 + off);
                int flags = out.get(ValueLayout.JAVA_BYTE, o + l4 + 13) & 0xFF;
                if (!last) {
                    flags &= ~(TCP_FIN | TCP_PSH);
                }
                if (count > 0) {
                    flags &= ~TCP_CWR;
                }
                out.set(ValueLayout.JAVA_BYTE, o + l4 + 13, (byte) flags);
                csumField = 16;
            } else {
                out.set(BE16, o + l4 + 4, (short) l4Len);
                csumField = 6;
            }
            out.set(BE16, o + l4 + csumField, (short) 0);
            int c = ~fold(pseudo + l4Len + sum(out, o + l4, l4Len)) & 0xFFFF;
            if (!tcp && c == 0) {
                c = 0xFFFF;
            }
            out.set(BE16, o + l4 + csumField, (short) c);
            count++;
            if (!sink.accept(out, 0, NetHeader.SIZE + hdrLen + n)) {
                break;
            }
            if (payload == 0) {
                break;
            }
        }
        return count;
    }

    private static int u16(MemorySegment s, long offset) {
        return Short.toUnsignedInt(s.get(BE16, offset));
    }
}
