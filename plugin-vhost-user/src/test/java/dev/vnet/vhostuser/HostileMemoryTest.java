package dev.vnet.vhostuser;

import static dev.vnet.vhostuser.FakeFrontEnd.SIZE;
import static org.assertj.core.api.Assertions.assertThat;

import dev.vnet.linux.Errno;
import dev.vnet.linux.Libc;
import dev.vnet.net.NetDeviceConfig;
import dev.vnet.net.VirtioNetDevice;
import dev.vnet.net.backend.InJvmBackend;
import dev.vnet.testkit.DriverQueue;
import dev.vnet.virtio.DeviceWorker;
import dev.vnet.virtio.VirtioFeatures;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A front-end that shrinks the memory it handed over. With a memfd that allows sealing, SET_MEM_TABLE
 * seals it and the kernel refuses the shrink; with one that does not, the shrink succeeds and the next
 * ring access by a device worker raises SIGBUS: that session ends (logged, counted, err eventfd written,
 * connection closed) while the JVM and every other connection keep going. A table that claims more than
 * its file holds is refused up front.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class HostileMemoryTest {

    private static final AtomicInteger IDS = new AtomicInteger();
    private static final Duration WAIT = Duration.ofSeconds(10);
    private static final long FEATURES = VirtioFeatures.bit(VirtioFeatures.VIRTIO_F_VERSION_1)
            | (1L << VhostUser.F_PROTOCOL_FEATURES);

    @TempDir
    Path dir;

    /** A loopback device with two queue pairs served on its own socket, as the launcher does. */
    private static final class Served implements AutoCloseable {
        final Path socket;
        final VirtioNetDevice device;
        final VhostUserBackend backend;
        final VhostUserServer server;

        Served(Path dir) {
            String id = "hm" + IDS.incrementAndGet();
            socket = dir.resolve(id + ".sock");
            device = new VirtioNetDevice(NetDeviceConfig.builder().id(id).queuePairs(2).build(),
                    InJvmBackend.loopback(id, 2, 1 << 18));
            backend = new VhostUserBackend(device);
            server = new VhostUserServer(socket, false, backend).start();
        }

        @Override
        public void close() {
            server.close();
            backend.close();
            device.close();
        }
    }

    /** Queue pair 0 as a front-end drives it: its rings and our {kick, call} eventfds. */
    private record Pair(FakeFrontEnd fe, DriverQueue rx, DriverQueue tx, int[] rxFds, int[] txFds) {
        static Pair start(FakeFrontEnd fe, Served served) {
            DriverQueue rx = fe.queue();
            DriverQueue tx = fe.queue();
            Pair p = new Pair(fe, rx, tx, fe.ring(0, rx, 0), fe.ring(1, tx, 0));
            assertThat(served.backend.isRunning(0) && served.backend.isRunning(1)).isTrue();
            return p;
        }

        void roundTrip(int seq) throws InterruptedException {
            fe.roundTrip(rx, tx, rxFds, txFds, seq);
        }
    }

    @Test
    void shrinkingUnsealableMemoryEndsThatSessionOnlyAndTheNextFrontEndIsServed() throws Exception {
        long failures = DeviceWorker.failures();
        long faults = DeviceWorker.memoryFaults();
        try (Served victim = new Served(dir); Served bystander = new Served(dir);
             FakeFrontEnd hostile = new FakeFrontEnd(false); FakeFrontEnd other = new FakeFrontEnd(false)) {
            hostile.connect(victim.socket).negotiate(FEATURES, 2);
            other.connect(bystander.socket).negotiate(FEATURES, 2);
            assertThat(victim.backend.sealedRegions()).containsExactly(false);
            Pair hostilePair = Pair.start(hostile, victim);
            Pair otherPair = Pair.start(other, bystander);
            int err = Native.eventfd(true);
            assertThat(hostile.acked(VhostUser.SET_VRING_ERR, Message.u64Payload(1), err)).isZero();
            hostilePair.roundTrip(0);
            otherPair.roundTrip(0);

            // Without a seal the kernel lets the front-end take its memory back; from here on nobody may
            // touch that mapping (our own view of it included), so the test only kicks.
            assertThat(hostile.truncate(0)).isZero();
            Native.signal(hostilePair.txFds()[0]);

            assertThat(hostile.channel().readReply()).as("the back-end closes the connection").isNull();
            await(() -> victim.backend.memoryFaults() == 1 && !victim.backend.needsReset()
                    && !victim.backend.isRunning(1));
            assertThat(Native.drain(err)).as("the ring's err eventfd was written").isPositive();
            assertThat(DeviceWorker.memoryFaults()).isGreaterThan(faults);
            assertThat(DeviceWorker.failures()).as("a memory fault is not a device bug").isEqualTo(failures);
            assertThat(victim.server.protocolErrors()).isZero();

            // The other connection never noticed, and the same socket serves the next front-end.
            otherPair.roundTrip(1);
            try (FakeFrontEnd next = new FakeFrontEnd(false)) {
                next.connect(victim.socket).negotiate(FEATURES, 2);
                Pair.start(next, victim).roundTrip(7);
            }
            assertThat(victim.server.connections()).isEqualTo(2);
            assertThat(victim.backend.memoryFaults()).isEqualTo(1);
            Native.close(err);
        }
    }

    @Test
    void sealableMemoryIsSealedSoTheKernelRefusesTheShrink() throws Exception {
        try (Served served = new Served(dir); FakeFrontEnd fe = new FakeFrontEnd(true)) {
            assertThat(fe.seals() & Libc.F_SEAL_SHRINK).isZero();
            fe.connect(served.socket).negotiate(FEATURES, 2);
            assertThat(served.backend.sealedRegions()).containsExactly(true);
            assertThat(fe.seals() & Libc.F_SEAL_SHRINK).isNotZero();
            Pair pair = Pair.start(fe, served);
            pair.roundTrip(0);

            assertThat(fe.truncate(0)).isEqualTo(Errno.EPERM);
            assertThat(fe.truncate(SIZE / 2)).isEqualTo(Errno.EPERM);
            assertThat(fe.fileSize()).isEqualTo(SIZE);
            pair.roundTrip(1);
            assertThat(served.backend.memoryFaults()).isZero();
        }
    }

    @Test
    void memoryTheFrontEndSealedItselfCountsAsSealed() throws Exception {
        try (Served served = new Served(dir); FakeFrontEnd fe = new FakeFrontEnd(true)) {
            // QEMU's memory-backend-memfd (seal=on): shrink, grow and no further seals.
            assertThat(fe.addSeals(Libc.F_SEAL_SHRINK | Libc.F_SEAL_GROW | Libc.F_SEAL_SEAL)).isZero();
            fe.connect(served.socket).negotiate(FEATURES, 2);
            assertThat(served.backend.sealedRegions()).containsExactly(true);
            Pair.start(fe, served).roundTrip(0);
        }
    }

    @Test
    void tableClaimingMoreThanTheFileHoldsIsRefused() throws Exception {
        try (Served served = new Served(dir); FakeFrontEnd fe = new FakeFrontEnd(false)) {
            fe.connect(served.socket).negotiateFeatures(FEATURES, 2);
            assertThat(fe.memTable(2 * SIZE, 0)).as("twice the file").isNotZero();
            assertThat(fe.memTable(SIZE, 4096)).as("the whole size from an offset").isNotZero();
            assertThat(served.backend.sealedRegions()).isEmpty();
            // Refused, not fatal: the connection stays and a table that fits works.
            assertThat(fe.memTable(SIZE - 4096, 4096)).isZero();
            assertThat(served.backend.sealedRegions()).containsExactly(false);
            assertThat(fe.memTable(SIZE, 0)).isZero();
            Pair.start(fe, served).roundTrip(0);
            assertThat(served.server.connections()).isEqualTo(1);
            assertThat(served.server.protocolErrors()).isZero();
        }
    }

    private static void await(BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + WAIT.toNanos();
        while (!condition.getAsBoolean()) {
            assertThat(System.nanoTime()).as("timed out").isLessThan(deadline);
            Thread.sleep(5);
        }
    }
}
