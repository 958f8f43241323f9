package dev.vnet.net;

import dev.vnet.spi.MacAddress;
import dev.vnet.spi.BackendException;
import dev.vnet.spi.NetBackend;
import dev.vnet.spi.ReadinessListener;
import dev.vnet.virtio.ActivationContext;
import dev.vnet.virtio.DeviceWorker;
import dev.vnet.virtio.FeatureRules;
import dev.vnet.virtio.Virtqueue;
import dev.vnet.virtio.VirtioDevice;
import dev.vnet.virtio.VirtioFeatures;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A virtio-net device (virtio 1.2, 5.1) in front of a {@link NetBackend}.
 *
 * <p>The transport calls the {@link VirtioDevice} methods; the host uses {@link #setLinkUp},
 * {@link #announce}, {@link #stats()} and {@link #close}. Each queue pair has its own platform worker
 * ({@link QueuePairWorker}); the control queue has one more. {@link #queueNotify} only wakes a worker,
 * so nothing the guest does runs on (or throws into) the vCPU thread.
 *
 * <p>Queue layout: rx(i) = 2i, tx(i) = 2i + 1, control = 2N where N is {@code max_virtqueue_pairs}
 * with MQ negotiated, else 1 (5.1.2).
 */
public final class VirtioNetDevice implements VirtioDevice, AutoCloseable {

    /** Virtio device id of a network card. */
    public static final int VIRTIO_ID_NET = 1;

    private static final Logger LOG = LoggerFactory.getLogger(VirtioNetDevice.class);

    private final NetDeviceConfig config;
    private final NetBackend backend;
    private final long offered;
    private final FeatureRules rules;
    private final NetConfigSpace configSpace;
    private final NetStats stats;
    private final RxFilter filter;
    private volatile boolean linkUp;
    private volatile Runnable configChangeListener = () -> { };
    private volatile NetSession session;
    private volatile QueuePairWorker[] pairs = new QueuePairWorker[0];
    private volatile ControlQueue control;
    private volatile DeviceWorker controlWorker;
    private boolean closed;

    /**
     * @throws IllegalArgumentException when the backend cannot serve the configured queue pairs
     */
    public VirtioNetDevice(NetDeviceConfig config, NetBackend backend) {
        this.config = config;
        this.backend = backend;
        if (backend.maxQueuePairs() < config.queuePairs()) {
            throw new IllegalArgumentException("queue-pairs: " + config.queuePairs() + " configured but the backend serves "
                    + backend.maxQueuePairs());
        }
        this.offered = NetFeatures.offered(config, backend);
        this.rules = NetFeatures.rules(offered);
        this.configSpace = new NetConfigSpace(config, offered);
        this.stats = new NetStats(config.queuePairs());
        this.filter = new RxFilter(config.mac(), false);
        this.linkUp = config.linkUp();
        configSpace.setStatus(NetConfigSpace.VIRTIO_NET_S_LINK_UP, linkUp);
        backend.setReadinessListener(new ReadinessListener() {
            @Override
            public void readable(int queue) {
                QueuePairWorker[] p = pairs;
                if (queue >= 0 && queue < p.length && p[queue] != null) {
                    p[queue].wake();
                }
            }

            @Override
            public void writable(int queue) {
                QueuePairWorker[] p = pairs;
                if (queue >= 0 && queue < p.length && p[queue] != null) {
                    p[queue].writable();
                }
            }
        });
        stats.register(config.id());
    }

    public NetDeviceConfig config() {
        return config;
    }

    // ---------------------------------------------------------------- VirtioDevice

    @Override
    public int deviceId() {
        return VIRTIO_ID_NET;
    }

    @Override
    public long offeredFeatures() {
        return offered;
    }

    @Override
    public FeatureRules featureRules() {
        return rules;
    }

    @Override
    public int queueCount() {
        return 2 * config.queuePairs() + 1;
    }

    @Override
    public int queueMaxSize(int index) {
        if (index < 0 || index >= queueCount()) {
            return 0;
        }
        if (index == 2 * config.queuePairs()) {
            return config.ctrlQueueSize();
        }
        return (index & 1) == 0 ? config.rxQueueSize() : config.txQueueSize();
    }

    @Override
    public int configSize() {
        return configSpace.size();
    }

    @Override
    public int readConfig(int offset, int size) {
        return configSpace.read(offset, size);
    }

    /** Every field is read-only for a VERSION_1 driver (the MAC changes through the control queue). */
    @Override
    public void writeConfig(int offset, int size, int value) {
        LOG.debug("{}: ignored config write of {} bytes at {}", config.id(), size, offset);
    }

    @Override
    public void setConfigChangeListener(Runnable listener) {
        configChangeListener = listener == null ? () -> { } : listener;
    }

    @Override
    public synchronized void activate(ActivationContext context) {
        if (session != null) {
            stopWorkers();
        }
        if (!context.has(VirtioFeatures.VIRTIO_F_VERSION_1)) {
            context.errors().guestError("virtio-net needs VIRTIO_F_VERSION_1 (no legacy header layout)");
            return;
        }
        filter.reset(configSpace.mac(), context.has(NetFeatures.VIRTIO_NET_F_CTRL_VLAN));
        NetSession s = new NetSession(context, this, backend, filter, stats, config.queuePairs(), config.mtu());
        Virtqueue[] queues = context.queues();
        try {
            if (backend.vnetHeader()) {
                backend.setOffloads(NetFeatures.rxOffloads(s.guestOffloads) & backend.supportedOffloads());
            }
            backend.setActiveQueues(1);
        } catch (BackendException e) {
            LOG.warn("{}: backend setup failed: {}", config.id(), e.getMessage());
        }
        QueuePairWorker[] workers = new QueuePairWorker[s.maxPairs];
        for (int p = 0; p < s.maxPairs; p++) {
            Virtqueue rxq = queue(queues, 2 * p);
            Virtqueue txq = queue(queues, 2 * p + 1);
            workers[p] = new QueuePairWorker(config.id() + "-pair" + p,
                    txq == null ? null : new TxPath(txq, backend.queue(p), s, stats.tx(p)),
                    rxq == null ? null : new RxPath(p, rxq, backend.queue(p), s, stats.rx(p)),
                    context.errors(), config.busyPollMicros() * 1000L);
        }
        session = s;
        pairs = workers;
        Virtqueue ctrlq = s.ctrlIndex < 0 ? null : queue(queues, s.ctrlIndex);
        if (ctrlq != null) {
            startControl(new ControlQueue(ctrlq, s, stats.ctrl()));
        }
        for (QueuePairWorker w : workers) {
            w.start();
        }
    }

    private static Virtqueue queue(Virtqueue[] queues, int index) {
        return index < queues.length ? queues[index] : null;
    }

    private void startControl(ControlQueue cq) {
        control = cq;
        controlWorker = new DeviceWorker(config.id() + "-ctrl", cq::process, session.context.errors()).start();
        controlWorker.wake();
    }

    private void stopControl() {
        if (controlWorker != null) {
            controlWorker.stop(10, TimeUnit.SECONDS);
            controlWorker = null;
        }
        control = null;
    }

    @Override
    public void queueNotify(int index) {
        NetSession s = session;
        if (s == null || index < 0) {
            return;
        }
        if (index == s.ctrlIndex) {
            stats.ctrl().kick();
            DeviceWorker w = controlWorker;
            if (w != null) {
                w.wake();
            }
            return;
        }
        QueuePairWorker[] p = pairs;
        int pair = index / 2;
        if (pair < p.length) {
            stats.queue(index).kick();
            p[pair].wake();
        }
    }

    @Override
    public synchronized void reset() {
        stopWorkers();
        configSpace.setStatus(NetConfigSpace.VIRTIO_NET_S_ANNOUNCE, false);
        configSpace.setMac(config.mac());
        filter.reset(config.mac(), false);
        try {
            backend.setActiveQueues(1);
        } catch (BackendException e) {
            LOG.warn("{}: backend reset failed: {}", config.id(), e.getMessage());
        }
    }

    private void stopWorkers() {
        for (QueuePairWorker w : pairs) {
            w.stop();
        }
        stopControl();
        pairs = new QueuePairWorker[0];
        session = null;
    }

    @Override
    public boolean supportsQueueReset() {
        return VirtioFeatures.has(offered, VirtioFeatures.VIRTIO_F_RING_RESET);
    }

    @Override
    public synchronized void stopQueue(int index) {
        replaceQueue(index, null);
    }

    @Override
    public synchronized void restartQueue(int index, Virtqueue queue) {
        replaceQueue(index, queue);
    }

    private void replaceQueue(int index, Virtqueue queue) {
        NetSession s = session;
        if (s == null || index < 0) {
            return;
        }
        if (index == s.ctrlIndex) {
            stopControl();
            if (queue != null) {
                startControl(new ControlQueue(queue, s, stats.ctrl()));
            }
            return;
        }
        int p = index / 2;
        if (p >= pairs.length) {
            return;
        }
        QueuePairWorker w = pairs[p];
        w.stop();
        if ((index & 1) == 0) {
            w.setPaths(w.tx(), queue == null ? null : new RxPath(p, queue, backend.queue(p), s, stats.rx(p)));
        } else {
            w.setPaths(queue == null ? null : new TxPath(queue, backend.queue(p), s, stats.tx(p)), w.rx());
        }
        w.start();
    }

    // ---------------------------------------------------------------- host API

    /** Whether the link is up (frames flow). */
    public boolean isLinkUp() {
        return linkUp;
    }

    /**
     * Sets the link state: while down, TX frames and backend frames are dropped and counted. With
     * VIRTIO_NET_F_STATUS offered, the status field follows and the driver gets a configuration change.
     */
    public void setLinkUp(boolean up) {
        linkUp = up;
        if (VirtioFeatures.has(offered, NetFeatures.VIRTIO_NET_F_STATUS)
                && configSpace.setStatus(NetConfigSpace.VIRTIO_NET_S_LINK_UP, up)) {
            configChangeListener.run();
        }
        wakeAll();
    }

    /**
     * Asks the driver to announce itself (gratuitous ARP / unsolicited NA after a migration): sets
     * VIRTIO_NET_S_ANNOUNCE until the driver acknowledges with VIRTIO_NET_CTRL_ANNOUNCE_ACK.
     *
     * @return false when the running driver did not negotiate VIRTIO_NET_F_GUEST_ANNOUNCE
     */
    public boolean announce() {
        NetSession s = session;
        if (s == null || !s.has(NetFeatures.VIRTIO_NET_F_GUEST_ANNOUNCE)) {
            return false;
        }
        if (configSpace.setStatus(NetConfigSpace.VIRTIO_NET_S_ANNOUNCE, true)) {
            configChangeListener.run();
        }
        return true;
    }

    /** Whether an announce request waits for the driver's ACK. */
    public boolean announcePending() {
        return (configSpace.status() & NetConfigSpace.VIRTIO_NET_S_ANNOUNCE) != 0;
    }

    /** The MAC in the config space (the configured one, or what the driver set with MAC_ADDR_SET). */
    public MacAddress mac() {
        return configSpace.mac();
    }

    /** Queue pairs the driver uses now (1 until VQ_PAIRS_SET). */
    public int activeQueuePairs() {
        NetSession s = session;
        return s == null ? 0 : s.activePairs;
    }

    /**
     * Sets the queue pairs in use when the transport, not the control queue, decides it: a vhost-user
     * front-end enables pairs with SET_VRING_ENABLE and handles VQ_PAIRS_SET itself. RX fills only
     * pairs below {@code pairs}; the backend spreads its traffic over as many.
     *
     * @return false when not activated or {@code pairs} is outside 1..max_virtqueue_pairs
     */
    public synchronized boolean setActiveQueuePairs(int pairs) {
        NetSession s = session;
        if (s == null || pairs < 1 || pairs > s.maxPairs) {
            return false;
        }
        if (s.activePairs != pairs) {
            s.activePairs = pairs;
            try {
                backend.setActiveQueues(pairs);
            } catch (BackendException e) {
                LOG.warn("{}: backend could not use {} queue pairs: {}", config.id(), pairs, e.getMessage());
            }
            wakeAll();
        }
        return true;
    }

    /** The features of the running driver, 0 when not activated. */
    public long negotiatedFeatures() {
        NetSession s = session;
        return s == null ? 0 : s.features;
    }

    public NetStats stats() {
        return stats;
    }

    /** Stops the device, unregisters its MBeans and closes the backend; idempotent. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        reset();
        stats.close();
        backend.close();
    }

    // ---------------------------------------------------------------- from the control queue

    boolean ackAnnounce() {
        return configSpace.setStatus(NetConfigSpace.VIRTIO_NET_S_ANNOUNCE, false);
    }

    void setMacFromGuest(MacAddress mac) {
        configSpace.setMac(mac);
        filter.setMac(mac);
    }

    void wakeAll() {
        for (QueuePairWorker w : pairs) {
            w.wake();
        }
    }
}
