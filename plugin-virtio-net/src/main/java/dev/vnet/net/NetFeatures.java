package dev.vnet.net;

import dev.vnet.spi.NetBackend;
import dev.vnet.spi.Offloads;
import dev.vnet.virtio.FeatureRules;
import dev.vnet.virtio.VirtioFeatures;

/**
 * The virtio-net feature bits (virtio 1.2, 5.1.3) with their spec names, what the device offers for a
 * configuration and a backend, and the dependency rules of 5.1.3.1 (as Linux {@code virtnet_validate_features}
 * enforces them on its side).
 */
public final class NetFeatures {

    /** Device handles packets with partial checksum (host TX checksum offload). */
    public static final int VIRTIO_NET_F_CSUM = 0;
    /** Driver handles packets with partial checksum. */
    public static final int VIRTIO_NET_F_GUEST_CSUM = 1;
    /** Control channel offloads reconfiguration. */
    public static final int VIRTIO_NET_F_CTRL_GUEST_OFFLOADS = 2;
    /** Device maximum MTU reporting ({@code mtu} config field). */
    public static final int VIRTIO_NET_F_MTU = 3;
    /** Device has a given MAC address ({@code mac} config field). */
    public static final int VIRTIO_NET_F_MAC = 5;
    public static final int VIRTIO_NET_F_GUEST_TSO4 = 7;
    public static final int VIRTIO_NET_F_GUEST_TSO6 = 8;
    public static final int VIRTIO_NET_F_GUEST_ECN = 9;
    public static final int VIRTIO_NET_F_GUEST_UFO = 10;
    public static final int VIRTIO_NET_F_HOST_TSO4 = 11;
    public static final int VIRTIO_NET_F_HOST_TSO6 = 12;
    public static final int VIRTIO_NET_F_HOST_ECN = 13;
    public static final int VIRTIO_NET_F_HOST_UFO = 14;
    /** Driver can merge receive buffers ({@code num_buffers}). */
    public static final int VIRTIO_NET_F_MRG_RXBUF = 15;
    /** Configuration status field is available. */
    public static final int VIRTIO_NET_F_STATUS = 16;
    public static final int VIRTIO_NET_F_CTRL_VQ = 17;
    public static final int VIRTIO_NET_F_CTRL_RX = 18;
    public static final int VIRTIO_NET_F_CTRL_VLAN = 19;
    public static final int VIRTIO_NET_F_CTRL_RX_EXTRA = 20;
    public static final int VIRTIO_NET_F_GUEST_ANNOUNCE = 21;
    /** Multiqueue with automatic receive steering. */
    public static final int VIRTIO_NET_F_MQ = 22;
    public static final int VIRTIO_NET_F_CTRL_MAC_ADDR = 23;
    public static final int VIRTIO_NET_F_GUEST_USO4 = 54;
    public static final int VIRTIO_NET_F_GUEST_USO6 = 55;
    public static final int VIRTIO_NET_F_HOST_USO = 56;
    /** Device reports speed and duplex. */
    public static final int VIRTIO_NET_F_SPEED_DUPLEX = 63;

    /** Every feature this device knows and may offer (the per-feature switches of {@link NetDeviceConfig}). */
    public static final long ALL = bits(VIRTIO_NET_F_CSUM, VIRTIO_NET_F_GUEST_CSUM, VIRTIO_NET_F_CTRL_GUEST_OFFLOADS,
            VIRTIO_NET_F_MTU, VIRTIO_NET_F_MAC, VIRTIO_NET_F_GUEST_TSO4, VIRTIO_NET_F_GUEST_TSO6,
            VIRTIO_NET_F_GUEST_ECN, VIRTIO_NET_F_GUEST_UFO, VIRTIO_NET_F_HOST_TSO4, VIRTIO_NET_F_HOST_TSO6,
            VIRTIO_NET_F_HOST_ECN, VIRTIO_NET_F_HOST_UFO, VIRTIO_NET_F_MRG_RXBUF, VIRTIO_NET_F_STATUS,
            VIRTIO_NET_F_CTRL_VQ, VIRTIO_NET_F_CTRL_RX, VIRTIO_NET_F_CTRL_VLAN, VIRTIO_NET_F_CTRL_RX_EXTRA,
            VIRTIO_NET_F_GUEST_ANNOUNCE, VIRTIO_NET_F_MQ, VIRTIO_NET_F_CTRL_MAC_ADDR, VIRTIO_NET_F_GUEST_USO4,
            VIRTIO_NET_F_GUEST_USO6, VIRTIO_NET_F_HOST_USO, VIRTIO_NET_F_SPEED_DUPLEX,
            VirtioFeatures.VIRTIO_F_VERSION_1, VirtioFeatures.VIRTIO_F_EVENT_IDX,
            VirtioFeatures.VIRTIO_F_INDIRECT_DESC, VirtioFeatures.VIRTIO_F_RING_RESET);

