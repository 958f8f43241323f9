package dev.vnet.net.hostile;

import static org.assertj.core.api.Assertions.assertThat;

import dev.vnet.net.DropReason;
import dev.vnet.net.NetDeviceConfig;
import dev.vnet.net.NetFeatures;
import dev.vnet.net.VirtioNetDevice;
import dev.vnet.net.backend.InJvmBackend;
import dev.vnet.net.harness.Bed;
import dev.vnet.net.harness.Frames;
import dev.vnet.net.harness.NetDriver;
import dev.vnet.net.harness.NetHarness;
import dev.vnet.testkit.FakeGuestMemory;
import dev.vnet.testkit.net.VirtioNetDriver;
import dev.vnet.virtio.DeviceWorker;
import java.time.Duration;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Frames through a loopback device with 4 queue pairs, in phases separated by a full reset (new guest
 * RAM, new rings, re-probe), a queue-pair count change (VQ_PAIRS_SET) or a link flap. Within a phase
 * every frame sent must come back, in order, on its pair (the rings always have room: a batch never
 * exceeds the posted RX buffers); during a link flap every frame sent must be counted as a LINK_DOWN
 * drop. At the end no worker threw, no device thread is left, and open fds, threads, MBeans, direct/native
 * buffer memory and retained heap are back where they started.
 *
 * <p>{@link #ciSoak} runs in every build (2 x 10^5 frames). {@link #fullSoak} is tagged {@code soak},
 * excluded by default, and pushes {@code -Dvnet.soak.frames} (default 10^8) frames: {@code bin/soak}.
 */
class SoakTest {

    static final Duration WAIT = Duration.ofSeconds(10);
    static final int PAIRS = 4;
    static final int BATCH = 64;

    @Test
    @Timeout(value = 120, unit = TimeUnit.SECONDS)
    void ciSoak() throws Exception {
        soak(Long.getLong("vnet.soak.ci.frames", 200_000), 20_000);
    }

    @Test
    @Tag("soak")
    void fullSoak() throws Exception {
        long frames = Long.getLong("vnet.soak.frames", 100_000_000L);
        soak(frames, Math.max(20_000, frames / 400));
    }

    private static void soak(long total, long phaseFrames) throws Exception {
        long workerFailures = DeviceWorker.failures();
        String id = Bed.uniqueId("soak");
        CveRegressionTest.Footprint before = CveRegressionTest.Footprint.measure(id);
        NetDeviceConfig config = Bed.config().id(id).queuePairs(PAIRS).build();
        InJvmBackend backend = InJvmBackend.loopback(id, PAIRS, InJvmBackend.DEFAULT_RING_BYTES);
        VirtioNetDevice device = new VirtioNetDevice(config, backend);
        Random random = new Random(42);
        long[] nextSeq = new long[PAIRS];
        long sent = 0;
        long linkDownFrames = 0;
        int resets = 0;
        int pairChanges = 0;
        int flaps = 0;
        long t0 = System.nanoTime();
        Guest guest = new Guest(device);
        try {
            int active = PAIRS;
            while (sent < total) {
                long phaseEnd = Math.min(total, sent + phaseFrames);
                byte[] frame = Frames.ethernet(Frames.DEVICE_MAC, Frames.OTHER_MAC, 64, 0);
                while (sent < phaseEnd) {
                    for (int p = 0; p < active && sent < phaseEnd; p++) {
                        int n = (int) Math.min(BATCH, phaseEnd - sent);
                        for (int i = 0; i < n; i++) {
                            stamp(frame, p, nextSeq[p] + i);
                            if (guest.driver.send(p, frame) < 0) {
                                throw new AssertionError("TX ring full on pair " + p);
                            }
                        }
                        for (int i = 0; i < n; i++) {
                            VirtioNetDriver.Received r = guest.driver.receiveAndRefill(p, WAIT);
                            if (r == null) {
                                throw new AssertionError("lost frame " + (nextSeq[p] + i) + " on pair " + p
                                        + " after " + sent + " frames (" + resets + " resets, " + pairChanges
                                        + " pair changes, " + flaps + " link flaps); stats " + device.stats().rx(p)
                                        .getDrops() + " rx drops");
                            }
                            long seq = seqOf(r.frame());
                            if (seqPair(r.frame()) != p || seq != nextSeq[p] + i) {
                                throw new AssertionError("pair " + p + " expected seq " + (nextSeq[p] + i) + " got "
                                        + seq + " of pair " + seqPair(r.frame()));
                            }
                        }
                        nextSeq[p] += n;
                        sent += n;
                    }
                }
                if (sent >= total) {
                    break;
                }
                switch (random.nextInt(3)) {
                    case 0 -> {
                        guest.close();
                        device.reset();
                        guest = new Guest(device);
                        active = PAIRS;
                        resets++;
                    }
                    case 1 -> {
                        active = 1 + random.nextInt(PAIRS);
                        assertThat(guest.driver.command(4, 0, VirtioNetDriver.le16(active))).isZero();
                        pairChanges++;
                    }
                    default -> {
                        long dropsBefore = device.stats().tx(0).drops(DropReason.LINK_DOWN);
                        device.setLinkUp(false);
                        int n = 1 + random.nextInt(BATCH);
                        for (int i = 0; i < n; i++) {
                            guest.driver.send(0, frame);
                        }
                        guest.driver.awaitTxDone(0, WAIT);
                        assertThat(device.stats().tx(0).drops(DropReason.LINK_DOWN) - dropsBefore)
                                .as("frames sent while the link was down").isEqualTo(n);
                        linkDownFrames += n;
                        device.setLinkUp(true);
                        flaps++;
                    }
                }
            }
            assertThat(guest.harness.interrupts().needsReset()).isFalse();
            for (int p = 0; p < PAIRS; p++) {
                assertThat(device.stats().rx(p).getDrops()).as("RX drops on pair %d", p).isZero();
            }
        } finally {
            guest.close();
            device.close();
        }
        double seconds = (System.nanoTime() - t0) / 1e9;
        CveRegressionTest.Footprint after = CveRegressionTest.Footprint.measure(id);
        System.out.printf("soak: %d frames in %.1f s (%.0f frames/s), %d resets, %d pair changes, %d link flaps"
                        + " (%d frames dropped while down); before %s; after %s%n", sent, seconds, sent / seconds,
                resets, pairChanges, flaps, linkDownFrames, before, after);
        assertThat(DeviceWorker.failures()).as("workers that threw").isEqualTo(workerFailures);
        after.assertNoGrowthSince(before);
    }

    /** One driver incarnation: its own guest RAM, rings and buffers, freed on close. */
    private static final class Guest implements AutoCloseable {
        final FakeGuestMemory mem = new FakeGuestMemory(0x10_0000L, 32L << 20);
        final NetHarness harness;
        final NetDriver driver;

        Guest(VirtioNetDevice device) throws InterruptedException {
            harness = new NetHarness(device, mem, false);
            harness.negotiate(NetFeatures.rules(NetFeatures.ALL).closeOverDependencies(NetFeatures.ALL));
            harness.start();
            driver = new NetDriver(harness);
            driver.open(harness.layoutPairs());
        }

        @Override
        public void close() {
            harness.device().reset();
            mem.close();
        }
    }

    private static void stamp(byte[] frame, int pair, long seq) {
        frame[14] = (byte) pair;
        for (int k = 0; k < 8; k++) {
            frame[15 + k] = (byte) (seq >>> (8 * k));
        }
    }

    private static int seqPair(byte[] frame) {
        return frame[14];
    }

    private static long seqOf(byte[] frame) {
        long v = 0;
        for (int k = 0; k < 8; k++) {
            v |= (long) (frame[15 + k] & 0xFF) << (8 * k);
        }
        return v;
    }
}
