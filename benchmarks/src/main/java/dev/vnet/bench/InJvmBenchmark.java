package dev.vnet.bench;

import dev.vnet.net.backend.SinkBackend;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Group;
import org.openjdk.jmh.annotations.GroupThreads;
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
import org.openjdk.jmh.infra.IterationParams;
import org.openjdk.jmh.runner.IterationType;

/**
 * Driver model &lt;-&gt; device with the {@link SinkBackend}: one operation is one packet (so ops/us is
 * Mpps and {@code -prof gc}'s {@code gc.alloc.rate.norm} is bytes allocated per packet, all threads).
 * The benchmark thread is the guest ({@link TxDriver}/{@link RxDriver}); the device's queue-pair worker
 * runs on its own platform thread, as in production. {@code tx}/{@code rx}: one queue pair;
 * {@code tx2}/{@code rx2}: two pairs, one guest thread each (JMH groups; the score is their sum).
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "-Xms512m", "-Xmx512m"})
public class InJvmBenchmark {

    private static final ThreadMXBean THREADS = ManagementFactory.getThreadMXBean();

    /** Frame sizes without the vnet header; 65536 goes as a TSO super-frame. */
    @State(Scope.Benchmark)
    public abstract static class Rig {
        @Param({"64", "1514", "65536"})
        public int frameSize;

        /** The device's busy-poll time (NetDeviceConfig.busyPollMicros); 0 parks as soon as idle. */
        @Param({"0", "50"})
        public int busyPollMicros;

        BenchRig rig;
        /** CPU accounting over the measurement iterations: the workers', the guest thread's, packets. */
        private long workerCpu;
        private long guestCpu;
        private long packets;
        private long iterationWorkerCpu;
        private long iterationGuestCpu;
        private long iterationPackets;

        abstract int pairs();

        abstract BenchRig.Direction direction();

        @Setup(Level.Trial)
        public void setUp() {
            byte[] txFrame = BenchFrames.frame(frameSize, BenchFrames.TAP_MAC, BenchFrames.DEVICE_MAC);
            byte[] rxFrame = BenchFrames.frame(frameSize, BenchFrames.DEVICE_MAC, BenchFrames.TAP_MAC);
            SinkBackend backend = direction() == BenchRig.Direction.RX ? SinkBackend.source(pairs(), rxFrame)
                    : SinkBackend.sink(pairs());
            rig = new BenchRig(pairs(), frameSize, direction(), backend, txFrame, busyPollMicros);
        }

        /** Runs on the (first) guest thread: with one pair its CPU time is the guest driver's. */
        @Setup(Level.Iteration)
        public void iterationStart() {
            iterationWorkerCpu = rig.workerCpuNanos();
            iterationGuestCpu = THREADS.getCurrentThreadCpuTime();
            iterationPackets = rig.packets();
        }

        @TearDown(Level.Iteration)
        public void iterationEnd(IterationParams iteration) {
            if (iteration.getType() == IterationType.MEASUREMENT) {
                workerCpu += rig.workerCpuNanos() - iterationWorkerCpu;
                guestCpu += THREADS.getCurrentThreadCpuTime() - iterationGuestCpu;
                packets += rig.packets() - iterationPackets;
            }
        }

        @TearDown(Level.Trial)
        public void tearDown() {
            System.out.println();
            System.out.println("# " + getClass().getSimpleName() + " frame " + frameSize + " poll " + busyPollMicros + ": " + rig.summary());
            if (packets > 0) {
                // CPU per packet is far less sensitive to a shared host than Mpps: it is what the code costs.
                System.out.printf("# cpu ns/pkt over the measurement: workers %.1f%s%n", (double) workerCpu / packets,
                        pairs() == 1 ? String.format(", guest %.1f", (double) guestCpu / packets) : "");
            }
            String error = rig.guestError();
            rig.close();
            if (error != null) {
                throw new IllegalStateException("guest error during the benchmark: " + error);
            }
        }
    }

    public static class Tx1 extends Rig {
        @Override
        int pairs() {
            return 1;
        }

        @Override
        BenchRig.Direction direction() {
            return BenchRig.Direction.TX;
        }
    }

    public static class Tx2 extends Tx1 {
        @Override
        int pairs() {
            return 2;
        }
    }

    public static class Rx1 extends Rig {
        @Override
        int pairs() {
            return 1;
        }

        @Override
        BenchRig.Direction direction() {
            return BenchRig.Direction.RX;
        }
    }

    public static class Rx2 extends Rx1 {
        @Override
        int pairs() {
            return 2;
        }
    }

    @Benchmark
    public void tx(Tx1 s) {
        s.rig.tx(0).send();
    }

    @Benchmark
    public void rx(Rx1 s) {
        s.rig.rx(0).receive();
    }

    @Benchmark
    @Group("tx2")
    @GroupThreads(1)
    public void tx2pair0(Tx2 s) {
        s.rig.tx(0).send();
    }

    @Benchmark
    @Group("tx2")
    @GroupThreads(1)
    public void tx2pair1(Tx2 s) {
        s.rig.tx(1).send();
    }

    @Benchmark
    @Group("rx2")
    @GroupThreads(1)
    public void rx2pair0(Rx2 s) {
        s.rig.rx(0).receive();
    }

    @Benchmark
    @Group("rx2")
    @GroupThreads(1)
    public void rx2pair1(Rx2 s) {
        s.rig.rx(1).receive();
    }
}
