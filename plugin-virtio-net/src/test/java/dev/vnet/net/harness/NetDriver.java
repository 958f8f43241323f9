package dev.vnet.net.harness;

import dev.vnet.net.NetFeatures;
import dev.vnet.testkit.Buffer;
import dev.vnet.testkit.DriverQueue;
import dev.vnet.testkit.FakeGuestMemory;
import dev.vnet.virtio.VirtioFeatures;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A guest driver modelled on Linux {@code drivers/net/virtio_net.c}, on top of {@link NetHarness}.
 *
 * <ul>
 *   <li>RX buffers as Linux posts them: mergeable buffers of {@value #MERGEABLE_LEN} bytes (one
 *       descriptor) with MRG_RXBUF; otherwise big packets (a 12-byte header descriptor then page-sized
 *       descriptors, {@value #BIG_LEN} bytes in all) when a GUEST_TSO/ECN/UFO feature was negotiated or
 *       the MTU is above 1500; otherwise small buffers of header + 1518 bytes.</li>
 *   <li>TX: the 12-byte header and the frame in two sg entries (Linux without
 *       {@code any_header_sg}... or when headroom is short) or in one.</li>
 *   <li>Control commands as {@code virtnet_send_command}: out = class/command header, out = data, in =
 *       1-byte ack.</li>
 * </ul>
 */
public final class NetDriver {

    public static final int HDR = 12;
    /** Linux GOOD_PACKET_LEN: ETH_HLEN + VLAN_HLEN + ETH_DATA_LEN. */
    public static final int GOOD_PACKET_LEN = 1518;
    public static final int MERGEABLE_LEN = 1536;
    public static final int BIG_LEN = 65562;
    public static final int PAGE = 4096;

    /** How RX buffers are shaped. */
    public enum RxMode { MERGEABLE, BIG, SMALL }

    /** One received frame: the header bytes, the frame, and how many buffers held it. */
    public record Received(byte[] header, byte[] frame, int buffers) {
        public int flags() {
            return header[0] & 0xFF;
        }

        public int gsoType() {
            return header[1] & 0xFF;
        }

        public int numBuffers() {
            return (header[10] & 0xFF) | (header[11] & 0xFF) << 8;
        }
    }

    /** An RX buffer the driver owns: its sg list (recycled after use). */
    private record RxBuf(List<Buffer> sgs) {
        int capacity() {
            return sgs.stream().mapToInt(Buffer::length).sum();
        }
    }

    /** A TX buffer waiting in the ring. */
    private record TxBuf(long gpa, int sizeClass) {
    }

    private final NetHarness h;
    private final FakeGuestMemory mem;
    private final RxMode mode;
    private final Map<Integer, ArrayDeque<RxBuf>> freeRx = new HashMap<>();
    private final Map<Integer, ArrayDeque<Long>> freeTx = new HashMap<>();
    private long ctrlBuf;
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
            RxBuf b = takeRxBuf(pair);
            int r = q.add(List.of(), b.sgs(), b);
            if (r < 0) {
                freeRx.get(pair).push(b);
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

    public static final int MAX_BIG_BUFFERS = 16;
    private final Map<Integer, Integer> bigOutstanding = new HashMap<>();

    private RxBuf takeRxBuf(int pair) {
        ArrayDeque<RxBuf> free = freeRx.computeIfAbsent(pair, k -> new ArrayDeque<>());
        if (!free.isEmpty()) {
            return free.pop();
        }
        return switch (mode) {
            case MERGEABLE -> new RxBuf(List.of(new Buffer(mem.alloc(MERGEABLE_LEN, 64), MERGEABLE_LEN)));
            case SMALL -> new RxBuf(List.of(new Buffer(mem.alloc(HDR + GOOD_PACKET_LEN, 64), HDR + GOOD_PACKET_LEN)));
            case BIG -> {
                List<Buffer> sgs = new ArrayList<>();
                sgs.add(new Buffer(mem.alloc(HDR, 16), HDR));
                int left = BIG_LEN - HDR;
                while (left > 0) {
                    int n = Math.min(PAGE, left);
                    sgs.add(new Buffer(mem.alloc(PAGE, PAGE), n));
                    left -= n;
                }
                yield new RxBuf(sgs);
            }
        };
    }

    /** Receives the next frame, or null after {@code timeout}. Recycles the buffers (not re-posted). */
    public Received receive(int pair, Duration timeout) throws InterruptedException {
        DriverQueue q = h.queue(rxq(pair));
        if (!h.await(q::moreUsed, timeout)) {
            return null;
        }
        DriverQueue.Used first = q.getBuf();
        RxBuf b = (RxBuf) first.token();
        byte[] all = gather(b, first.length());
        recycle(pair, b);
        byte[] header = java.util.Arrays.copyOf(all, HDR);
        ByteArrayOutputStream frame = new ByteArrayOutputStream();
        frame.write(all, HDR, all.length - HDR);
        int buffers = 1;
        if (mode == RxMode.MERGEABLE) {
            int num = (header[10] & 0xFF) | (header[11] & 0xFF) << 8;
            for (int i = 1; i < num; i++) {
                if (!h.await(q::moreUsed, Duration.ofSeconds(5))) {
                    throw new AssertionError("num_buffers " + num + " but only " + i + " buffers used");
                }
                DriverQueue.Used next = q.getBuf();
                RxBuf nb = (RxBuf) next.token();
                frame.writeBytes(gather(nb, next.length()));
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

    private byte[] gather(RxBuf b, int length) {
        if (length > b.capacity()) {
            throw new AssertionError("used length " + length + " exceeds the buffer's " + b.capacity());
        }
        byte[] out = new byte[length];
        int at = 0;
        for (Buffer sg : b.sgs()) {
            int n = Math.min(sg.length(), length - at);
            if (n <= 0) {
                break;
            }
            System.arraycopy(mem.read(sg.gpa(), n), 0, out, at, n);
            at += n;
        }
        return out;
    }

    private void recycle(int pair, RxBuf b) {
        bigOutstanding.merge(pair, -1, Integer::sum);
        freeRx.computeIfAbsent(pair, k -> new ArrayDeque<>()).push(b);
    }

    // ------------------------------------------------------------------ TX

    /** A plain frame: header all zero (num_buffers 0 as Linux sends it). */
    public int send(int pair, byte[] frame) {
        return send(pair, new byte[HDR], frame, true);
    }

    /**
     * {@code xmit_skb}: header + frame, in two sg entries ({@code split}) or one; kicks.
     *
     * @return the head index, or a negative errno when the ring is full
     */
    public int send(int pair, byte[] header, byte[] frame, boolean split) {
        reclaimTx(pair);
        DriverQueue q = h.queue(txq(pair));
        int total = header.length + frame.length;
        int sizeClass = Integer.highestOneBit(Math.max(total, 64) * 2 - 1);
        long gpa = takeTx(sizeClass);
        mem.write(gpa, header);
        mem.write(gpa + header.length, frame);
        int r;
        if (split && frame.length > 0) {
            r = q.add(List.of(new Buffer(gpa, header.length), new Buffer(gpa + header.length, frame.length)),
                    List.of(), new TxBuf(gpa, sizeClass));
        } else {
            r = q.add(List.of(new Buffer(gpa, total)), List.of(), new TxBuf(gpa, sizeClass));
        }
        if (r < 0) {
            freeTx.get(sizeClass).push(gpa);
            return r;
        }
        h.kick(txq(pair));
        return r;
    }

    private long takeTx(int sizeClass) {
        ArrayDeque<Long> free = freeTx.computeIfAbsent(sizeClass, k -> new ArrayDeque<>());
        return free.isEmpty() ? mem.alloc(sizeClass, 64) : free.pop();
    }

    /** {@code free_old_xmit_skbs}: takes back transmitted buffers; returns their used lengths. */
    public List<Integer> reclaimTx(int pair) {
        DriverQueue q = h.queue(txq(pair));
        List<Integer> lengths = new ArrayList<>();
        DriverQueue.Used u;
        while ((u = q.getBuf()) != null) {
            TxBuf b = (TxBuf) u.token();
            freeTx.computeIfAbsent(b.sizeClass(), k -> new ArrayDeque<>()).push(b.gpa());
            lengths.add(u.length());
            txCompleted.add(u.length());
        }
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
        int ctrl = h.ctrlIndex();
        if (ctrl < 0) {
            throw new IllegalStateException("no control queue negotiated");
        }
        if (ctrlBuf == 0) {
            ctrlBuf = mem.alloc(PAGE, 64);
        }
        DriverQueue q = h.queue(ctrl);
        mem.write(ctrlBuf, new byte[] {(byte) cls, (byte) cmd});
        long status = ctrlBuf + 8;
        mem.write(status, new byte[] {(byte) 0xFF});
        long dataGpa = ctrlBuf + 64;
        List<Buffer> out = new ArrayList<>();
        out.add(new Buffer(ctrlBuf, 2));
        if (data.length > 0) {
            mem.write(dataGpa, data);
            out.add(new Buffer(dataGpa, data.length));
        }
        q.add(out, List.of(new Buffer(status, 1)), "cmd");
        h.kick(ctrl);
        if (!h.await(q::moreUsed, Duration.ofSeconds(5))) {
            throw new AssertionError("control command " + cls + "/" + cmd + " not answered");
        }
        q.getBuf();
        return mem.read(status, 1)[0] & 0xFF;
    }

    public static byte[] le16(int v) {
        return ByteBuffer.allocate(2).order(ByteOrder.LITTLE_ENDIAN).putShort((short) v).array();
    }

    public static byte[] le64(long v) {
        return ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(v).array();
    }

    /** A {@code virtio_net_ctrl_mac} pair (unicast, multicast) for MAC_TABLE_SET. */
    public static byte[] macTable(List<byte[]> unicast, List<byte[]> multicast) {
        ByteBuffer b = ByteBuffer.allocate(8 + 6 * (unicast.size() + multicast.size())).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(unicast.size());
        unicast.forEach(b::put);
        b.putInt(multicast.size());
        multicast.forEach(b::put);
        return b.array();
    }

    /** Probe-time setup Linux does after DRIVER_OK: fill RX of every pair in use and set the pairs with MQ. */
    public void open(int pairs) throws InterruptedException {
        if (pairs > 1) {
            int ack = command(4, 0, le16(pairs));
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