    /** The features that say what the driver accepts on RX (QEMU's guest offloads mask). */
    public static final long GUEST_OFFLOADS = bits(VIRTIO_NET_F_GUEST_CSUM, VIRTIO_NET_F_GUEST_TSO4,
            VIRTIO_NET_F_GUEST_TSO6, VIRTIO_NET_F_GUEST_ECN, VIRTIO_NET_F_GUEST_UFO, VIRTIO_NET_F_GUEST_USO4,
            VIRTIO_NET_F_GUEST_USO6);

    /** TX offloads that need a backend taking vnet headers (no software segmentation). */
    static final long HOST_GSO = bits(VIRTIO_NET_F_HOST_TSO4, VIRTIO_NET_F_HOST_TSO6, VIRTIO_NET_F_HOST_ECN,
            VIRTIO_NET_F_HOST_UFO, VIRTIO_NET_F_HOST_USO);

    private NetFeatures() {
    }

    public static long bits(int... features) {
        long b = 0;
        for (int f : features) {
            b |= VirtioFeatures.bit(f);
        }
        return b;
    }

    /** Spec name of a feature bit (net or device-independent). */
    public static String name(int bit) {
        return switch (bit) {
            case VIRTIO_NET_F_CSUM -> "VIRTIO_NET_F_CSUM";
            case VIRTIO_NET_F_GUEST_CSUM -> "VIRTIO_NET_F_GUEST_CSUM";
            case VIRTIO_NET_F_CTRL_GUEST_OFFLOADS -> "VIRTIO_NET_F_CTRL_GUEST_OFFLOADS";
            case VIRTIO_NET_F_MTU -> "VIRTIO_NET_F_MTU";
            case VIRTIO_NET_F_MAC -> "VIRTIO_NET_F_MAC";
            case VIRTIO_NET_F_GUEST_TSO4 -> "VIRTIO_NET_F_GUEST_TSO4";
            case VIRTIO_NET_F_GUEST_TSO6 -> "VIRTIO_NET_F_GUEST_TSO6";
            case VIRTIO_NET_F_GUEST_ECN -> "VIRTIO_NET_F_GUEST_ECN";
            case VIRTIO_NET_F_GUEST_UFO -> "VIRTIO_NET_F_GUEST_UFO";
            case VIRTIO_NET_F_HOST_TSO4 -> "VIRTIO_NET_F_HOST_TSO4";
            case VIRTIO_NET_F_HOST_TSO6 -> "VIRTIO_NET_F_HOST_TSO6";
            case VIRTIO_NET_F_HOST_ECN -> "VIRTIO_NET_F_HOST_ECN";
            case VIRTIO_NET_F_HOST_UFO -> "VIRTIO_NET_F_HOST_UFO";
            case VIRTIO_NET_F_MRG_RXBUF -> "VIRTIO_NET_F_MRG_RXBUF";
            case VIRTIO_NET_F_STATUS -> "VIRTIO_NET_F_STATUS";
            case VIRTIO_NET_F_CTRL_VQ -> "VIRTIO_NET_F_CTRL_VQ";
            case VIRTIO_NET_F_CTRL_RX -> "VIRTIO_NET_F_CTRL_RX";
            case VIRTIO_NET_F_CTRL_VLAN -> "VIRTIO_NET_F_CTRL_VLAN";
            case VIRTIO_NET_F_CTRL_RX_EXTRA -> "VIRTIO_NET_F_CTRL_RX_EXTRA";
            case VIRTIO_NET_F_GUEST_ANNOUNCE -> "VIRTIO_NET_F_GUEST_ANNOUNCE";
            case VIRTIO_NET_F_MQ -> "VIRTIO_NET_F_MQ";
            case VIRTIO_NET_F_CTRL_MAC_ADDR -> "VIRTIO_NET_F_CTRL_MAC_ADDR";
            case VIRTIO_NET_F_GUEST_USO4 -> "VIRTIO_NET_F_GUEST_USO4";
            case VIRTIO_NET_F_GUEST_USO6 -> "VIRTIO_NET_F_GUEST_USO6";
            case VIRTIO_NET_F_HOST_USO -> "VIRTIO_NET_F_HOST_USO";
            case VIRTIO_NET_F_SPEED_DUPLEX -> "VIRTIO_NET_F_SPEED_DUPLEX";
            case VirtioFeatures.VIRTIO_F_INDIRECT_DESC -> "VIRTIO_F_INDIRECT_DESC";
            case VirtioFeatures.VIRTIO_F_EVENT_IDX -> "VIRTIO_F_EVENT_IDX";
            case VirtioFeatures.VIRTIO_F_VERSION_1 -> "VIRTIO_F_VERSION_1";
            case VirtioFeatures.VIRTIO_F_ACCESS_PLATFORM -> "VIRTIO_F_ACCESS_PLATFORM";
            case VirtioFeatures.VIRTIO_F_RING_PACKED -> "VIRTIO_F_RING_PACKED";
            case VirtioFeatures.VIRTIO_F_IN_ORDER -> "VIRTIO_F_IN_ORDER";
            case VirtioFeatures.VIRTIO_F_RING_RESET -> "VIRTIO_F_RING_RESET";
            default -> "feature " + bit;
        };
    }

