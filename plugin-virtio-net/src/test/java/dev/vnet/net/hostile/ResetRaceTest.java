package dev.vnet.net.hostile;

import static org.assertj.core.api.Assertions.assertThat;

import dev.vnet.net.NetDeviceConfig;
import dev.vnet.net.NetFeatures;
import dev.vnet.net.VirtioNetDevice;
import dev.vnet.net.backend.InJvmBackend;
import dev.vnet.net.harness.Bed;
import dev.vnet.net.harness.Frames;
import dev.vnet.spi.SegmentList;
import dev.vnet.testkit.FakeGuestMemory;
import dev.vnet.virtio.ActivationContext;
import dev.vnet.virtio.DeviceWorker;
import dev.vnet.virtio.Virtqueue;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Reset racing everything else, 10^4 rounds: one thread activates and resets the device over and over
 * (each round with fresh rings holding RX buffers and TX frames), a second thread kicks random queues
 * (valid, out of range, negative) as vCPUs do, a third floods the backend so its readiness callbacks
 * and the workers' backend reads overlap every reset, and a fourth flips the link and asks for
 * announces. No call may throw, block past its bound (deadlock), kill a worker or leave a thread.
 */
@Timeout(value = 180, unit = TimeUnit.SECONDS)
class ResetRaceTest {

    static final int ROUNDS = Integer.getInteger("vnet.race.rounds", 10_000);
    static final long RAM = 0x10_0000;
    static final int PAIRS = 2;

    @Test
    void resetRacingKicksReadinessAndBackendReads() throws Exception {
        long workerFailures = DeviceWorker.failures();
        String id = Bed.uniqueId("race");
        NetDeviceConfig config = Bed.config().id(id).queuePairs(PAIRS).queueSizes(64, 64).build();
        InJvmBackend[] ends = InJvmBackend.cable(id, PAIRS, InJvmBackend.DEFAULT_RING_BYTES);
        VirtioNetDevice device = new VirtioNetDevice(config, ends[0]);
        Recorder recorder = new Recorder();
        long features = device.featureRules().closeOverDependencies(NetFeatures.ALL & device.offeredFeatures())
                & device.offeredFeatures();
        int queues = device.queueCount();
        AtomicBoolean stop = new AtomicBoolean();
        AtomicReference<Throwable> failure = new AtomicReference<>();
        AtomicLong kicks = new AtomicLong();
        AtomicLong injected = new AtomicLong();

        try (FakeGuestMemory mem = new FakeGuestMemory(RAM, 4 << 20)) {
            RawRing[] rings = new RawRing[queues];
            for (int q = 0; q < queues; q++) {
                rings[q] = new RawRing(mem, RAM + 0x4000L * q, 64);
            }
            long buffers = RAM + 0x40000;
            byte[] frame = CveRegressionTest.withHeader(new byte[12],
                    Frames.ethernet(Frames.OTHER_MAC, Frames.DEVICE_MAC, 60, 1));

            Thread kicker = thread("kicker", failure, stop, () -> {
                int q = ThreadLocalRandom.current().nextInt(-2, queues + 3);
                device.queueNotify(q);
                kicks.incrementAndGet();
            });
            Thread host = thread("host", failure, stop, new Runnable() {
                final Arena arena = Arena.ofAuto();
                final MemorySegment out = arena.allocate(12 + 60);
                final SegmentList outList = new SegmentList(1);
                final MemorySegment in = arena.allocate(70_000);
                final SegmentList inList = new SegmentList(1);

                {
                    MemorySegment.copy(Frames.ethernet(Frames.DEVICE_MAC, Frames.OTHER_MAC, 60, 2), 0, out,
                            ValueLayout.JAVA_BYTE, 12, 60);
                    outList.add(out, 0, out.byteSize());
                    inList.add(in, 0, in.byteSize());
                }

                @Override
                public void run() {
                    int q = ThreadLocalRandom.current().nextInt(PAIRS);
                    if (ends[1].queue(q).write(outList)) {
                        injected.incrementAndGet();
                    }
                    ends[1].queue(q).read(inList);
                }
            });
            Thread link = thread("link", failure, stop, () -> {
                device.setLinkUp(ThreadLocalRandom.current().nextInt(8) != 0);
                device.announce();
                LockSupportPause.pause();
            });
            kicker.start();
            host.start();
            link.start();

            long slowest = 0;
            for (int round = 0; round < ROUNDS && failure.get() == null; round++) {
                Virtqueue[] vqs = new Virtqueue[queues];
                for (int q = 0; q < queues; q++) {
                    RawRing r = rings[q];
                    r.clear();
                    for (int i = 0; i < 4 && q < 2 * PAIRS; i++) {
                        long at = buffers + 0x10000L * q + 2048L * i;
                        if ((q & 1) == 0) {
                            r.descriptor(i, at, 1536, RawRing.F_WRITE, 0);
                        } else {
                            mem.write(at, frame);
                            r.descriptor(i, at, frame.length, 0, 0);
                        }
                        r.publish(i);
                    }
                    vqs[q] = r.open(q, device.queueMaxSize(q), features, recorder);
                }
                device.activate(new ActivationContext(mem.memory(), features, vqs, recorder, recorder));
                if (ThreadLocalRandom.current().nextBoolean()) {
                    Thread.onSpinWait();
                }
                long t0 = System.nanoTime();
                device.reset();
                slowest = Math.max(slowest, System.nanoTime() - t0);
            }
            stop.set(true);
            kicker.join(5000);
            host.join(5000);
            link.join(5000);
            device.setLinkUp(true);

            assertThat(failure.get()).as("exception in a racing thread").isNull();
            assertThat(slowest).as("slowest reset (ns)").isLessThan(TimeUnit.SECONDS.toNanos(5));
            assertThat(DeviceWorker.failures()).as("workers that threw").isEqualTo(workerFailures);
            assertThat(recorder.errors()).as("guest errors with valid rings").isEmpty();
            assertThat(kicks.get()).isPositive();
            assertThat(injected.get()).isPositive();
            assertThat(Thread.getAllStackTraces().keySet().stream()
                    .filter(t -> t.isAlive() && t.getName().startsWith(id + "-"))).as("device threads left").isEmpty();
        } finally {
            stop.set(true);
            device.close();
        }
    }

    private static Thread thread(String name, AtomicReference<Throwable> failure, AtomicBoolean stop, Runnable body) {
        return Thread.ofPlatform().daemon().name("race-" + name).unstarted(() -> {
            try {
                while (!stop.get()) {
                    body.run();
                }
            } catch (Throwable t) {
                failure.compareAndSet(null, t);
            }
        });
    }

    /** A short pause so the link thread does not starve the others on two cores. */
    private static final class LockSupportPause {
        static void pause() {
            java.util.concurrent.locks.LockSupport.parkNanos(50_000);
        }
    }
}
