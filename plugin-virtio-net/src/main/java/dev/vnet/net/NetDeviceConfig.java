package dev.vnet.net;

import dev.vnet.spi.MacAddress;
import dev.vnet.virtio.QueueConfig;
import dev.vnet.virtio.VirtioFeatures;
import java.util.Objects;

/**
 * What a host configures for one virtio-net device. Immutable; build with {@link #builder}. The checks
 * are QEMU's {@code virtio_net_device_realize} checks, failing with {@link IllegalArgumentException}
 * naming the field and the reason.
 *
 * <p>Queue sizes: QEMU accepts 256..1024 for RX and TX; this device accepts any power of two from
 * {@value #MIN_QUEUE_SIZE} so that tests can run rings small enough to fill, up to the split ring's limit
 * {@value #MAX_QUEUE_SIZE} (virtio 1.2, 2.7), which vhost-user front-ends may pick. The HOCON layer caps
 * pci devices at 1024.
 *
 * @param id           the device's name (JMX, thread names, logs)
 * @param mac          the {@code mac} config field and the default unicast filter
 * @param mtu          the {@code mtu} config field (68..65535), offered with VIRTIO_NET_F_MTU
 * @param speedMbps    the {@code speed} field in Mbit/s, or -1 for unknown (offered with SPEED_DUPLEX)
 * @param duplex       the {@code duplex} field
 * @param queuePairs   {@code max_virtqueue_pairs}; above 1 offers VIRTIO_NET_F_MQ
 * @param rxQueueSize  the largest RX queue size the driver may choose
 * @param txQueueSize  the largest TX queue size
 * @param ctrlQueueSize the largest control queue size
 * @param features     the feature switches: which bits of {@link NetFeatures#ALL} may be offered
 * @param linkUp       the link state at start
 * @param busyPollMicros how long a queue-pair worker busy-polls its queues and backend before parking
 *                     (vhost-net's {@code busyloop_timeout}): 0 (the default) parks at once; more trades a
 *                     CPU per busy pair for fewer notifications and lower latency (0..{@value #MAX_BUSY_POLL_MICROS})
 */
