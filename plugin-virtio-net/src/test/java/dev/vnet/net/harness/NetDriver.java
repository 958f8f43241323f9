package dev.vnet.net.harness;

import static dev.vnet.testkit.net.VirtioNetConstants.VIRTIO_NET_HDR_LEN;

import dev.vnet.net.NetFeatures;
import dev.vnet.testkit.DriverQueue;
import dev.vnet.testkit.FakeGuestMemory;
import dev.vnet.testkit.net.ControlBuffer;
import dev.vnet.testkit.net.RxBuffers;
import dev.vnet.testkit.net.RxBuffers.RxBuf;
import dev.vnet.testkit.net.TxBuffers;
import dev.vnet.testkit.net.VirtioNetDriver;
import dev.vnet.testkit.net.VirtioNetDriver.Received;
import dev.vnet.testkit.net.VirtioNetDriver.RxMode;
import dev.vnet.virtio.VirtioFeatures;
import java.io.ByteArrayOutputStream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A guest driver modelled on Linux {@code drivers/net/virtio_net.c}, on top of {@link NetHarness} (no
 * transport: it polls the used rings instead of taking NAPI callbacks). Buffers are shaped by the testkit's
 * pieces of {@link VirtioNetDriver}:
 *
 * <ul>
 *   <li>RX buffers as Linux posts them ({@link RxBuffers}): mergeable buffers of 1536 bytes with
 *       MRG_RXBUF; otherwise big packets (a 12-byte header descriptor then pages, 64 KiB in all) when a
 *       GUEST_TSO/ECN/UFO feature was negotiated or the MTU is above 1500; otherwise small buffers of
 *       header + 1518 bytes.</li>
 *   <li>TX ({@link TxBuffers}): the 12-byte header and the frame in two sg entries (Linux without
 *       {@code any_header_sg}... or when headroom is short) or in one.</li>
 *   <li>Control commands ({@link ControlBuffer}) as {@code virtnet_send_command}: out = class/command
 *       header, out = data, in = 1-byte ack.</li>
 * </ul>
 */
public final class NetDriver {

    /** In big-packet mode, at most this many 64 KiB buffers are outstanding per ring. */
    public static final int MAX_BIG_BUFFERS = 16;

    private final NetHarness h;
    private final FakeGuestMemory mem;
    private final RxMode mode;
    private final Map<Integer, RxBuffers> rxBuffers = new HashMap<>();
    private final Map<Integer, Integer> bigOutstanding = new HashMap<>();
    private final TxBuffers txBuffers;
    private final ControlBuffer ctrl;
    /** Used lengths of TX buffers reclaimed since the last {@link #awaitTxDone}. */
    private final List<Integer> txCompleted = new ArrayList<>();

    public NetDriver(NetHarness harness) {
        this.h = harness;
        this.mem = harness.memory();
        boolean bigPackets = harness.has(NetFeatures.VIRTIO_NET_F_GUEST_TSO4)
                || harness.has(NetFeatures.VIRTIO_NET_F_GUEST_TSO6) || harness.has(NetFeatures.VIRTIO_NET_F_GUEST_ECN)
                || harness.has(NetFeatures.VIRTIO_NET_F_GUEST_UFO)
                || (harness.has(NetFeatures.VIRTIO_NET_F_MTU) && harness.readConfig(10, 2) > 1500);
        this.mode = harness.has(NetFeatures.VIRTIO_NET_F_MRG_RXBUF) ? RxMode.MERGEABLE
                : bigPackets ? RxMode.BIG : RxMode.SMALL;
        this.txBuffers = new TxBuffers(mem);
        this.ctrl = new ControlBuffer(mem);
    }

    public RxMode mode() {
        return mode;
    }

    public static int rxq(int pair) {
        return 2 * pair;
    }

    public static int txq(int pair) {
        return 2 * pair + 1;
    }

    // ------------------------------------------------------------------ RX

    /** {@code try_fill_recv}: posts up to {@code count} buffers (fewer when the ring fills), then kicks. */
    public int fillRx(int pair, int count) {
        DriverQueue q = h.queue(rxq(pair));
        int added = 0;
        while (added < count) {
            RxBuf b = rx(pair).take();
            int r = q.add(List.of(), b.sgs(), b);
            if (r < 0) {
                rx(pair).recycle(b);
                break;
            }
            added++;
            bigOutstanding.merge(pair, 1, Integer::sum);
        }
        h.kick(rxq(pair));
        return added;
    }

    /**
     * Fills the RX ring completely; in big-packet mode at most {@value #MAX_BIG_BUFFERS} buffers are
     * outstanding (64 KiB each: this keeps the fake guest RAM small; Linux posts as many as fit).
     */
    public int fillRx(int pair) {
        if (mode == RxMode.BIG) {
            int outstanding = bigOutstanding.getOrDefault(pair, 0);
            return fillRx(pair, Math.max(0, MAX_BIG_BUFFERS - outstanding));
        }
        return fillRx(pair, Integer.MAX_VALUE);
    }

    private RxBuffers rx(int pair) {
        return rxBuffers.computeIfAbsent(pair, k -> new RxBuffers(mem, mode));
    }