    /** 5.1.3.1 feature dependencies; an offer missing a dependency is closed over by {@link #offered}. */
    public static FeatureRules rules(long offered) {
        return FeatureRules.builder(offered, NetFeatures::name)
                .require(VIRTIO_NET_F_GUEST_TSO4, VIRTIO_NET_F_GUEST_CSUM)
                .require(VIRTIO_NET_F_GUEST_TSO6, VIRTIO_NET_F_GUEST_CSUM)
                .require(VIRTIO_NET_F_GUEST_ECN, VIRTIO_NET_F_GUEST_CSUM)
                .requireAny(VIRTIO_NET_F_GUEST_ECN, VIRTIO_NET_F_GUEST_TSO4, VIRTIO_NET_F_GUEST_TSO6)
                .require(VIRTIO_NET_F_GUEST_UFO, VIRTIO_NET_F_GUEST_CSUM)
                .require(VIRTIO_NET_F_GUEST_USO4, VIRTIO_NET_F_GUEST_CSUM)
                .require(VIRTIO_NET_F_GUEST_USO6, VIRTIO_NET_F_GUEST_CSUM)
                .require(VIRTIO_NET_F_HOST_TSO4, VIRTIO_NET_F_CSUM)
                .require(VIRTIO_NET_F_HOST_TSO6, VIRTIO_NET_F_CSUM)
                .require(VIRTIO_NET_F_HOST_ECN, VIRTIO_NET_F_CSUM)
                .requireAny(VIRTIO_NET_F_HOST_ECN, VIRTIO_NET_F_HOST_TSO4, VIRTIO_NET_F_HOST_TSO6)
                .require(VIRTIO_NET_F_HOST_UFO, VIRTIO_NET_F_CSUM)
                .require(VIRTIO_NET_F_HOST_USO, VIRTIO_NET_F_CSUM)
                .require(VIRTIO_NET_F_CTRL_RX, VIRTIO_NET_F_CTRL_VQ)
                .require(VIRTIO_NET_F_CTRL_VLAN, VIRTIO_NET_F_CTRL_VQ)
                .require(VIRTIO_NET_F_GUEST_ANNOUNCE, VIRTIO_NET_F_CTRL_VQ)
                .require(VIRTIO_NET_F_MQ, VIRTIO_NET_F_CTRL_VQ)
                .require(VIRTIO_NET_F_CTRL_MAC_ADDR, VIRTIO_NET_F_CTRL_VQ)
                .require(VIRTIO_NET_F_CTRL_GUEST_OFFLOADS, VIRTIO_NET_F_CTRL_VQ)
                .require(VIRTIO_NET_F_CTRL_RX_EXTRA, VIRTIO_NET_F_CTRL_RX)
                .build();
    }

