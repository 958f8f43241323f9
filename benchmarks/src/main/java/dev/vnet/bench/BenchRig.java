package dev.vnet.bench;

import dev.vnet.net.NetDeviceConfig;
import dev.vnet.net.NetFeatures;
import dev.vnet.net.VirtioNetDevice;
import dev.vnet.spi.NetBackend;
import dev.vnet.testkit.Buffer;
import dev.vnet.testkit.DriverQueue;
import dev.vnet.testkit.FakeGuestMemory;
import dev.vnet.virtio.ActivationContext;
import dev.vnet.virtio.QueueConfig;
import dev.vnet.virtio.Virtqueue;
import dev.vnet.virtio.VirtqueueException;
import dev.vnet.virtio.VirtioFeatures;
import dev.vnet.virtio.VirtioInterrupt;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

/**
 * One device under test with its guest: fake guest RAM, the transport's part (feature negotiation,
 * queue setup, activation, kicks as direct {@code queueNotify} calls, counted interrupts) and a lean
 * driver per queue ({@link TxDriver}, {@link RxDriver}). Features: everything the device offers
 * (VERSION_1, EVENT_IDX, MRG_RXBUF, CSUM/TSO, MQ, CTRL_VQ, ...); promiscuous mode off as Linux sets it,
 * so the RX filter runs per frame; with two pairs, VQ_PAIRS_SET 2.
 */
public final class BenchRig implements AutoCloseable {

    /** Which direction the guest drives. */
    public enum Direction { TX, RX }

    public static final int QUEUE_SIZE = 256;
    /** TX packets per publish/kick decision (an {@code xmit_more} burst). */
    public static final int BATCH = 32;
    /** RX packets per NAPI poll (Linux's default NAPI weight); refill decisions happen once per poll. */
    public static final int NAPI_WEIGHT = 64;

    private final String id = "bench" + System.nanoTime();
    private final FakeGuestMemory mem;
    private final VirtioNetDevice device;
    private final NetBackend backend;
    private final DriverQueue[] queues;
    private final AtomicLong interrupts = new AtomicLong();
    private final TxDriver[] tx;
    private volatile RxDriver[] rx;
    private final int pairs;
    private long[] workerThreads;
    private volatile String guestError;

    public BenchRig(int pairs, int frameSize, Direction direction, NetBackend backend, byte[] txFrame,
                    int busyPollMicros) {
        this.backend = backend;
        this.pairs = pairs;
        long perQueue = (long) QUEUE_SIZE * ((txFrame.length + 63) & ~63L);
        this.mem = new FakeGuestMemory(0x10_0000L, (64L << 20) + 2L * pairs * perQueue);
        NetDeviceConfig config = NetDeviceConfig.builder().id(id).queuePairs(pairs)
                .queueSizes(QUEUE_SIZE, QUEUE_SIZE).mtu(1500).busyPollMicros(busyPollMicros).build();
        this.device = new VirtioNetDevice(config, backend);
        long features = device.offeredFeatures();
        String violation = device.featureRules().violation(features);
        if (violation != null) {
            throw new IllegalStateException(violation);
        }
        boolean event = VirtioFeatures.has(features, VirtioFeatures.VIRTIO_F_EVENT_IDX);
        if (!event || !VirtioFeatures.has(features, NetFeatures.VIRTIO_NET_F_MRG_RXBUF)) {
            throw new IllegalStateException("EVENT_IDX and MRG_RXBUF must be offered");
        }
        int layoutPairs = VirtioFeatures.has(features, NetFeatures.VIRTIO_NET_F_MQ) ? pairs : 1;
        int ctrl = 2 * layoutPairs;
        queues = new DriverQueue[2 * layoutPairs + 1];
        Virtqueue[] vqs = new Virtqueue[device.queueCount()];
        VirtioInterrupt irq = new VirtioInterrupt() {
            @Override
            public void queue(int index) {
                interrupts.incrementAndGet();
                RxDriver[] drivers = rx;
                int pair = index / 2;
                if (index % 2 == 0 && drivers != null && pair < drivers.length && drivers[pair] != null) {
                    drivers[pair].interrupt();
                }
            }

            @Override
            public void config() {
            }
        };
        for (int i = 0; i < queues.length; i++) {
            int size = i == ctrl ? 64 : QUEUE_SIZE;
            queues[i] = new DriverQueue(mem, size, false, event);
            try {
                vqs[i] = Virtqueue.open(i, new QueueConfig(size, queues[i].descAddr(), queues[i].availAddr(),
                        queues[i].usedAddr()), device.queueMaxSize(i), mem.memory(), features, r -> guestError = r);
            } catch (VirtqueueException e) {
                throw new IllegalStateException(e);
            }
        }
        device.activate(new ActivationContext(mem.memory(), features, vqs, irq, r -> guestError = r));
        command(ctrl, 0, 0, new byte[] {0}); // RX_PROMISC off
        if (pairs > 1) {
            command(ctrl, 4, 0, new byte[] {(byte) pairs, 0}); // MQ_VQ_PAIRS_SET
        }
        tx = new TxDriver[pairs];
        RxDriver[] rx = new RxDriver[pairs];
        int rxBuffer = frameSize + BenchFrames.HDR <= 1536 ? 1536 : 4096;
        for (int p = 0; p < pairs; p++) {
            int rxq = 2 * p;
            int txq = 2 * p + 1;
            if (direction == Direction.TX) {
                tx[p] = new TxDriver(mem, queues[txq], txFrame, BATCH, k -> device.queueNotify(txq));
            } else {
                rx[p] = new RxDriver(mem, queues[rxq], rxBuffer, NAPI_WEIGHT, k -> device.queueNotify(rxq));
            }
        }
        this.rx = rx;
    }

