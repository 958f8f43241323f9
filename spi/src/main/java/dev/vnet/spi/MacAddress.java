package dev.vnet.spi;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/** A 48-bit Ethernet address held in the low bits of a long, first octet most significant. */
public record MacAddress(long value) {

    public MacAddress {
        if ((value & ~0xFFFF_FFFF_FFFFL) != 0) {
            throw new IllegalArgumentException("a MAC address has 48 bits: 0x" + Long.toHexString(value));
        }
    }

    /**
     * A stable locally administered unicast address derived from {@code seed} (a device id): the first
     * five bytes of SHA-256 of the seed behind the first octet {@code 0x52} (locally administered,
     * unicast, like QEMU's 52:54:00 family). The same id always gets the same MAC.
     */
    public static MacAddress derive(String seed) {
        try {
            byte[] h = MessageDigest.getInstance("SHA-256").digest(seed.getBytes(StandardCharsets.UTF_8));
            return of(new byte[] {0x52, h[0], h[1], h[2], h[3], h[4]});
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Parses {@code 52:54:00:12:34:56} (or with dashes). */
    public static MacAddress parse(String text) {
        String[] parts = text.split("[:-]");
        if (parts.length != 6) {
            throw new IllegalArgumentException("not a MAC address: " + text);
        }
        long v = 0;
        for (String p : parts) {
            if (p.length() != 2) {
                throw new IllegalArgumentException("not a MAC address: " + text);
            }
            v = (v << 8) | HexFormat.fromHexDigits(p);
        }
        return new MacAddress(v);
    }

    public static MacAddress of(byte[] bytes) {
        if (bytes.length != 6) {
            throw new IllegalArgumentException("a MAC address has 6 bytes");
        }
        long v = 0;
        for (byte b : bytes) {
            v = (v << 8) | (b & 0xFF);
        }
        return new MacAddress(v);
    }

    public byte[] toBytes() {
        byte[] b = new byte[6];
        for (int i = 0; i < 6; i++) {
            b[i] = (byte) (value >>> (8 * (5 - i)));
        }
        return b;
    }

    /** Bit 0 of the first octet: group (multicast or broadcast) address. */
    public boolean isMulticast() {
        return (value & (1L << 40)) != 0;
    }

    /** Bit 1 of the first octet: a locally administered address. */
    public boolean isLocallyAdministered() {
        return (value & (1L << 41)) != 0;
    }

    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder(17);
        byte[] b = toBytes();
        for (int i = 0; i < 6; i++) {
            sb.append(i == 0 ? "" : ":").append(HexFormat.of().toHexDigits(b[i]));
        }
        return sb.toString();
    }
}