    /**
     * What a device with {@code config} offers in front of {@code backend}: the configured switches, minus
     * offloads the backend cannot honour, minus features whose dependencies went away.
     *
     * <p>With a vnet-header backend, each checksum/GSO bit needs the matching {@link Offloads} bit in
     * {@link NetBackend#supportedOffloads()}. Without vnet headers the device completes checksums itself
     * (CSUM stays), but offers no segmentation (HOST_TSO/UFO/USO) and no GUEST_* offloads: such a backend
     * delivers plain frames only.
     */
    public static long offered(NetDeviceConfig config, NetBackend backend) {
        long f = config.features() | VirtioFeatures.bit(VirtioFeatures.VIRTIO_F_VERSION_1);
        if (backend.vnetHeader()) {
            int s = backend.supportedOffloads();
            f = keepIf(f, VIRTIO_NET_F_CSUM, (s & Offloads.CSUM) != 0);
            f = keepIf(f, VIRTIO_NET_F_GUEST_CSUM, (s & Offloads.CSUM) != 0);
            f = keepIf(f, VIRTIO_NET_F_HOST_TSO4, (s & Offloads.TSO4) != 0);
            f = keepIf(f, VIRTIO_NET_F_GUEST_TSO4, (s & Offloads.TSO4) != 0);
            f = keepIf(f, VIRTIO_NET_F_HOST_TSO6, (s & Offloads.TSO6) != 0);
            f = keepIf(f, VIRTIO_NET_F_GUEST_TSO6, (s & Offloads.TSO6) != 0);
            f = keepIf(f, VIRTIO_NET_F_HOST_ECN, (s & Offloads.TSO_ECN) != 0);
            f = keepIf(f, VIRTIO_NET_F_GUEST_ECN, (s & Offloads.TSO_ECN) != 0);
            f = keepIf(f, VIRTIO_NET_F_HOST_UFO, (s & Offloads.UFO) != 0);
            f = keepIf(f, VIRTIO_NET_F_GUEST_UFO, (s & Offloads.UFO) != 0);
            f = keepIf(f, VIRTIO_NET_F_HOST_USO, (s & (Offloads.USO4 | Offloads.USO6))
                    == (Offloads.USO4 | Offloads.USO6));
            f = keepIf(f, VIRTIO_NET_F_GUEST_USO4, (s & Offloads.USO4) != 0);
            f = keepIf(f, VIRTIO_NET_F_GUEST_USO6, (s & Offloads.USO6) != 0);
        } else {
            f &= ~(HOST_GSO | GUEST_OFFLOADS);
        }
        if (config.queuePairs() < 2) {
            f &= ~VirtioFeatures.bit(VIRTIO_NET_F_MQ);
        }
        return rules(f).closeOverDependencies(f);
    }

    /** The {@link Offloads} bits a set of acked GUEST_* features asks the backend to produce on RX. */
    public static int rxOffloads(long guestFeatures) {
        int o = 0;
        if (VirtioFeatures.has(guestFeatures, VIRTIO_NET_F_GUEST_CSUM)) {
            o |= Offloads.CSUM;
        }
        if (VirtioFeatures.has(guestFeatures, VIRTIO_NET_F_GUEST_TSO4)) {
            o |= Offloads.TSO4;
        }
        if (VirtioFeatures.has(guestFeatures, VIRTIO_NET_F_GUEST_TSO6)) {
            o |= Offloads.TSO6;
        }
        if (VirtioFeatures.has(guestFeatures, VIRTIO_NET_F_GUEST_ECN)) {
            o |= Offloads.TSO_ECN;
        }
        if (VirtioFeatures.has(guestFeatures, VIRTIO_NET_F_GUEST_UFO)) {
            o |= Offloads.UFO;
        }
        if (VirtioFeatures.has(guestFeatures, VIRTIO_NET_F_GUEST_USO4)) {
            o |= Offloads.USO4;
        }
        if (VirtioFeatures.has(guestFeatures, VIRTIO_NET_F_GUEST_USO6)) {
            o |= Offloads.USO6;
        }
        return o;
    }

    private static long keepIf(long features, int bit, boolean keep) {
        return keep ? features : features & ~VirtioFeatures.bit(bit);
    }
}
