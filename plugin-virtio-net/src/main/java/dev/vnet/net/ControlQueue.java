package dev.vnet.net;

import dev.vnet.spi.MacAddress;
import dev.vnet.spi.BackendException;
import dev.vnet.spi.Offloads;
import dev.vnet.virtio.DescriptorChain;
import dev.vnet.virtio.Virtqueue;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The control virtqueue (virtio 1.2, 5.1.6.5): each chain carries {@code u8 class, u8 command}, the
 * command's data, then a device-writable {@code u8 ack}. Every command checks that its class was
 * negotiated and that its data has exactly the expected size; anything else answers VIRTIO_NET_ERR.
 * A chain without the two header bytes or the ack byte is a protocol violation (QEMU: "missing
 * control header") and sets DEVICE_NEEDS_RESET.
 */
final class ControlQueue {

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
    public static final int VIRTIO_NET_CTRL_MQ_VQ_PAIRS_MIN = 1;

    public static final int VIRTIO_NET_CTRL_GUEST_OFFLOADS = 5;
    public static final int VIRTIO_NET_CTRL_GUEST_OFFLOADS_SET = 0;

    private static final Logger LOG = LoggerFactory.getLogger(ControlQueue.class);

    private final Virtqueue vq;
    private final NetSession session;
    private final QueueStats stats;
    private final DescriptorChain chain;

    ControlQueue(Virtqueue vq, NetSession session, QueueStats stats) {
        this.vq = vq;
        this.session = session;
        this.stats = stats;
        this.chain = vq.newChain();
    }

    Virtqueue queue() {
        return vq;
    }

    boolean process() {
        if (vq.isBroken()) {
            return false;
        }
        try {
            while (true) {
                vq.disableNotifications();
                while (vq.pop(chain)) {
                    if (chain.readableLength() < 2 || chain.writableLength() < 1) {
                        vq.fail("control chain " + chain.head() + " lacks the class/command header or the ack byte");
                        return false;
                    }
                    int ack = execute();
                    chain.writeLittleEndian(0, 1, ack);
                    vq.addUsed(chain, 1);
                    if (ack == VIRTIO_NET_OK) {
                        stats.packet(chain.readableLength() - 2);
                    } else {
                        stats.error();
                    }
                }
                if (vq.isBroken() || !vq.enableNotifications()) {
                    return false;
                }
            }
        } catch (IllegalStateException | IndexOutOfBoundsException e) {
            if (vq.memoryAlive() && chain.memoryAlive()) {
                throw e; // a bug, not a vanished region
            }
            vq.fail("guest memory became unavailable: " + e.getMessage());
            return false;
        } finally {
            vq.flushUsed();
            if (vq.needsNotification()) {
                stats.interrupt();
                session.interrupt().queue(vq.index());
            }
        }
    }

    private int execute() {
        int cls = (int) chain.readLittleEndian(0, 1);
        int cmd = (int) chain.readLittleEndian(1, 1);
        long size = chain.readableLength() - 2;
        int ack = switch (cls) {
            case VIRTIO_NET_CTRL_RX -> rx(cmd, size);
            case VIRTIO_NET_CTRL_MAC -> mac(cmd, size);
            case VIRTIO_NET_CTRL_VLAN -> vlan(cmd, size);
            case VIRTIO_NET_CTRL_ANNOUNCE -> announce(cmd, size);
            case VIRTIO_NET_CTRL_MQ -> mq(cmd, size);
            case VIRTIO_NET_CTRL_GUEST_OFFLOADS -> offloads(cmd, size);
            default -> VIRTIO_NET_ERR;
        };
        if (ack != VIRTIO_NET_OK) {
            LOG.debug("control command class {} command {} ({} bytes) refused", cls, cmd, size);
        }
        return ack;
    }

    private long data(long offset, int size) {
        return chain.readLittleEndian(2 + offset, size);
    }

    private int rx(int cmd, long size) {
        if (!session.has(NetFeatures.VIRTIO_NET_F_CTRL_RX) || size != 1) {
            return VIRTIO_NET_ERR;
        }
        boolean extra = session.has(NetFeatures.VIRTIO_NET_F_CTRL_RX_EXTRA);
        switch (cmd) {
            case VIRTIO_NET_CTRL_RX_PROMISC, VIRTIO_NET_CTRL_RX_ALLMULTI -> { }
            case VIRTIO_NET_CTRL_RX_ALLUNI, VIRTIO_NET_CTRL_RX_NOMULTI, VIRTIO_NET_CTRL_RX_NOUNI,
                 VIRTIO_NET_CTRL_RX_NOBCAST -> {
                if (!extra) {
                    return VIRTIO_NET_ERR;
                }
            }
            default -> {
                return VIRTIO_NET_ERR;
            }
        }
        session.filter.setMode(cmd, data(0, 1) != 0);
        return VIRTIO_NET_OK;
    }

    private int mac(int cmd, long size) {
        if (cmd == VIRTIO_NET_CTRL_MAC_ADDR_SET) {
            if (!session.has(NetFeatures.VIRTIO_NET_F_CTRL_MAC_ADDR) || size != 6) {
                return VIRTIO_NET_ERR;
            }
            MacAddress mac = new MacAddress(readMac(0));
            session.device().setMacFromGuest(mac);
            return VIRTIO_NET_OK;
        }
        if (cmd != VIRTIO_NET_CTRL_MAC_TABLE_SET || !session.has(NetFeatures.VIRTIO_NET_F_CTRL_RX)) {
            return VIRTIO_NET_ERR;
        }
        // struct virtio_net_ctrl_mac { le32 entries; u8 macs[entries][6]; } for unicast, then multicast.
        if (size < 4) {
            return VIRTIO_NET_ERR;
        }
        long uniEntries = data(0, 4);
        long uniBytes = uniEntries * 6;
        if (uniBytes > size - 4 - 4) {
            return VIRTIO_NET_ERR;
        }
        long multiAt = 4 + uniBytes;
        long multiEntries = data(multiAt, 4);
        if (multiEntries < 0 || multiEntries * 6 != size - multiAt - 4) {
            return VIRTIO_NET_ERR;
        }
        long[] uni = null;
        int inUse = 0;
        if (uniEntries <= RxFilter.MAC_TABLE_ENTRIES) {
            uni = new long[(int) uniEntries];
            for (int i = 0; i < uni.length; i++) {
                uni[i] = readMac(4 + 6L * i);
            }
            inUse = uni.length;
        }
        long[] multi = null;
        if (multiEntries <= RxFilter.MAC_TABLE_ENTRIES - inUse) {
            multi = new long[(int) multiEntries];
            for (int i = 0; i < multi.length; i++) {
                multi[i] = readMac(multiAt + 4 + 6L * i);
            }
        }
        session.filter.setTables(uni, multi);
        return VIRTIO_NET_OK;
    }

    private long readMac(long offset) {
        long v = 0;
        for (int i = 0; i < 6; i++) {
            v = (v << 8) | data(offset + i, 1);
        }
        return v;
    }

    private int vlan(int cmd, long size) {
        if (!session.has(NetFeatures.VIRTIO_NET_F_CTRL_VLAN) || size != 2
                || (cmd != VIRTIO_NET_CTRL_VLAN_ADD && cmd != VIRTIO_NET_CTRL_VLAN_DEL)) {
            return VIRTIO_NET_ERR;
        }
        int vid = (int) data(0, 2);
        if (vid >= RxFilter.MAX_VLAN) {
            return VIRTIO_NET_ERR;
        }
        session.filter.setVlan(vid, cmd == VIRTIO_NET_CTRL_VLAN_ADD);
        return VIRTIO_NET_OK;
    }

    private int announce(int cmd, long size) {
        if (!session.has(NetFeatures.VIRTIO_NET_F_GUEST_ANNOUNCE) || cmd != VIRTIO_NET_CTRL_ANNOUNCE_ACK
                || size != 0) {
            return VIRTIO_NET_ERR;
        }
        return session.device().ackAnnounce() ? VIRTIO_NET_OK : VIRTIO_NET_ERR;
    }

    private int mq(int cmd, long size) {
        if (!session.has(NetFeatures.VIRTIO_NET_F_MQ) || cmd != VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET || size != 2) {
            return VIRTIO_NET_ERR;
        }
        int pairs = (int) data(0, 2);
        if (pairs < VIRTIO_NET_CTRL_MQ_VQ_PAIRS_MIN || pairs > session.maxPairs) {
            return VIRTIO_NET_ERR;
        }
        try {
            session.backend.setActiveQueues(pairs);
        } catch (BackendException e) {
            LOG.warn("backend refused {} queue pairs: {}", pairs, e.getMessage());
            return VIRTIO_NET_ERR;
        }
        session.activePairs = pairs;
        session.device().wakeAll();
        return VIRTIO_NET_OK;
    }

    private int offloads(int cmd, long size) {
        if (!session.has(NetFeatures.VIRTIO_NET_F_CTRL_GUEST_OFFLOADS) || cmd != VIRTIO_NET_CTRL_GUEST_OFFLOADS_SET
                || size != 8) {
            return VIRTIO_NET_ERR;
        }
        long offloads = data(0, 8);
        long allowed = session.features & NetFeatures.GUEST_OFFLOADS;
        if ((offloads & ~allowed) != 0) {
            return VIRTIO_NET_ERR;
        }
        if (session.backend.vnetHeader()) {
            try {
                session.backend.setOffloads(NetFeatures.rxOffloads(offloads) & session.backend.supportedOffloads());
            } catch (BackendException e) {
                LOG.warn("backend refused offloads {}: {}", Offloads.toString(NetFeatures.rxOffloads(offloads)),
                        e.getMessage());
                return VIRTIO_NET_ERR;
            }
        }
        session.guestOffloads = offloads;
        return VIRTIO_NET_OK;
    }
}
