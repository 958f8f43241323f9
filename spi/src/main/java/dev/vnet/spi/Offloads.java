package dev.vnet.spi;

/**
 * Offload bits a {@link NetBackend} can honour, with the values of Linux's {@code TUN_F_*} so that a TAP
 * backend passes them to {@code TUNSETOFFLOAD} unchanged. On RX they say what the guest accepts
 * (checksum-less or GSO frames); on TX, what the backend takes from the guest with a vnet header.
 */
public final class Offloads {

    /** Partial checksums ({@code VIRTIO_NET_HDR_F_NEEDS_CSUM}). */
    public static final int CSUM = 0x01;
    /** TCPv4 segmentation. */
    public static final int TSO4 = 0x02;
    /** TCPv6 segmentation. */
    public static final int TSO6 = 0x04;
    /** TSO with the ECN (CWR) bit. */
    public static final int TSO_ECN = 0x08;
    /** UDP fragmentation offload. */
    public static final int UFO = 0x10;
    /** UDP segmentation, IPv4. */
    public static final int USO4 = 0x20;
    /** UDP segmentation, IPv6. */
    public static final int USO6 = 0x40;

    public static final int ALL = CSUM | TSO4 | TSO6 | TSO_ECN | UFO | USO4 | USO6;

    private Offloads() {
    }

    /** A readable form such as {@code CSUM|TSO4}, for logs and errors. */
    public static String toString(int offloads) {
        StringBuilder sb = new StringBuilder();
        String[] names = {"CSUM", "TSO4", "TSO6", "TSO_ECN", "UFO", "USO4", "USO6"};
        for (int bit = 0; bit < names.length; bit++) {
            if ((offloads & (1 << bit)) != 0) {
                sb.append(sb.isEmpty() ? "" : "|").append(names[bit]);
            }
        }
        return sb.isEmpty() ? "none" : sb.toString();
    }
}