    /** {@code virtnet_send_command}, spinning for the answer. */
    private void command(int ctrl, int cls, int cmd, byte[] data) {
        DriverQueue q = queues[ctrl];
        long buf = mem.alloc(64, 64);
        mem.write(buf, new byte[] {(byte) cls, (byte) cmd});
        mem.write(buf + 8, data);
        mem.write(buf + 32, new byte[] {(byte) 0xFF});
        q.add(List.of(new Buffer(buf, 2), new Buffer(buf + 8, data.length)), List.of(new Buffer(buf + 32, 1)), "cmd");
        if (q.kickPrepare()) {
            device.queueNotify(ctrl);
        }
        long deadline = System.nanoTime() + 5_000_000_000L;
        while (!q.moreUsed()) {
            if (System.nanoTime() > deadline || guestError != null) {
                throw new IllegalStateException("control command " + cls + "/" + cmd + " not answered: " + guestError);
            }
            Thread.onSpinWait();
        }
        q.getBuf();
        int ack = mem.read(buf + 32, 1)[0];
        if (ack != 0) {
            throw new IllegalStateException("control command " + cls + "/" + cmd + " refused");
        }
    }

    public TxDriver tx(int pair) {
        return tx[pair];
    }

    public RxDriver rx(int pair) {
        return rx[pair];
    }

    public VirtioNetDevice device() {
        return device;
    }

    public long interrupts() {
        return interrupts.get();
    }

    /** Data packets the device delivered or took so far (RX and TX queues of every pair); allocates nothing. */
    public long packets() {
        long n = 0;
        for (int p = 0; p < pairs; p++) {
            n += device.stats().rx(p).getPackets() + device.stats().tx(p).getPackets();
        }
        return n;
    }

    /**
     * CPU time the device's queue-pair workers used so far (ns), from {@link ThreadMXBean}; -1 if the JVM
     * cannot tell. The first call finds the worker threads by name (allocating); later calls allocate nothing.
     */
    public long workerCpuNanos() {
        ThreadMXBean mx = ManagementFactory.getThreadMXBean();
        if (!mx.isThreadCpuTimeSupported()) {
            return -1;
        }
        if (workerThreads == null) {
            workerThreads = Thread.getAllStackTraces().keySet().stream()
                    .filter(t -> t.getName().startsWith(id + "-pair")).mapToLong(Thread::threadId).toArray();
        }
        long sum = 0;
        for (long t : workerThreads) {
            sum += Math.max(0, mx.getThreadCpuTime(t));
        }
        return sum;
    }

    /** Null when the device saw no guest error. */
    public String guestError() {
        return guestError;
    }

    /**
     * One line of counters for the teardown log: packets, drops, kicks, interrupts, and per RX driver
     * what it received ({@link RxDriver#summary}; {@code report.py} reads {@code avg_frame}).
     */
    public String summary() {
        StringBuilder s = new StringBuilder();
        for (var q : device.stats().all()) {
            if (q.getPackets() > 0 || q.getDrops() > 0 || q.getErrors() > 0) {
                s.append(q).append("; ");
            }
        }
        for (RxDriver r : rx) {
            if (r != null) {
                s.append("rx ").append(r.summary()).append("; ");
            }
        }
        s.append("interrupts=").append(interrupts.get());
        if (guestError != null) {
            s.append(" GUEST ERROR: ").append(guestError);
        }
        return s.toString();
    }

    @Override
    public void close() {
        device.close();
        backend.close();
        mem.close();
    }
}
