package dev.vnet.bench;

import dev.vnet.spi.BackendRequest;
import dev.vnet.spi.NetBackend;
import dev.vnet.tap.TapBackendProvider;
import java.util.Map;
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
import org.openjdk.jmh.infra.IterationParams;
import org.openjdk.jmh.runner.IterationType;

/**
 * Driver model &lt;-&gt; device &lt;-&gt; {@code TapBackend} on a real TAP interface, one queue pair; one
 * operation is one packet. Needs the network namespace {@code bin/bench} prepares (and runs this in):
 * {@code vbtap0} (TX: frames go to a blackhole route), {@code vbtap2} bridged with {@code vbtap3}, into
 * which {@code tapref gen} writes the RX traffic, and for 64 KiB RX {@code vbtap4}, out of which
 * {@code tapref udpgen} routes whole UDP GSO super-frames (system property {@code vnet.bench.rxTap}
 * picks the RX interface). The C reference {@code tapref} does the same writev/readv loop on the same
 * interfaces in the same run; {@code report.py} gives the ratio.
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "-Xms512m", "-Xmx512m"})
public class TapBenchmark {

    @State(Scope.Benchmark)
    public abstract static class Rig {
        @Param({"64", "1514", "65536"})
        public int frameSize;

        @Param({"0"})
        public int busyPollMicros;

        BenchRig rig;
        private boolean measuring;

        abstract String ifname();

        abstract BenchRig.Direction direction();

        @Setup(Level.Trial)
        public void setUp() {
            NetBackend tap = new TapBackendProvider().open(new BackendRequest("bench", 1,
                    Map.of("ifname", ifname(), "mode", "attach")));
            byte[] txFrame = BenchFrames.frame(frameSize, BenchFrames.TAP_MAC, BenchFrames.DEVICE_MAC);
            rig = new BenchRig(1, frameSize, direction(), tap, txFrame, busyPollMicros);
        }

        /**
         * At the first measurement iteration the RX driver's counts start over, so that the teardown
         * line's {@code avg_frame}/{@code gso_frames} (read by {@code report.py}) describe the measured
         * frames, not what the TAP had queued while the device was starting.
         */
        @Setup(Level.Iteration)
        public void iteration(IterationParams params) {
            if (!measuring && params.getType() == IterationType.MEASUREMENT) {
                measuring = true;
                if (direction() == BenchRig.Direction.RX) {
                    rig.rx(0).resetCounts();
                }
            }
        }

        @TearDown(Level.Trial)
        public void tearDown() {
            System.out.println();
            System.out.println("# " + getClass().getSimpleName() + " frame " + frameSize + " poll " + busyPollMicros
                    + ": " + rig.summary());
            String error = rig.guestError();
            rig.close();
            if (error != null) {
                throw new IllegalStateException("guest error during the benchmark: " + error);
            }
        }
    }

    public static class TapTx extends Rig {
        @Override
        String ifname() {
            return System.getProperty("vnet.bench.txTap", "vbtap0");
        }

        @Override
        BenchRig.Direction direction() {
            return BenchRig.Direction.TX;
        }
    }

    public static class TapRx extends Rig {
        @Override
        String ifname() {
            return System.getProperty("vnet.bench.rxTap", "vbtap2");
        }

        @Override
        BenchRig.Direction direction() {
            return BenchRig.Direction.RX;
        }
    }

    @Benchmark
    public void tapTx(TapTx s) {
        s.rig.tx(0).send();
    }

    @Benchmark
    public void tapRx(TapRx s) {
        s.rig.rx(0).receive();
    }
}