public record NetDeviceConfig(String id, MacAddress mac, int mtu, int speedMbps, Duplex duplex, int queuePairs,
                              int rxQueueSize, int txQueueSize, int ctrlQueueSize, long features, boolean linkUp,
                              int busyPollMicros) {

    /** The {@code duplex} config field values (virtio 1.2, 5.1.4). */
    public enum Duplex {
        HALF(0), FULL(1), UNKNOWN(0xFF);

        final int wire;

        Duplex(int wire) {
            this.wire = wire;
        }
    }

    public static final int MIN_QUEUE_SIZE = 8;
    public static final int MAX_QUEUE_SIZE = QueueConfig.MAX_SIZE;
    /** Upper bound of {@code busyPollMicros}: one second. */
    public static final int MAX_BUSY_POLL_MICROS = 1_000_000;
    /** QEMU's VIRTIO_QUEUE_MAX: 2 * pairs + 1 queues must fit. */
    public static final int MAX_QUEUES = 1024;

    public NetDeviceConfig {
        Objects.requireNonNull(id, "id");
        Objects.requireNonNull(mac, "mac");
        Objects.requireNonNull(duplex, "duplex");
        if (id.isBlank()) {
            throw new IllegalArgumentException("id: must not be blank");
        }
        if (mac.isMulticast()) {
            throw new IllegalArgumentException("mac: " + mac + " is a multicast address");
        }
        if (mtu < 68 || mtu > 65535) {
            throw new IllegalArgumentException("mtu: " + mtu + " is outside 68..65535");
        }
        checkQueueSize("rx-queue-size", rxQueueSize);
        checkQueueSize("tx-queue-size", txQueueSize);
        checkQueueSize("ctrl-queue-size", ctrlQueueSize);
        if (queuePairs < 1 || 2 * queuePairs + 1 > MAX_QUEUES) {
            throw new IllegalArgumentException("queue-pairs: " + queuePairs + " needs " + (2L * queuePairs + 1)
                    + " queues; the limit is " + MAX_QUEUES + " (1.." + (MAX_QUEUES - 1) / 2 + " pairs)");
        }
        if (busyPollMicros < 0 || busyPollMicros > MAX_BUSY_POLL_MICROS) {
            throw new IllegalArgumentException("busy-poll-micros: " + busyPollMicros + " is outside 0.."
                    + MAX_BUSY_POLL_MICROS);
        }
        if ((features & ~NetFeatures.ALL) != 0) {
            throw new IllegalArgumentException("features: unknown bits 0x" + Long.toHexString(features & ~NetFeatures.ALL));
        }
    }

    private static void checkQueueSize(String name, int size) {
        if (size < MIN_QUEUE_SIZE || size > MAX_QUEUE_SIZE || Integer.bitCount(size) != 1) {
            throw new IllegalArgumentException(name + ": " + size + " must be a power of two from " + MIN_QUEUE_SIZE
                    + " to " + MAX_QUEUE_SIZE);
        }
    }

    public boolean has(int feature) {
        return VirtioFeatures.has(features, feature);
    }

    public static Builder builder() {
        return new Builder();
    }

    public Builder toBuilder() {
        Builder b = new Builder();
        b.id = id;
        b.mac = mac;
        b.mtu = mtu;
        b.speedMbps = speedMbps;
        b.duplex = duplex;
        b.queuePairs = queuePairs;
        b.rxQueueSize = rxQueueSize;
        b.txQueueSize = txQueueSize;
        b.ctrlQueueSize = ctrlQueueSize;
        b.features = features;
        b.linkUp = linkUp;
        b.busyPollMicros = busyPollMicros;
        return b;
    }

    /** Defaults: every feature on, MAC 52:54:00:12:34:56, MTU 1500, 10 Gbit/s full duplex, 1 pair, 256-entry queues. */
    public static final class Builder {
        private String id = "net0";
        private MacAddress mac = MacAddress.parse("52:54:00:12:34:56");
        private int mtu = 1500;
        private int speedMbps = 10_000;
        private Duplex duplex = Duplex.FULL;
        private int queuePairs = 1;
        private int rxQueueSize = 256;
        private int txQueueSize = 256;
        private int ctrlQueueSize = 64;
        private long features = NetFeatures.ALL;
        private boolean linkUp = true;
        private int busyPollMicros;

        private Builder() {
        }

        public Builder id(String v) {
            id = v;
            return this;
        }

        public Builder mac(MacAddress v) {
            mac = v;
            return this;
        }

        public Builder mac(String v) {
            mac = MacAddress.parse(v);
            return this;
        }

        public Builder mtu(int v) {
            mtu = v;
            return this;
        }

        public Builder speed(int mbps, Duplex d) {
            speedMbps = mbps;
            duplex = d;
            return this;
        }

        public Builder queuePairs(int v) {
            queuePairs = v;
            return this;
        }

        public Builder queueSizes(int rx, int tx) {
            rxQueueSize = rx;
            txQueueSize = tx;
            return this;
        }

        public Builder ctrlQueueSize(int v) {
            ctrlQueueSize = v;
            return this;
        }

        /** Switches one feature (a {@link NetFeatures} or {@link VirtioFeatures} bit) on or off. */
        public Builder feature(int bit, boolean on) {
            features = on ? features | VirtioFeatures.bit(bit) : features & ~VirtioFeatures.bit(bit);
            return this;
        }

        public Builder disable(int... bits) {
            for (int b : bits) {
                feature(b, false);
            }
            return this;
        }

        /** Replaces the whole switch set. */
        public Builder features(long v) {
            features = v;
            return this;
        }

        public Builder linkUp(boolean v) {
            linkUp = v;
            return this;
        }

        /** Busy-poll time of each queue-pair worker in microseconds; 0 (default) disables busy polling. */
        public Builder busyPollMicros(int v) {
            busyPollMicros = v;
            return this;
        }

        public NetDeviceConfig build() {
            return new NetDeviceConfig(id, mac, mtu, speedMbps, duplex, queuePairs, rxQueueSize, txQueueSize,
                    ctrlQueueSize, features, linkUp, busyPollMicros);
        }
    }
}
