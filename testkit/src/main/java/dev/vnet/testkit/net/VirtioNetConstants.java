package dev.vnet.testkit.net;

/**
 * The virtio-net numbers a guest driver uses (virtio 1.2, 5.1; Linux {@code include/uapi/linux/virtio_net.h}),
 * under their spec names. The testkit depends on no plugin, so it keeps its own copy: a device that
 * disagrees with the spec fails the tests instead of sharing the mistake.
 */
public final class VirtioNetConstants {

    private VirtioNetConstants() {
    }

    /** Virtio device id of a network card. */
    public static final int VIRTIO_ID_NET = 1;

    // ---- feature bits (5.1.3) ----
    public static final int VIRTIO_NET_F_CSUM = 0;
    public static final int VIRTIO_NET_F_GUEST_CSUM = 1;
    public static final int VIRTIO_NET_F_CTRL_GUEST_OFFLOADS = 2;
    public static final int VIRTIO_NET_F_MTU = 3;
    public static final int VIRTIO_NET_F_MAC = 5;
    public static final int VIRTIO_NET_F_GUEST_TSO4 = 7;
    public static final int VIRTIO_NET_F_GUEST_TSO6 = 8;
    public static final int VIRTIO_NET_F_GUEST_ECN = 9;
    public static final int VIRTIO_NET_F_GUEST_UFO = 10;
    public static final int VIRTIO_NET_F_HOST_TSO4 = 11;
    public static final int VIRTIO_NET_F_HOST_TSO6 = 12;
    public static final int VIRTIO_NET_F_HOST_ECN = 13;
    public static final int VIRTIO_NET_F_HOST_UFO = 14;
    public static final int VIRTIO_NET_F_MRG_RXBUF = 15;
    public static final int VIRTIO_NET_F_STATUS = 16;
    public static final int VIRTIO_NET_F_CTRL_VQ = 17;
    public static final int VIRTIO_NET_F_CTRL_RX = 18;
    public static final int VIRTIO_NET_F_CTRL_VLAN = 19;
    public static final int VIRTIO_NET_F_CTRL_RX_EXTRA = 20;
    public static final int VIRTIO_NET_F_GUEST_ANNOUNCE = 21;
    public static final int VIRTIO_NET_F_MQ = 22;
    public static final int VIRTIO_NET_F_CTRL_MAC_ADDR = 23;
    public static final int VIRTIO_NET_F_GUEST_USO4 = 54;
    public static final int VIRTIO_NET_F_GUEST_USO6 = 55;
    public static final int VIRTIO_NET_F_HOST_USO = 56;
    public static final int VIRTIO_NET_F_SPEED_DUPLEX = 63;

    // ---- device-independent bits the driver model knows (6) ----
    public static final int VIRTIO_RING_F_INDIRECT_DESC = 28;
    public static final int VIRTIO_RING_F_EVENT_IDX = 29;
    public static final int VIRTIO_F_VERSION_1 = 32;
    public static final int VIRTIO_F_RING_RESET = 40;

    // ---- struct virtio_net_config (5.1.4) ----
    /** u8 mac[6]. */
    public static final int VIRTIO_NET_CONFIG_MAC = 0;
    /** le16 status. */
    public static final int VIRTIO_NET_CONFIG_STATUS = 6;
    /** le16 max_virtqueue_pairs. */
    public static final int VIRTIO_NET_CONFIG_MAX_VIRTQUEUE_PAIRS = 8;
    /** le16 mtu. */
    public static final int VIRTIO_NET_CONFIG_MTU = 10;
    /** le32 speed. */
    public static final int VIRTIO_NET_CONFIG_SPEED = 12;
    /** u8 duplex. */
    public static final int VIRTIO_NET_CONFIG_DUPLEX = 16;
    public static final int VIRTIO_NET_S_LINK_UP = 1;
    public static final int VIRTIO_NET_S_ANNOUNCE = 2;

    // ---- struct virtio_net_hdr_v1 (5.1.6) ----
    /** Header length with VIRTIO_F_VERSION_1. */
    public static final int VIRTIO_NET_HDR_LEN = 12;
    public static final int VIRTIO_NET_HDR_F_NEEDS_CSUM = 1;
    public static final int VIRTIO_NET_HDR_F_DATA_VALID = 2;
    public static final int VIRTIO_NET_HDR_F_RSC_INFO = 4;
    public static final int VIRTIO_NET_HDR_GSO_NONE = 0;
    public static final int VIRTIO_NET_HDR_GSO_TCPV4 = 1;
    public static final int VIRTIO_NET_HDR_GSO_UDP = 3;
    public static final int VIRTIO_NET_HDR_GSO_TCPV6 = 4;
    public static final int VIRTIO_NET_HDR_GSO_UDP_L4 = 5;
    public static final int VIRTIO_NET_HDR_GSO_ECN = 0x80;

