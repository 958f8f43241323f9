package dev.vnet.testkit.net;

/** The Internet checksum (RFC 1071) over byte ranges, with an optional starting sum for pseudo-headers. */
public final class InetChecksum {

    private InetChecksum() {
    }

    /** One's-complement sum of 16-bit big-endian words, not yet folded or inverted. */
    public static long sum(byte[] data, int offset, int length, long initial) {
        long sum = initial;
        int i = offset;
        int end = offset + length;
        for (; i + 1 < end; i += 2) {
            sum += ((data[i] & 0xFF) << 8) | (data[i + 1] & 0xFF);
        }
        if (i < end) {
            sum += (data[i] & 0xFF) << 8;
        }
        return sum;
    }

    /** Folds and inverts a sum into the 16-bit checksum field value. */
    public static int finish(long sum) {
        while ((sum >>> 16) != 0) {
            sum = (sum & 0xFFFF) + (sum >>> 16);
        }
        return (int) (~sum & 0xFFFF);
    }

    public static int of(byte[] data, int offset, int length) {
        return finish(sum(data, offset, length, 0));
    }

    /** The IPv4 pseudo-header sum for a TCP/UDP checksum. */
    public static long pseudoHeader(byte[] ip, int ipOffset, int protocol, int l4Length) {
        long s = sum(ip, ipOffset + 12, 8, 0);
        return s + protocol + l4Length;
    }
}