    /** Receives the next frame, or null after {@code timeout}. Recycles the buffers (not re-posted). */
    public Received receive(int pair, Duration timeout) throws InterruptedException {
        DriverQueue q = h.queue(rxq(pair));
        if (!h.await(q::moreUsed, timeout)) {
            return null;
        }
        DriverQueue.Used first = q.getBuf();
        RxBuf b = (RxBuf) first.token();
        byte[] all = gather(pair, b, first.length());
        recycle(pair, b);
        byte[] header = Arrays.copyOf(all, VIRTIO_NET_HDR_LEN);
        ByteArrayOutputStream frame = new ByteArrayOutputStream();
        frame.write(all, VIRTIO_NET_HDR_LEN, all.length - VIRTIO_NET_HDR_LEN);
        int buffers = 1;
        if (mode == RxMode.MERGEABLE) {
            int num = (header[10] & 0xFF) | (header[11] & 0xFF) << 8;
            for (int i = 1; i < num; i++) {
                if (!h.await(q::moreUsed, Duration.ofSeconds(5))) {
                    throw new AssertionError("num_buffers " + num + " but only " + i + " buffers used");
                }
                DriverQueue.Used next = q.getBuf();
                RxBuf nb = (RxBuf) next.token();
                frame.writeBytes(gather(pair, nb, next.length()));
                recycle(pair, nb);
                buffers++;
            }
        }
        return new Received(header, frame.toByteArray(), buffers);
    }

    /** Receives and re-posts the buffers, as the NAPI poll loop does. */
    public Received receiveAndRefill(int pair, Duration timeout) throws InterruptedException {
        Received r = receive(pair, timeout);
        if (r != null) {
            fillRx(pair, r.buffers());
        }
        return r;
    }

    private byte[] gather(int pair, RxBuf b, int length) {
        if (length > b.capacity()) {
            throw new AssertionError("used length " + length + " exceeds the buffer's " + b.capacity());
        }
        return rx(pair).gather(b, length);
    }

    private void recycle(int pair, RxBuf b) {
        bigOutstanding.merge(pair, -1, Integer::sum);
        rx(pair).recycle(b);
    }

    // ------------------------------------------------------------------ TX

    /** A plain frame: header all zero (num_buffers 0 as Linux sends it). */
    public int send(int pair, byte[] frame) {
        return send(pair, new byte[VIRTIO_NET_HDR_LEN], frame, true);
    }

    /**
     * {@code xmit_skb}: header + frame, in two sg entries ({@code split}) or one; kicks.
     *
     * @return the head index, or a negative errno when the ring is full
     */
    public int send(int pair, byte[] header, byte[] frame, boolean split) {
        reclaimTx(pair);
        DriverQueue q = h.queue(txq(pair));
        int r = txBuffers.add(q, header, frame, split);
        if (r < 0) {
            return r;
        }
        h.kick(txq(pair));
        return r;
    }

    /** {@code free_old_xmit_skbs}: takes back transmitted buffers; returns their used lengths. */
    public List<Integer> reclaimTx(int pair) {
        List<Integer> lengths = txBuffers.reclaim(h.queue(txq(pair)));
        txCompleted.addAll(lengths);
        return lengths;
    }

    /**
     * Waits until every TX buffer of {@code pair} came back; returns the used lengths of all buffers
     * reclaimed since the last call.
     */
    public List<Integer> awaitTxDone(int pair, Duration timeout) throws InterruptedException {
        DriverQueue q = h.queue(txq(pair));
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            reclaimTx(pair);
            if (q.numFree() == q.size()) {
                List<Integer> lengths = List.copyOf(txCompleted);
                txCompleted.clear();
                return lengths;
            }
            if (System.nanoTime() > deadline) {
                throw new AssertionError("TX buffers not returned: " + (q.size() - q.numFree()) + " descriptors out");
            }
            h.interrupts().await(2);
        }
    }

    // ------------------------------------------------------------------ control

    /**
     * {@code virtnet_send_command}: out = {class, cmd}, out = data (if any), in = ack; kicks and spins
     * for the answer (Linux busy-waits on {@code virtqueue_get_buf}).
     *
     * @return the ack byte (0 = VIRTIO_NET_OK)
     */
    public int command(int cls, int cmd, byte[] data) throws InterruptedException {
        int index = h.ctrlIndex();
        if (index < 0) {
            throw new IllegalStateException("no control queue negotiated");
        }
        DriverQueue q = h.queue(index);
        ctrl.add(q, cls, cmd, data);
        h.kick(index);
        if (!h.await(q::moreUsed, Duration.ofSeconds(5))) {
            throw new AssertionError("control command " + cls + "/" + cmd + " not answered");
        }
        q.getBuf();
        return ctrl.ack();
    }

    /** Probe-time setup Linux does after DRIVER_OK: fill RX of every pair in use and set the pairs with MQ. */
    public void open(int pairs) throws InterruptedException {
        if (pairs > 1) {
            int ack = command(4, 0, VirtioNetDriver.le16(pairs));
            if (ack != 0) {
                throw new AssertionError("VQ_PAIRS_SET " + pairs + " refused");
            }
        }
        for (int p = 0; p < pairs; p++) {
            fillRx(p);
        }
    }

    public boolean has(int feature) {
        return VirtioFeatures.has(h.features(), feature);
    }
}