    // ---- control virtqueue (5.1.6.5) ----
    public static final int VIRTIO_NET_OK = 0;
    public static final int VIRTIO_NET_ERR = 1;
    public static final int VIRTIO_NET_CTRL_RX = 0;
    public static final int VIRTIO_NET_CTRL_RX_PROMISC = 0;
    public static final int VIRTIO_NET_CTRL_RX_ALLMULTI = 1;
    public static final int VIRTIO_NET_CTRL_RX_ALLUNI = 2;
    public static final int VIRTIO_NET_CTRL_RX_NOMULTI = 3;
    public static final int VIRTIO_NET_CTRL_RX_NOUNI = 4;
    public static final int VIRTIO_NET_CTRL_RX_NOBCAST = 5;
    public static final int VIRTIO_NET_CTRL_MAC = 1;
    public static final int VIRTIO_NET_CTRL_MAC_TABLE_SET = 0;
    public static final int VIRTIO_NET_CTRL_MAC_ADDR_SET = 1;
    public static final int VIRTIO_NET_CTRL_VLAN = 2;
    public static final int VIRTIO_NET_CTRL_VLAN_ADD = 0;
    public static final int VIRTIO_NET_CTRL_VLAN_DEL = 1;
    public static final int VIRTIO_NET_CTRL_ANNOUNCE = 3;
    public static final int VIRTIO_NET_CTRL_ANNOUNCE_ACK = 0;
    public static final int VIRTIO_NET_CTRL_MQ = 4;
    public static final int VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET = 0;
    public static final int VIRTIO_NET_CTRL_MQ_RSS_CONFIG = 1;
    public static final int VIRTIO_NET_CTRL_MQ_VQ_PAIRS_MIN = 1;
    public static final int VIRTIO_NET_CTRL_MQ_VQ_PAIRS_MAX = 0x8000;
    public static final int VIRTIO_NET_CTRL_GUEST_OFFLOADS = 5;
    public static final int VIRTIO_NET_CTRL_GUEST_OFFLOADS_SET = 0;

    // ---- Linux driver sizes ----
    public static final int ETH_HLEN = 14;
    public static final int ETH_DATA_LEN = 1500;
    /** Linux {@code GOOD_PACKET_LEN}: ETH_HLEN + VLAN_HLEN + ETH_DATA_LEN. */
    public static final int GOOD_PACKET_LEN = 1518;
    /** The size Linux gives each mergeable RX buffer for a 1500-byte MTU. */
    public static final int MERGEABLE_BUFFER_LEN = 1536;
    /** A big-packet RX buffer: the header, then pages for a 64 KiB packet (65562 bytes in all). */
    public static final int BIG_BUFFER_LEN = 65562;
    public static final int PAGE_SIZE = 4096;
    /** Linux {@code NAPI_POLL_WEIGHT}. */
    public static final int NAPI_POLL_WEIGHT = 64;
    /** Linux {@code MIN_MTU} (ETH_MIN_MTU). */
    public static final int MIN_MTU = 68;

    /** {@code 1L << bit} for each bit. */
    public static long bits(int... features) {
        long b = 0;
        for (int f : features) {
            b |= 1L << f;
        }
        return b;
    }

    /**
     * The features Linux {@code virtio_net} lists in its feature table (that this model implements), plus
     * the ring features of {@code vring_transport_features} the model supports.
     * {@code VIRTIO_NET_F_CTRL_RX_EXTRA} is not in Linux's table (Windows NetKVM uses it): ask for it with
     * {@link VirtioNetDriver#want}.
     */
    public static final long LINUX_FEATURES = bits(VIRTIO_NET_F_CSUM, VIRTIO_NET_F_GUEST_CSUM, VIRTIO_NET_F_MAC,
            VIRTIO_NET_F_HOST_TSO4, VIRTIO_NET_F_HOST_UFO, VIRTIO_NET_F_HOST_TSO6, VIRTIO_NET_F_HOST_ECN,
            VIRTIO_NET_F_GUEST_TSO4, VIRTIO_NET_F_GUEST_TSO6, VIRTIO_NET_F_GUEST_ECN, VIRTIO_NET_F_GUEST_UFO,
            VIRTIO_NET_F_HOST_USO, VIRTIO_NET_F_GUEST_USO4, VIRTIO_NET_F_GUEST_USO6, VIRTIO_NET_F_MRG_RXBUF,
            VIRTIO_NET_F_STATUS, VIRTIO_NET_F_CTRL_VQ, VIRTIO_NET_F_CTRL_RX, VIRTIO_NET_F_CTRL_VLAN,
            VIRTIO_NET_F_GUEST_ANNOUNCE, VIRTIO_NET_F_MQ, VIRTIO_NET_F_CTRL_MAC_ADDR, VIRTIO_NET_F_MTU,
            VIRTIO_NET_F_CTRL_GUEST_OFFLOADS, VIRTIO_NET_F_SPEED_DUPLEX, VIRTIO_RING_F_INDIRECT_DESC,
            VIRTIO_RING_F_EVENT_IDX, VIRTIO_F_VERSION_1, VIRTIO_F_RING_RESET);

