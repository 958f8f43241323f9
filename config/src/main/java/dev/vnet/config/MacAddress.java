package dev.vnet.config;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.regex.Pattern;

/** A 48-bit Ethernet address. */
public record MacAddress(byte[] octets) {

    private static final Pattern TEXT = Pattern.compile("[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}");

    public MacAddress {
        if (octets.length != 6) {
            throw new IllegalArgumentException("a MAC address has 6 octets");
        }
        octets = octets.clone();
    }

    @Override
    public byte[] octets() {
        return octets.clone();
    }

    /** Parses {@code aa:bb:cc:dd:ee:ff}; null if malformed. */
    public static MacAddress parse(String text) {
        if (!TEXT.matcher(text).matches()) {
            return null;
        }
        return new MacAddress(HexFormat.ofDelimiter(":").parseHex(text));
    }

    /**
     * A stable locally administered unicast address derived from {@code deviceId}: the first 5 bytes of
     * SHA-256 of the id behind the prefix {@code 0x52} (QEMU's 52:54:00 family is locally administered
     * too), so the same id always gets the same MAC and different ids almost never collide.
     */
    public static MacAddress derive(String deviceId) {
        try {
            byte[] h = MessageDigest.getInstance("SHA-256").digest(deviceId.getBytes(StandardCharsets.UTF_8));
            return new MacAddress(new byte[] {0x52, h[0], h[1], h[2], h[3], h[4]});
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    public boolean isMulticast() {
        return (octets[0] & 1) != 0;
    }

    public boolean isLocallyAdministered() {
        return (octets[0] & 2) != 0;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof MacAddress m && java.util.Arrays.equals(octets, m.octets);
    }

    @Override
    public int hashCode() {
        return java.util.Arrays.hashCode(octets);
    }

    @Override
    public String toString() {
        return HexFormat.ofDelimiter(":").formatHex(octets);
    }
}
