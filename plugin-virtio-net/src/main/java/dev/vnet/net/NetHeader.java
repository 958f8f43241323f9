package dev.vnet.net;

/**
 * Layout of {@code struct virtio_net_hdr_v1} (virtio 1.2, 5.1.6): 12 bytes, little-endian, in front of
 * every frame on both queues (VERSION_1 makes {@code num_buffers} always present), and Ethernet sizes.
 */
public final class NetHeader {

    /** Header size with VIRTIO_F_VERSION_1 (and what a vnet-header backend carries). */
    public static final int SIZE = 12;
    /** u8 flags. */
    public static final int OFF_FLAGS = 0;
    /** u8 gso_type. */
    public static final int OFF_GSO_TYPE = 1;
    /** le16 hdr_len. */
    public static final int OFF_HDR_LEN = 2;
    /** le16 gso_size. */
    public static final int OFF_GSO_SIZE = 4;
    /** le16 csum_start. */
    public static final int OFF_CSUM_START = 6;
    /** le16 csum_offset. */
    public static final int OFF_CSUM_OFFSET = 8;
    /** le16 num_buffers. */
    public static final int OFF_NUM_BUFFERS = 10;

    public static final int VIRTIO_NET_HDR_F_NEEDS_CSUM = 1;
    public static final int VIRTIO_NET_HDR_F_DATA_VALID = 2;
    public static final int VIRTIO_NET_HDR_F_RSC_INFO = 4;

    public static final int VIRTIO_NET_HDR_GSO_NONE = 0;
    public static final int VIRTIO_NET_HDR_GSO_TCPV4 = 1;
    public static final int VIRTIO_NET_HDR_GSO_UDP = 3;
    public static final int VIRTIO_NET_HDR_GSO_TCPV6 = 4;
    public static final int VIRTIO_NET_HDR_GSO_UDP_L4 = 5;
    public static final int VIRTIO_NET_HDR_GSO_ECN = 0x80;

    /** Ethernet header: destination, source, ethertype. */
    public static final int ETH_HLEN = 14;
    /**
     * The largest frame (without the virtio header) either path carries: what a Linux big-packet RX
     * buffer of 65562 bytes holds after the 12-byte header. Longer TX frames are dropped as oversized.
     */
    public static final int MAX_FRAME_LEN = 65550;
    /** Header plus the largest frame: what RX gathers when the backend cannot tell the next length. */
    public static final int MAX_BUFFER_LEN = SIZE + MAX_FRAME_LEN;

    private NetHeader() {
    }
}
