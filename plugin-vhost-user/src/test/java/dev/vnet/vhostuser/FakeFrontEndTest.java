package dev.vnet.vhostuser;

import static org.assertj.core.api.Assertions.assertThat;

import dev.vnet.net.NetDeviceConfig;
import dev.vnet.net.VirtioNetDevice;
import dev.vnet.net.backend.InJvmBackend;
import dev.vnet.testkit.DriverQueue;
import dev.vnet.virtio.VirtioFeatures;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A {@link FakeFrontEnd} against the real {@link VirtioNetDevice} with a loopback backend, served by a
 * {@link VhostUserServer} on a real Unix socket.
 */
class FakeFrontEndTest {

    private static final AtomicInteger IDS = new AtomicInteger();
    private static final int V = VhostUser.VERSION;
    private static final long BASE_FEATURES = VirtioFeatures.bit(VirtioFeatures.VIRTIO_F_VERSION_1)
            | (1L << VhostUser.F_PROTOCOL_FEATURES);

    @TempDir
    Path dir;

    private VirtioNetDevice device;
    private VhostUserBackend backend;
    private VhostUserServer server;
    private FakeFrontEnd fe;

    @BeforeEach
    void start() {
        String id = "fe" + IDS.incrementAndGet();
        device = new VirtioNetDevice(NetDeviceConfig.builder().id(id).queuePairs(2).build(),
                InJvmBackend.loopback(id, 2, 1 << 18));
        backend = new VhostUserBackend(device);
        server = new VhostUserServer(dir.resolve("vhost.sock"), false, backend).start();
        fe = new FakeFrontEnd();
    }

    @AfterEach
    void stop() {
        fe.disconnect();
        server.close();
        backend.close();
        device.close();
        fe.close();
    }

    private FakeFrontEnd connect() {
        return fe.connect(dir.resolve("vhost.sock"));
    }

    /** Programs ring {@code index} and checks that the device runs it. */
    private int[] ring(int index, DriverQueue q, int base) {
        int[] fds = fe.ring(index, q, base);
        assertThat(backend.isRunning(index)).isTrue();
        return fds;
    }

    @Test
    void loopbackThroughTheRingsWithEventfds() throws Exception {
        connect().negotiate(BASE_FEATURES, 2);
        DriverQueue rx = fe.queue();
        DriverQueue tx = fe.queue();
        int[] rxFds = ring(0, rx, 0);
        int[] txFds = ring(1, tx, 0);
        for (int seq = 0; seq < 5; seq++) {
            fe.roundTrip(rx, tx, rxFds, txFds, seq);
        }
        // GET_VRING_BASE stops the ring and returns the next available index.
        fe.channel().send(VhostUser.GET_VRING_BASE, V, Message.vringStatePayload(1, 0), new int[0]);
        Message base = fe.channel().readReply();
        assertThat(base.buffer().getInt(0)).isEqualTo(1);
        assertThat(base.buffer().getInt(4)).isEqualTo(5);
        assertThat(backend.isRunning(1)).isFalse();
        // Restarting from that base resumes where it stopped.
        int[] again = ring(1, tx, base.buffer().getInt(4));
        fe.roundTrip(rx, tx, rxFds, again, 5);
    }

    @Test
    void secondQueuePairCarriesTrafficOnceEnabled() throws Exception {
        connect().negotiate(BASE_FEATURES | (1L << dev.vnet.net.NetFeatures.VIRTIO_NET_F_MQ), 2);
        DriverQueue rx0 = fe.queue();
        DriverQueue tx0 = fe.queue();
        DriverQueue rx1 = fe.queue();
        DriverQueue tx1 = fe.queue();
        int[] a = ring(0, rx0, 0);
        int[] b = ring(1, tx0, 0);
        int[] c = ring(2, rx1, 0);
        int[] d = ring(3, tx1, 0);
        assertThat(device.activeQueuePairs()).isEqualTo(2);
        fe.roundTrip(rx1, tx1, c, d, 1);
        fe.roundTrip(rx0, tx0, a, b, 2);
    }

    @Test
    void malformedMessageClosesTheConnectionAndTheNextFrontEndIsServed() throws Exception {
        connect().negotiate(BASE_FEATURES, 2);
        ring(0, fe.queue(), 0);
        fe.channel().send(VhostUser.SET_VRING_NUM, V, new byte[5], new int[0]);
        assertThat(fe.channel().readReply()).isNull(); // closed by the back-end
        fe.disconnect();
        connect();
        assertThat(fe.request(VhostUser.GET_FEATURES, new byte[0])).isEqualTo(backend.offeredFeatures());
        assertThat(backend.isRunning(0)).isFalse();
        assertThat(backend.ackedFeatures()).isZero();
        assertThat(server.protocolErrors()).isEqualTo(1);
        assertThat(server.connections()).isEqualTo(2);
    }

    /**
     * The front-end leaves and the server is closed at once, while its thread still resets the back-end
     * (joining the device workers). Closing used to interrupt that thread, cutting the join short: the
     * server thread died with "worker ... did not stop within 10 s".
     */
    @Test
    void closingTheServerWhileItResetsTheBackEndKillsNoThread() throws Exception {
        List<Throwable> uncaught = new CopyOnWriteArrayList<>();
        Thread.UncaughtExceptionHandler previous = Thread.getDefaultUncaughtExceptionHandler();
        Thread.setDefaultUncaughtExceptionHandler((t, e) -> uncaught.add(e));
        try {
            for (int i = 0; i < 10; i++) {
                VhostUserServer s = new VhostUserServer(dir.resolve("close" + i + ".sock"), false, backend).start();
                fe.connect(dir.resolve("close" + i + ".sock")).negotiate(BASE_FEATURES, 2);
                DriverQueue rx = fe.queue();
                DriverQueue tx = fe.queue();
                fe.roundTrip(rx, tx, ring(0, rx, 0), ring(1, tx, 0), i);
                fe.disconnect();
                s.close();
            }
        } finally {
            Thread.setDefaultUncaughtExceptionHandler(previous);
        }
        assertThat(uncaught).isEmpty();
    }

    @Test
    void ringOutsideTheMemoryTableIsReportedNotFatal() throws Exception {
        connect().negotiate(BASE_FEATURES, 2);
        assertThat(fe.acked(VhostUser.SET_VRING_NUM, Message.vringStatePayload(0, FakeFrontEnd.QSIZE))).isZero();
        byte[] addr = ByteBuffer.allocate(40).order(ByteOrder.LITTLE_ENDIAN).putInt(0).putInt(0)
                .putLong(0x10).putLong(0x20).putLong(0x30).putLong(0).array();
        assertThat(fe.acked(VhostUser.SET_VRING_ADDR, addr)).isZero();
        int kick = Native.eventfd(false);
        assertThat(fe.acked(VhostUser.SET_VRING_KICK, Message.u64Payload(0), kick)).isZero();
        assertThat(fe.acked(VhostUser.SET_VRING_ENABLE, Message.vringStatePayload(0, 1))).isNotZero();
        assertThat(backend.isRunning(0)).isFalse();
        assertThat(fe.request(VhostUser.GET_FEATURES, new byte[0])).isEqualTo(backend.offeredFeatures());
        Native.close(kick);
    }
}
