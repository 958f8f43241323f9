package dev.vnet.net;

import dev.vnet.spi.NetBackend;
import dev.vnet.virtio.ActivationContext;
import dev.vnet.virtio.VirtioFeatures;
import dev.vnet.virtio.VirtioInterrupt;

/**
 * What one activation negotiated and what the control queue changes while it runs, shared by the
 * queue-pair workers and the control worker. Created at DRIVER_OK, dropped at reset.
 */
final class NetSession {

    final ActivationContext context;
    final long features;
    final boolean mergeable;
    /** Pairs in the queue layout: {@code max_virtqueue_pairs} with MQ, else 1 (virtio 1.2, 5.1.2). */
    final int maxPairs;
    /** The control queue's index (2 * maxPairs), or -1 without CTRL_VQ. */
    final int ctrlIndex;
    final NetBackend backend;
    final RxFilter filter;
    final NetStats stats;
    private final VirtioNetDevice device;
    /**
     * Longest non-GSO frame RX may deliver: with VIRTIO_NET_F_MTU negotiated, mtu + Ethernet header +
     * one VLAN tag (5.1.6.3.2: the device MUST NOT pass larger packets); else {@link NetHeader#MAX_FRAME_LEN}.
     */
    final int rxFrameLimit;
    /** The GUEST_* offload features in force (acked, then as CTRL_GUEST_OFFLOADS_SET changes them). */
    volatile long guestOffloads;
    /** Pairs the driver uses (VQ_PAIRS_SET); RX only fills pairs below this. */
    volatile int activePairs = 1;

    NetSession(ActivationContext context, VirtioNetDevice device, NetBackend backend, RxFilter filter, NetStats stats,
               int configuredPairs, int mtu) {
        this.context = context;
        this.features = context.features();
        this.device = device;
        this.backend = backend;
        this.filter = filter;
        this.stats = stats;
        this.mergeable = has(NetFeatures.VIRTIO_NET_F_MRG_RXBUF);
        this.maxPairs = has(NetFeatures.VIRTIO_NET_F_MQ) ? configuredPairs : 1;
        this.ctrlIndex = has(NetFeatures.VIRTIO_NET_F_CTRL_VQ) ? 2 * maxPairs : -1;
        this.guestOffloads = features & NetFeatures.GUEST_OFFLOADS;
        this.rxFrameLimit = has(NetFeatures.VIRTIO_NET_F_MTU) ? Math.min(mtu + NetHeader.ETH_HLEN + 4,
                NetHeader.MAX_FRAME_LEN) : NetHeader.MAX_FRAME_LEN;
    }

    boolean has(int feature) {
        return VirtioFeatures.has(features, feature);
    }

    boolean linkUp() {
        return device.isLinkUp();
    }

    VirtioInterrupt interrupt() {
        return context.interrupt();
    }

    VirtioNetDevice device() {
        return device;
    }
}
