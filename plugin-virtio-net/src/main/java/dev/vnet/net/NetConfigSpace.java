package dev.vnet.net;

import dev.vnet.spi.MacAddress;
import dev.vnet.virtio.VirtioFeatures;

/**
 * The device-specific configuration space, {@code struct virtio_net_config} (virtio 1.2, 5.1.4), sized
 * by the offered features as QEMU's {@code feature_sizes[]} does: the structure ends after the last
 * field an offered feature makes valid, never before {@code mac}.
 *
 * <p>Read by the vCPU thread; {@code status} and {@code mac} change from the host thread (link,
 * announce) and the control worker (MAC_ADDR_SET), so every access is synchronized. The driver cannot
 * write anything: with VERSION_1 the MAC is changed through the control queue.
 */
final class NetConfigSpace {

    /** u8 mac[6]. */
    static final int MAC = 0;
    /** le16 status. */
    static final int STATUS = 6;
    /** le16 max_virtqueue_pairs. */
    static final int MAX_VIRTQUEUE_PAIRS = 8;
    /** le16 mtu. */
    static final int MTU = 10;
    /** le32 speed. */
    static final int SPEED = 12;
    /** u8 duplex. */
    static final int DUPLEX = 16;

    static final int VIRTIO_NET_S_LINK_UP = 1;
    static final int VIRTIO_NET_S_ANNOUNCE = 2;

    /** The whole structure; {@link #size} bytes of it are visible. */
    private final byte[] bytes = new byte[DUPLEX + 1];
    private final int visible;

    NetConfigSpace(NetDeviceConfig config, long offered) {
        int size = MAC + 6;
        if (VirtioFeatures.has(offered, NetFeatures.VIRTIO_NET_F_STATUS)) {
            size = Math.max(size, STATUS + 2);
        }
        if (VirtioFeatures.has(offered, NetFeatures.VIRTIO_NET_F_MQ)) {
            size = Math.max(size, MAX_VIRTQUEUE_PAIRS + 2);
        }
        if (VirtioFeatures.has(offered, NetFeatures.VIRTIO_NET_F_MTU)) {
            size = Math.max(size, MTU + 2);
        }
        if (VirtioFeatures.has(offered, NetFeatures.VIRTIO_NET_F_SPEED_DUPLEX)) {
            size = Math.max(size, DUPLEX + 1);
        }
        this.visible = size;
        setMac(config.mac());
        put(MAX_VIRTQUEUE_PAIRS, 2, config.queuePairs());
        put(MTU, 2, config.mtu());
        put(SPEED, 4, config.speedMbps());
        put(DUPLEX, 1, config.duplex().wire);
    }

    int size() {
        return visible;
    }

    /** Little-endian read of 1, 2 or 4 bytes; bytes past the end read as 0, bad sizes read as 0. */
    synchronized int read(int offset, int size) {
        if (offset < 0 || (size != 1 && size != 2 && size != 4)) {
            return 0;
        }
        int v = 0;
        for (int k = 0; k < size; k++) {
            long p = (long) offset + k;
            if (p < visible) {
                v |= (bytes[(int) p] & 0xFF) << (8 * k);
            }
        }
        return v;
    }

    synchronized void setMac(MacAddress mac) {
        byte[] m = mac.toBytes();
        for (int i = 0; i < 6; i++) {
            bytes[MAC + i] = m[i];
        }
    }

    synchronized MacAddress mac() {
        long v = 0;
        for (int i = 0; i < 6; i++) {
            v = (v << 8) | (bytes[MAC + i] & 0xFF);
        }
        return new MacAddress(v);
    }

    /** Sets or clears {@code bits} in {@code status}; returns whether the field changed. */
    synchronized boolean setStatus(int bits, boolean on) {
        int old = status();
        int now = on ? old | bits : old & ~bits;
        put(STATUS, 2, now);
        return now != old;
    }

    synchronized int status() {
        return (bytes[STATUS] & 0xFF) | (bytes[STATUS + 1] & 0xFF) << 8;
    }

    private void put(int offset, int size, int value) {
        for (int k = 0; k < size; k++) {
            bytes[offset + k] = (byte) (value >>> (8 * k));
        }
    }
}
