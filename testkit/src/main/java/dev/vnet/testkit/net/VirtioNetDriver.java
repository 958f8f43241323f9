package dev.vnet.testkit.net;

import static dev.vnet.testkit.net.VirtioNetConstants.*;

import dev.vnet.testkit.DriverQueue;
import dev.vnet.testkit.FakeGuestMemory;
import dev.vnet.testkit.net.RxBuffers.RxBuf;
import dev.vnet.testkit.pci.PciInterruptDispatcher;
import dev.vnet.testkit.pci.VirtioPciDriver;
import dev.vnet.testkit.pci.VirtioPciDriver.ProbeException;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * A guest driver model of Linux {@code drivers/net/virtio_net.c}, running on {@link VirtioPciDriver} (the
 * {@code virtio_pci_modern} model), so that every register access, kick and interrupt goes through the
 * real transport. It follows the kernel's order of operations:
 *
 * <ol>
 *   <li>{@link #probe}: {@code virtio_pci_probe}; {@code virtio_dev_probe} with the feature table Linux
 *       has ({@link VirtioNetConstants#LINUX_FEATURES} intersected with the device's offer, minus the
 *       knobs {@link #without}, plus {@link #want}); {@code virtnet_validate} (MTU below 68 drops
 *       VIRTIO_NET_F_MTU; a feature whose requirement is missing is not acked); FEATURES_OK; the config
 *       reads of {@code virtnet_probe} (mac, status, max_virtqueue_pairs, mtu, each under the
 *       {@code config_generation} retry of {@code virtio_cread}); {@code virtnet_find_vqs} with rx(i) = 2i,
 *       tx(i) = 2i + 1 and the control queue last; DRIVER_OK.</li>
 *   <li>{@link #open}: {@code virtnet_set_queues} (VQ_PAIRS_SET with MQ) and {@code try_fill_recv} on
 *       every pair in use.</li>
 *   <li>RX buffers as Linux shapes them ({@link RxMode}): mergeable buffers of 1536 bytes with MRG_RXBUF;
 *       big packets (a header descriptor, then pages for 64 KiB) when a GUEST_TSO/ECN/UFO/USO feature was
 *       negotiated or the MTU is above 1500; otherwise small buffers (header + 1518 bytes).</li>
 *   <li>{@link #receive}: NAPI. A callback (MSI-X message, or INTx + ISR read) schedules the poll; the
 *       poll disables callbacks, takes up to {@link VirtioNetConstants#NAPI_POLL_WEIGHT} packets, refills
 *       when more than half of the ring's budget is free, and re-enables callbacks
 *       ({@code virtqueue_napi_complete}: polls again if buffers were used meanwhile). The driver never
 *       looks at the used ring without a callback, so a device that forgets an interrupt fails.</li>
 *   <li>{@link #send}: {@code start_xmit}: free old buffers with callbacks off and re-arm them with
 *       {@code virtqueue_enable_cb_delayed} (with EVENT_IDX, an interrupt only after 3/4 of the
 *       outstanding buffers); then the 12-byte header with the frame in one sg entry, or the header in
 *       its own ({@link #headerInOwnSg}); kick when the device asks. {@link #awaitTxDone} is
 *       {@code virtnet_poll_tx}.</li>
 *   <li>{@link #command}: {@code virtnet_send_command}: out {class, cmd}, out data, in ack; kick; spin on
 *       {@code virtqueue_get_buf}.</li>
 *   <li>{@link #configChanged}: {@code virtnet_config_changed_work}: status, link, ANNOUNCE_ACK.</li>
 * </ol>
 *
 * <p>Single-threaded, like the driver under its locks. RX length errors are counted and dropped as Linux
 * does ({@link #rxErrors}).
 *
 * <pre>{@code
 * VirtioPciDriver pci = VirtioPciDriver.plug(function, memory);
 * VirtioNetDriver net = new VirtioNetDriver(pci).without(VIRTIO_NET_F_MRG_RXBUF).probe().open();
 * net.send(0, frame);
 * VirtioNetDriver.Received r = net.receive(0, Duration.ofSeconds(5));
 * int ack = net.command(VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC, new byte[] {0});
 * }</pre>
 */
public final class VirtioNetDriver {

    /** How RX buffers are shaped (Linux {@code add_recvbuf_mergeable/big/small}). */
    public enum RxMode { MERGEABLE, BIG, SMALL }

    /** One received packet: the 12-byte header, the frame, and how many buffers held it. */
    public record Received(byte[] header, byte[] frame, int buffers) {
        public int flags() {
            return header[0] & 0xFF;
        }

        public int gsoType() {
            return header[1] & 0xFF;
        }

        public int hdrLen() {
            return le16(header, 2);
        }

        public int gsoSize() {
            return le16(header, 4);
        }

        public int csumStart() {
            return le16(header, 6);
        }

        public int csumOffset() {
            return le16(header, 8);
        }

        public int numBuffers() {
            return le16(header, 10);
        }
    }

    private final VirtioPciDriver pci;
    private final FakeGuestMemory mem;
    private final PciInterruptDispatcher irq;

    // knobs
    private long wanted = LINUX_FEATURES;
    private boolean headerInOwnSg;
    private boolean refill = true;
    private int maxBigBuffers = 16;
    private int napiWeight = NAPI_POLL_WEIGHT;

    // probe results
    private long features;
    private byte[] mac = new byte[6];
    private int maxPairs = 1;
    private int mtu = ETH_DATA_LEN;
    private int status = VIRTIO_NET_S_LINK_UP;
    private boolean linkUp = true;
    private RxMode mode;
    private int ctrlIndex = -1;
    private int curPairs;

    // per pair
    private ArrayDeque<Received>[] backlog;
    private RxBuffers[] rxBuffers;
    private int[] rxOutstanding;
    private long[] rxHandled;
    private boolean[] napiScheduled;
    private final TxBuffers txBuffers;
    private List<Integer>[] txCompleted;

    private final ControlBuffer ctrl;
    private long configHandled;
    private long announces;
    private long rxErrors;
    private String lastRxError;

    public VirtioNetDriver(VirtioPciDriver pci) {
        this.pci = pci;
        this.mem = pci.memory();
        this.irq = pci.interrupts();
        this.txBuffers = new TxBuffers(mem);
        this.ctrl = new ControlBuffer(mem);
    }

    // ------------------------------------------------------------------ knobs (before probe)

    /** Do not ack these features even when the device offers them (and what depends on them). */
    public VirtioNetDriver without(int... featureBits) {
        wanted &= ~bits(featureBits);
        return this;
    }

    /** Also ack these features beyond Linux's table (e.g. VIRTIO_NET_F_CTRL_RX_EXTRA, as NetKVM does). */
    public VirtioNetDriver want(int... featureBits) {
        wanted |= bits(featureBits);
        return this;
    }

    /** Replaces the wanted set (still intersected with the offer and closed over dependencies). */
    public VirtioNetDriver wanted(long featureMask) {
        wanted = featureMask;
        return this;
    }

    /** TX puts the header in its own sg entry (Linux without headroom) instead of in front of the frame. */
    public VirtioNetDriver headerInOwnSg(boolean own) {
        headerInOwnSg = own;
        return this;
    }

    /**
     * Whether the NAPI poll refills the RX ring (Linux always does; off lets a test hold the ring empty
     * to see backpressure). {@link #fillRx} still works.
     */
    public VirtioNetDriver refill(boolean on) {
        refill = on;
        return this;
    }

    /** In big-packet mode, post at most this many 64 KiB buffers per ring (keeps fake RAM small). */
    public VirtioNetDriver maxBigBuffers(int n) {
        maxBigBuffers = n;
        return this;
    }

    /** The NAPI budget per poll. */
    public VirtioNetDriver napiWeight(int weight) {
        napiWeight = weight;
        return this;
    }

    // ------------------------------------------------------------------ probe

    /** The whole of {@code virtnet_probe} up to DRIVER_OK. */
    @SuppressWarnings("unchecked")
    public VirtioNetDriver probe() {
        int id = pci.probe();
        if (id != VIRTIO_ID_NET) {
            throw new ProbeException("not a network device: virtio id " + id);
        }
        pci.addStatus(VirtioPciDriver.VIRTIO_CONFIG_S_DRIVER);
        long device = pci.readDeviceFeatures();
        long f = device & wanted;
        // virtnet_validate
        if ((f & bits(VIRTIO_NET_F_MTU)) != 0 && cread(VIRTIO_NET_CONFIG_MTU, 2) < MIN_MTU) {
            f &= ~bits(VIRTIO_NET_F_MTU);
        }
        f = closeOverDependencies(f);
        if ((f & bits(VIRTIO_F_VERSION_1)) == 0) {
            throw new ProbeException("device uses modern interface but does not have VIRTIO_F_VERSION_1");
        }
        pci.writeDriverFeatures(f);
        if (!pci.featuresOk()) {
            throw new ProbeException("device refused FEATURES_OK for " + Long.toHexString(f));
        }
        features = f;
        // virtnet_probe: config
        if (has(VIRTIO_NET_F_MAC)) {
            mac = readMac();
        } else {
            mac = new byte[] {0x02, 0, 0, 0, 0, 1}; // eth_hw_addr_random: locally administered
        }
        maxPairs = 1;
        if (has(VIRTIO_NET_F_MQ)) {
            int n = cread(VIRTIO_NET_CONFIG_MAX_VIRTQUEUE_PAIRS, 2);
            if (n >= VIRTIO_NET_CTRL_MQ_VQ_PAIRS_MIN && n <= VIRTIO_NET_CTRL_MQ_VQ_PAIRS_MAX) {
                maxPairs = n;
            }
        }
        if (has(VIRTIO_NET_F_MTU)) {
            mtu = cread(VIRTIO_NET_CONFIG_MTU, 2);
        }
        boolean big = (features & bits(VIRTIO_NET_F_GUEST_TSO4, VIRTIO_NET_F_GUEST_TSO6, VIRTIO_NET_F_GUEST_ECN,
                VIRTIO_NET_F_GUEST_UFO, VIRTIO_NET_F_GUEST_USO4, VIRTIO_NET_F_GUEST_USO6)) != 0
                || (has(VIRTIO_NET_F_MTU) && mtu > ETH_DATA_LEN);
        mode = has(VIRTIO_NET_F_MRG_RXBUF) ? RxMode.MERGEABLE : big ? RxMode.BIG : RxMode.SMALL;
        ctrlIndex = has(VIRTIO_NET_F_CTRL_VQ) ? 2 * maxPairs : -1;
        backlog = new ArrayDeque[maxPairs];
        rxBuffers = new RxBuffers[maxPairs];
        txCompleted = new List[maxPairs];
        for (int p = 0; p < maxPairs; p++) {
            backlog[p] = new ArrayDeque<>();
            rxBuffers[p] = new RxBuffers(mem, mode);
            txCompleted[p] = new ArrayList<>();
        }
        rxOutstanding = new int[maxPairs];
        rxHandled = new long[maxPairs];
        napiScheduled = new boolean[maxPairs];
        // virtnet_find_vqs
        pci.findVqs(2 * maxPairs + (ctrlIndex >= 0 ? 1 : 0));
        pci.driverOk();
        configHandled = irq.configCallbacks();
        if (has(VIRTIO_NET_F_STATUS)) {
            status = cread(VIRTIO_NET_CONFIG_STATUS, 2);
            linkUp = (status & VIRTIO_NET_S_LINK_UP) != 0;
        }
        return this;
    }

    /** {@code virtnet_open} with every pair the device has. */
    public VirtioNetDriver open() {
        return open(maxPairs);
    }

    /** {@code virtnet_set_queues(pairs)} then {@code try_fill_recv} on each pair in use. */
    public VirtioNetDriver open(int pairs) {
        curPairs = 1;
        if (has(VIRTIO_NET_F_MQ)) {
            int ack = setQueuePairs(pairs);
            if (ack != VIRTIO_NET_OK) {
                throw new ProbeException("VQ_PAIRS_SET " + pairs + " refused");
            }
        }
        for (int p = 0; p < curPairs; p++) {
            fillRx(p);
        }
        return this;
    }

    /** {@code virtnet_remove}: reset the device, free the queues and vectors. */
    public void remove() {
        pci.reset();
        pci.delVqs();
    }

    // ------------------------------------------------------------------ config space

    /** {@code virtio_cread}: a field read under the {@code config_generation} retry loop. */
    public int cread(int offset, int size) {
        while (true) {
            int gen = pci.configGeneration();
            int v = (int) pci.readDeviceConfig(offset, size);
            if (gen == pci.configGeneration()) {
                return v;
            }
        }
    }

    /** {@code virtio_cread_bytes} of the MAC, byte by byte, under one generation. */
    public byte[] readMac() {
        while (true) {
            int gen = pci.configGeneration();
            byte[] m = new byte[6];
            for (int i = 0; i < 6; i++) {
                m[i] = (byte) pci.readDeviceConfig(VIRTIO_NET_CONFIG_MAC + i, 1);
            }
            if (gen == pci.configGeneration()) {
                return m;
            }
        }
    }

    /** The status field (VIRTIO_NET_S_*), read now. */
    public int readStatus() {
        return cread(VIRTIO_NET_CONFIG_STATUS, 2);
    }

    /**
     * {@code virtnet_config_changed_work}: reads the status; on ANNOUNCE notifies peers (counted) and sends
     * ANNOUNCE_ACK; updates the link state. Call it after a configuration callback.
     */
    public void configChanged() {
        configHandled = irq.configCallbacks();
        if (!has(VIRTIO_NET_F_STATUS)) {
            return;
        }
        int v = readStatus();
        status = v;
        if ((v & VIRTIO_NET_S_ANNOUNCE) != 0) {
            announces++;
            if (has(VIRTIO_NET_F_GUEST_ANNOUNCE)) {
                command(VIRTIO_NET_CTRL_ANNOUNCE, VIRTIO_NET_CTRL_ANNOUNCE_ACK, new byte[0]);
            }
        }
        linkUp = (v & VIRTIO_NET_S_LINK_UP) != 0;
    }

    /**
     * Waits for a configuration callback not yet handled, then runs {@link #configChanged}.
     *
     * @return false when none came within {@code timeout}
     */
    public boolean awaitConfigChange(Duration timeout) {
        if (!pci.awaitConfigInterrupts(configHandled + 1, timeout)) {
            return false;
        }
        configChanged();
        return true;
    }

    // ------------------------------------------------------------------ RX

    /** {@code try_fill_recv}: posts buffers until the ring is full (or the big-buffer cap), then kicks. */
    public int fillRx(int pair) {
        DriverQueue q = pci.queue(rxq(pair));
        int added = 0;
        while (mode != RxMode.BIG || rxOutstanding[pair] < maxBigBuffers) {
            RxBuf b = rxBuffers[pair].take();
            if (q.add(List.of(), b.sgs(), b) < 0) {
                rxBuffers[pair].recycle(b);
                break;
            }
            rxOutstanding[pair]++;
            added++;
        }
        if (q.kickPrepare()) {
            pci.kick(rxq(pair));
        }
        return added;
    }

    /**
     * The next received packet of {@code pair}, NAPI style; null when none arrives within {@code timeout}.
     * Only a callback for the RX queue (or a poll that was rescheduled) looks at the used ring.
     */
    public Received receive(int pair, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        int rxq = rxq(pair);
        while (true) {
            Received r = backlog[pair].poll();
            if (r != null) {
                return r;
            }
            long callbacks = irq.queueCallbacks(rxq);
            if (napiScheduled[pair] || callbacks > rxHandled[pair]) {
                rxHandled[pair] = callbacks;
                napiScheduled[pair] = napiPoll(pair);
                continue;
            }
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                return null;
            }
            pci.awaitInterrupts(rxq, callbacks + 1, Duration.ofNanos(left));
        }
    }

    /** {@code virtnet_poll}: returns whether NAPI stays scheduled (budget used up or more work came). */
    private boolean napiPoll(int pair) {
        DriverQueue q = pci.queue(rxq(pair));
        q.disableCb();
        int done = 0;
        DriverQueue.Used u;
        while (done < napiWeight && (u = q.getBuf()) != null) {
            receiveBuf(pair, q, u);
            done++;
        }
        if (refill) {
            int capacity = mode == RxMode.BIG ? Math.min(maxBigBuffers, q.size()) : q.size();
            if (capacity - rxOutstanding[pair] > Math.min(napiWeight, capacity) / 2) {
                fillRx(pair);
            }
        }
        if (done < napiWeight) {
            return !q.enableCb();
        }
        return true;
    }

    /** {@code receive_buf}: one packet from one used buffer (plus more with MRG_RXBUF). */
    private void receiveBuf(int pair, DriverQueue q, DriverQueue.Used first) {
        RxBuf b = (RxBuf) first.token();
        rxOutstanding[pair]--;
        int len = first.length();
        if (len < VIRTIO_NET_HDR_LEN + ETH_HLEN) {
            rxError("rx error: len " + len + " less than header + Ethernet header");
            rxBuffers[pair].recycle(b);
            return;
        }
        if (len > b.capacity()) {
            rxError("rx error: len " + len + " exceeds the buffer's " + b.capacity());
            rxBuffers[pair].recycle(b);
            return;
        }
        byte[] all = rxBuffers[pair].gather(b, len);
        rxBuffers[pair].recycle(b);
        byte[] header = Arrays.copyOf(all, VIRTIO_NET_HDR_LEN);
        ByteArrayOutputStream frame = new ByteArrayOutputStream(len);
        frame.write(all, VIRTIO_NET_HDR_LEN, len - VIRTIO_NET_HDR_LEN);
        int buffers = 1;
        if (mode == RxMode.MERGEABLE) {
            int num = le16(header, 10);
            if (num < 1) {
                rxError("rx error: num_buffers " + num);
                return;
            }
            for (int i = 1; i < num; i++) {
                DriverQueue.Used next = q.getBuf();
                if (next == null) {
                    rxError("rx error: " + (num - i) + " buffers out of " + num + " missing");
                    return;
                }
                RxBuf nb = (RxBuf) next.token();
                rxOutstanding[pair]--;
                if (next.length() > nb.capacity()) {
                    rxError("rx error: len " + next.length() + " exceeds the buffer's " + nb.capacity());
                    rxBuffers[pair].recycle(nb);
                    return;
                }
                frame.writeBytes(rxBuffers[pair].gather(nb, next.length()));
                rxBuffers[pair].recycle(nb);
                buffers++;
            }
        } else if (mode == RxMode.SMALL && len - VIRTIO_NET_HDR_LEN > GOOD_PACKET_LEN) {
            rxError("rx error: len " + (len - VIRTIO_NET_HDR_LEN) + " > " + GOOD_PACKET_LEN);
            return;
        }
        backlog[pair].add(new Received(header, frame.toByteArray(), buffers));
    }

    private void rxError(String message) {
        rxErrors++;
        lastRxError = message;
    }

    // ------------------------------------------------------------------ TX

    /** A frame with an all-zero header. */
    public int send(int pair, byte[] frame) {
        return send(pair, new byte[VIRTIO_NET_HDR_LEN], frame, headerInOwnSg);
    }

    /** A frame with {@code header}, shaped by {@link #headerInOwnSg}. */
    public int send(int pair, byte[] header, byte[] frame) {
        return send(pair, header, frame, headerInOwnSg);
    }

    /**
     * {@code start_xmit}: {@code free_old_xmit}, then {@code xmit_skb} (header and frame in one sg entry, or
     * two with {@code headerOwnSg}), then kick if the device asks.
     *
     * @return the head index, or -28 (-ENOSPC) when the ring is full
     */
    public int send(int pair, byte[] header, byte[] frame, boolean headerOwnSg) {
        DriverQueue q = pci.queue(txq(pair));
        do { // start_xmit with NAPI TX: free old buffers with callbacks off, then re-arm them delayed
            q.disableCb();
            reclaimTx(pair);
        } while (!q.enableCbDelayed());
        int r = txBuffers.add(q, header, frame, headerOwnSg);
        if (r < 0) {
            return r;
        }
        if (q.kickPrepare()) {
            pci.kick(txq(pair));
        }
        return r;
    }

    /** {@code free_old_xmit}: takes back transmitted buffers; returns their used lengths. */
    public List<Integer> reclaimTx(int pair) {
        List<Integer> lengths = txBuffers.reclaim(pci.queue(txq(pair)));
        txCompleted[pair].addAll(lengths);
        return lengths;
    }

    /**
     * Waits (on TX callbacks) until every TX buffer of {@code pair} came back; returns the used lengths of
     * all buffers reclaimed since the last call.
     *
     * @throws IllegalStateException when buffers are still out after {@code timeout}
     */
    public List<Integer> awaitTxDone(int pair, Duration timeout) {
        DriverQueue q = pci.queue(txq(pair));
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            long callbacks = irq.queueCallbacks(txq(pair));
            q.disableCb(); // virtnet_poll_tx
            reclaimTx(pair);
            boolean more = !q.enableCb();
            if (q.numFree() == q.size()) {
                List<Integer> lengths = List.copyOf(txCompleted[pair]);
                txCompleted[pair].clear();
                return lengths;
            }
            if (more) {
                continue;
            }
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                throw new IllegalStateException("TX buffers of pair " + pair + " not returned: "
                        + (q.size() - q.numFree()) + " descriptors out");
            }
            pci.awaitInterrupts(txq(pair), callbacks + 1, Duration.ofNanos(left));
        }
    }

    // ------------------------------------------------------------------ control

    /**
     * {@code virtnet_send_command}: out = {class, cmd}, out = data (when not empty), in = 1-byte ack; kick,
     * then spin on {@code virtqueue_get_buf} as Linux does.
     *
     * @return the ack byte (VIRTIO_NET_OK = 0)
     * @throws IllegalStateException when no control queue was negotiated or the device never answers
     */
    public int command(int cls, int cmd, byte[] data) {
        if (ctrlIndex < 0) {
            throw new IllegalStateException("no control queue negotiated");
        }
        DriverQueue q = pci.queue(ctrlIndex);
        if (ctrl.add(q, cls, cmd, data) < 0) {
            throw new IllegalStateException("control queue full");
        }
        if (q.kickPrepare()) {
            pci.kick(ctrlIndex);
        }
        long deadline = System.nanoTime() + Duration.ofSeconds(5).toNanos();
        while (q.getBuf() == null) {
            if (System.nanoTime() > deadline || needsReset()) {
                throw new IllegalStateException("control command " + cls + "/" + cmd + " not answered"
                        + (needsReset() ? " (device needs reset)" : ""));
            }
            Thread.onSpinWait();
        }
        return ctrl.ack();
    }

    /** VIRTIO_NET_CTRL_RX_PROMISC. */
    public int setPromisc(boolean on) {
        return command(VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC, new byte[] {(byte) (on ? 1 : 0)});
    }

    /** VIRTIO_NET_CTRL_RX_ALLMULTI. */
    public int setAllmulti(boolean on) {
        return command(VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_ALLMULTI, new byte[] {(byte) (on ? 1 : 0)});
    }

    /**
     * {@code virtnet_set_rx_mode}: PROMISC, ALLMULTI, then MAC_TABLE_SET with the unicast and multicast
     * lists. Returns the first non-OK ack, or OK.
     */
    public int setRxMode(boolean promisc, boolean allmulti, List<byte[]> unicast, List<byte[]> multicast) {
        int a = setPromisc(promisc);
        int b = setAllmulti(allmulti);
        int c = command(VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_TABLE_SET, macTable(unicast, multicast));
        return a != VIRTIO_NET_OK ? a : b != VIRTIO_NET_OK ? b : c;
    }

    /** {@code virtnet_set_mac_address}: MAC_ADDR_SET with CTRL_MAC_ADDR. */
    public int setMacAddress(byte[] address) {
        int ack = command(VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_ADDR_SET, address);
        if (ack == VIRTIO_NET_OK && address.length == 6) {
            mac = address.clone();
        }
        return ack;
    }

    public int vlanAdd(int vid) {
        return command(VIRTIO_NET_CTRL_VLAN, VIRTIO_NET_CTRL_VLAN_ADD, le16(vid));
    }

    public int vlanDel(int vid) {
        return command(VIRTIO_NET_CTRL_VLAN, VIRTIO_NET_CTRL_VLAN_DEL, le16(vid));
    }

    public int ackAnnounce() {
        return command(VIRTIO_NET_CTRL_ANNOUNCE, VIRTIO_NET_CTRL_ANNOUNCE_ACK, new byte[0]);
    }

    /** {@code virtnet_set_guest_offloads}. */
    public int setGuestOffloads(long offloads) {
        return command(VIRTIO_NET_CTRL_GUEST_OFFLOADS, VIRTIO_NET_CTRL_GUEST_OFFLOADS_SET, le64(offloads));
    }

    /**
     * {@code _virtnet_set_queues}: VQ_PAIRS_SET; on OK the driver uses {@code pairs} pairs and fills the RX
     * rings of pairs that were not in use (the refill work).
     */
    public int setQueuePairs(int pairs) {
        int ack = command(VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, le16(pairs));
        if (ack == VIRTIO_NET_OK) {
            int old = curPairs;
            curPairs = pairs;
            for (int p = old; p < pairs; p++) {
                if (rxOutstanding[p] == 0) {
                    fillRx(p);
                }
            }
        }
        return ack;
    }

    // ------------------------------------------------------------------ queue reset (VIRTIO_F_RING_RESET)

    /**
     * {@code virtnet_rx_resize} at the same size: {@code vp_modern_disable_vq_and_reset}, drop the buffers
     * the device never used, set the ring up again, {@code vp_modern_enable_vq_after_reset}, refill.
     */
    public void resetRxQueue(int pair) {
        disableRxQueue(pair);
        enableRxQueue(pair);
    }

    /** The first half of {@link #resetRxQueue}: the queue is reset and its unused buffers dropped. */
    public void disableRxQueue(int pair) {
        pci.resetQueue(rxq(pair));
        rxBuffers[pair].clear();
        rxOutstanding[pair] = 0;
        backlog[pair].clear();
        napiScheduled[pair] = false;
    }

    /** The second half of {@link #resetRxQueue}: a fresh ring, enabled and filled. */
    public void enableRxQueue(int pair) {
        pci.reenableQueue(rxq(pair));
        fillRx(pair);
    }

    /** {@code virtnet_tx_resize} at the same size: reset, forget unsent buffers, set up again. */
    public void resetTxQueue(int pair) {
        pci.resetQueue(txq(pair));
        txCompleted[pair].clear();
        pci.reenableQueue(txq(pair));
    }

    // ------------------------------------------------------------------ helpers and state

    public static int rxq(int pair) {
        return 2 * pair;
    }

    public static int txq(int pair) {
        return 2 * pair + 1;
    }

    public static byte[] le16(int v) {
        return ByteBuffer.allocate(2).order(ByteOrder.LITTLE_ENDIAN).putShort((short) v).array();
    }

    public static byte[] le64(long v) {
        return ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(v).array();
    }

    static int le16(byte[] b, int offset) {
        return (b[offset] & 0xFF) | (b[offset + 1] & 0xFF) << 8;
    }

    /** A {@code virtio_net_ctrl_mac} pair (unicast table, multicast table) for MAC_TABLE_SET. */
    public static byte[] macTable(List<byte[]> unicast, List<byte[]> multicast) {
        ByteBuffer b = ByteBuffer.allocate(8 + 6 * (unicast.size() + multicast.size())).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(unicast.size());
        unicast.forEach(b::put);
        b.putInt(multicast.size());
        multicast.forEach(b::put);
        return b.array();
    }

    /**
     * A {@code virtio_net_hdr_v1}: flags, gso_type, hdr_len, gso_size, csum_start, csum_offset (num_buffers 0).
     */
    public static byte[] header(int flags, int gsoType, int hdrLen, int gsoSize, int csumStart, int csumOffset) {
        return ByteBuffer.allocate(VIRTIO_NET_HDR_LEN).order(ByteOrder.LITTLE_ENDIAN).put((byte) flags)
                .put((byte) gsoType).putShort((short) hdrLen).putShort((short) gsoSize).putShort((short) csumStart)
                .putShort((short) csumOffset).putShort((short) 0).array();
    }

    public boolean has(int feature) {
        return (features & (1L << feature)) != 0;
    }

    public long features() {
        return features;
    }

    public RxMode mode() {
        return mode;
    }

    public byte[] mac() {
        return mac.clone();
    }

    public int maxQueuePairs() {
        return maxPairs;
    }

    public int queuePairs() {
        return curPairs;
    }

    public int mtu() {
        return mtu;
    }

    /** The status field as last read by the probe or {@link #configChanged}. */
    public int status() {
        return status;
    }

    public boolean linkUp() {
        return linkUp;
    }

    /** How many ANNOUNCE requests {@link #configChanged} handled. */
    public long announces() {
        return announces;
    }

    /** Index of the control queue, or -1 without VIRTIO_NET_F_CTRL_VQ. */
    public int ctrlIndex() {
        return ctrlIndex;
    }

    /** RX buffers posted and not yet used on {@code pair}. */
    public int rxOutstanding(int pair) {
        return rxOutstanding[pair];
    }

    /** RX packets dropped for a length or num_buffers error (Linux {@code rx_length_errors}). */
    public long rxErrors() {
        return rxErrors;
    }

    public String lastRxError() {
        return lastRxError;
    }

    /** DEVICE_NEEDS_RESET in {@code device_status}. */
    public boolean needsReset() {
        return (pci.status() & VirtioPciDriver.VIRTIO_CONFIG_S_NEEDS_RESET) != 0;
    }

    public VirtioPciDriver pci() {
        return pci;
    }

    public FakeGuestMemory memory() {
        return mem;
    }
}
