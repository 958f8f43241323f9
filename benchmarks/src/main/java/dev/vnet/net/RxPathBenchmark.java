package dev.vnet.net;

import dev.vnet.bench.BenchFrames;
import dev.vnet.bench.BenchRig;
import dev.vnet.bench.RxDriver;
import dev.vnet.net.backend.SinkBackend;
import dev.vnet.testkit.DriverQueue;
import dev.vnet.testkit.FakeGuestMemory;
import dev.vnet.virtio.ActivationContext;
import dev.vnet.virtio.QueueConfig;
import dev.vnet.virtio.Virtqueue;
import dev.vnet.virtio.VirtqueueException;
import dev.vnet.virtio.VirtioInterrupt;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The RX datapath's code cost on one thread: the same {@link RxDriver} and device RX path as
 * {@code InJvmBenchmark.rx}, but the driver's kick runs the device's {@link RxPath} in place instead of
 * waking a worker thread. Without the hand-off between two threads (and the cache lines moving between
 * two cores) the score is what the instructions cost, stable enough to compare two versions of the RX
 * code; it is not a throughput a guest would see. One op = one packet, guest driver included.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "-Xms512m", "-Xmx512m"})
@State(Scope.Thread)
public class RxPathBenchmark {

    @Param({"64", "1514"})
    public int frameSize;

    private FakeGuestMemory mem;
    private VirtioNetDevice device;
    private RxPath path;
    private RxDriver driver;
    private String guestError;

    @Setup(Level.Trial)
    public void setUp() throws VirtqueueException {
        byte[] frame = BenchFrames.frame(frameSize, BenchFrames.DEVICE_MAC, BenchFrames.TAP_MAC);
        SinkBackend backend = SinkBackend.source(1, frame);
        NetDeviceConfig config = NetDeviceConfig.builder().id("rxpath" + System.nanoTime()).queuePairs(1)
                .queueSizes(BenchRig.QUEUE_SIZE, BenchRig.QUEUE_SIZE).mtu(1500).build();
        device = new VirtioNetDevice(config, backend);
        long features = device.offeredFeatures();
        mem = new FakeGuestMemory(0x10_0000L, 64L << 20);
        DriverQueue q = new DriverQueue(mem, BenchRig.QUEUE_SIZE, false, true);
        Virtqueue vq = Virtqueue.open(0, new QueueConfig(BenchRig.QUEUE_SIZE, q.descAddr(), q.availAddr(),
                q.usedAddr()), BenchRig.QUEUE_SIZE, mem.memory(), features, r -> guestError = r);
        VirtioInterrupt irq = new VirtioInterrupt() {
            @Override
            public void queue(int index) {
            }

            @Override
            public void config() {
            }
        };
        ActivationContext context = new ActivationContext(mem.memory(), features, new Virtqueue[] {vq}, irq,
                r -> guestError = r);
        RxFilter filter = new RxFilter(config.mac(), false);
        filter.setMode(ControlQueue.VIRTIO_NET_CTRL_RX_PROMISC, false); // as Linux sets it
        NetSession session = new NetSession(context, device, backend, filter, device.stats(), 1, config.mtu());
        path = new RxPath(0, vq, backend.queue(0), session, device.stats().rx(0));
        int buffer = frameSize + BenchFrames.HDR <= 1536 ? 1536 : 4096;
        // The constructor's first publish kicks, which fills the ring once.
        driver = new RxDriver(mem, q, buffer, BenchRig.NAPI_WEIGHT, k -> {
            while (path.process()) {
                // the device's worker loop: run until the ring is dry (then it armed avail_event)
            }
        });
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        if (guestError != null) {
            throw new IllegalStateException("guest error: " + guestError);
        }
        device.close();
        mem.close();
    }

    @Benchmark
    public void rx() {
        driver.receive();
    }
}
