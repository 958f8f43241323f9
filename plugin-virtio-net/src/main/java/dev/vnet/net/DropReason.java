package dev.vnet.net;

/** Why a frame was dropped, counted per queue in {@link QueueStats}. */
public enum DropReason {
    /** TX: shorter than an Ethernet header (14 bytes). */
    SHORT_FRAME,
    /** TX: longer than {@link NetHeader#MAX_FRAME_LEN}; RX: a non-GSO frame above the negotiated MTU. */
    OVERSIZED,
    /** TX or RX while the host set the link down. */
    LINK_DOWN,
    /** TX: a virtio_net_hdr asking for an offload that was not negotiated or is inconsistent. */
    BAD_HEADER,
    /** RX: the receive filter (promisc/MAC table/VLAN) refused it. */
    FILTERED,
    /** RX: the frame does not fit the guest's buffers (no MRG_RXBUF and a too-small buffer). */
    TOO_BIG,
    /** RX: the backend delivered offloads the driver did not accept and that cannot be completed here. */
    UNSUPPORTED_OFFLOAD,
    /** A {@link dev.vnet.spi.BackendException}. */
    BACKEND_ERROR
}