    /** The GUEST_* offloads (what the driver accepts on RX). */
    public static final long GUEST_OFFLOADS = bits(VIRTIO_NET_F_GUEST_CSUM, VIRTIO_NET_F_GUEST_TSO4,
            VIRTIO_NET_F_GUEST_TSO6, VIRTIO_NET_F_GUEST_ECN, VIRTIO_NET_F_GUEST_UFO, VIRTIO_NET_F_GUEST_USO4,
            VIRTIO_NET_F_GUEST_USO6);

    /**
     * 5.1.3.1 dependencies as {feature, required...}: a feature is only acked together with one of its
     * requirements (the first entry for ECN lists the alternatives).
     */
    static final int[][] DEPENDENCIES = {
        {VIRTIO_NET_F_GUEST_TSO4, VIRTIO_NET_F_GUEST_CSUM},
        {VIRTIO_NET_F_GUEST_TSO6, VIRTIO_NET_F_GUEST_CSUM},
        {VIRTIO_NET_F_GUEST_ECN, VIRTIO_NET_F_GUEST_CSUM},
        {VIRTIO_NET_F_GUEST_UFO, VIRTIO_NET_F_GUEST_CSUM},
        {VIRTIO_NET_F_GUEST_USO4, VIRTIO_NET_F_GUEST_CSUM},
        {VIRTIO_NET_F_GUEST_USO6, VIRTIO_NET_F_GUEST_CSUM},
        {VIRTIO_NET_F_HOST_TSO4, VIRTIO_NET_F_CSUM},
        {VIRTIO_NET_F_HOST_TSO6, VIRTIO_NET_F_CSUM},
        {VIRTIO_NET_F_HOST_ECN, VIRTIO_NET_F_CSUM},
        {VIRTIO_NET_F_HOST_UFO, VIRTIO_NET_F_CSUM},
        {VIRTIO_NET_F_HOST_USO, VIRTIO_NET_F_CSUM},
        {VIRTIO_NET_F_CTRL_RX, VIRTIO_NET_F_CTRL_VQ},
        {VIRTIO_NET_F_CTRL_VLAN, VIRTIO_NET_F_CTRL_VQ},
        {VIRTIO_NET_F_GUEST_ANNOUNCE, VIRTIO_NET_F_CTRL_VQ},
        {VIRTIO_NET_F_MQ, VIRTIO_NET_F_CTRL_VQ},
        {VIRTIO_NET_F_CTRL_MAC_ADDR, VIRTIO_NET_F_CTRL_VQ},
        {VIRTIO_NET_F_CTRL_GUEST_OFFLOADS, VIRTIO_NET_F_CTRL_VQ},
        {VIRTIO_NET_F_CTRL_RX_EXTRA, VIRTIO_NET_F_CTRL_RX},
        {VIRTIO_NET_F_GUEST_ECN, VIRTIO_NET_F_GUEST_TSO4, VIRTIO_NET_F_GUEST_TSO6},
        {VIRTIO_NET_F_HOST_ECN, VIRTIO_NET_F_HOST_TSO4, VIRTIO_NET_F_HOST_TSO6},
    };

    /** Drops every feature whose requirement is missing from {@code features}, until nothing changes. */
    public static long closeOverDependencies(long features) {
        long f = features;
        boolean changed = true;
        while (changed) {
            changed = false;
            for (int[] rule : DEPENDENCIES) {
                if ((f & (1L << rule[0])) == 0) {
                    continue;
                }
                boolean met = false;
                for (int i = 1; i < rule.length; i++) {
                    met |= (f & (1L << rule[i])) != 0;
                }
                if (!met) {
                    f &= ~(1L << rule[0]);
                    changed = true;
                }
            }
        }
        return f;
    }
}
