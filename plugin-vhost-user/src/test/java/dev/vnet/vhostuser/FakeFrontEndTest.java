package dev.vnet.vhostuser;

import static org.assertj.core.api.Assertions.assertThat;

import dev.vnet.net.NetDeviceConfig;
import dev.vnet.net.VirtioNetDevice;
import dev.vnet.net.backend.InJvmBackend;
import dev.vnet.testkit.Buffer;
import dev.vnet.testkit.DriverQueue;
import dev.vnet.testkit.FakeGuestMemory;
import dev.vnet.virtio.VirtioFeatures;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A fake vhost-user front-end (what QEMU does, in miniature) over a real Unix socket: guest memory is a
 * memfd mapped here and passed to the back-end, which maps it again; the testkit's driver model fills
 * the rings in this mapping while the real {@link VirtioNetDevice} with a loopback backend serves them.
 */
class FakeFrontEndTest {

    private static final AtomicInteger IDS = new AtomicInteger();
    private static final long GPA = 0x4000_0000L;
    private static final long SIZE = 4 << 20;
    private static final int QSIZE = 64;
    private static final int V = VhostUser.VERSION;

    @TempDir
    Path dir;

    private VirtioNetDevice device;
    private VhostUserBackend backend;
    private VhostUserServer server;
    private int memfd;
    private MemorySegment mapping;
    private FakeGuestMemory mem;
    private MessageChannel ch;

    @BeforeEach
    void start() {
        String id = "fe" + IDS.incrementAndGet();
        device = new VirtioNetDevice(NetDeviceConfig.builder().id(id).queuePairs(2).build(),
                InJvmBackend.loopback(id, 2, 1 << 18));
        backend = new VhostUserBackend(device);
        server = new VhostUserServer(dir.resolve("vhost.sock"), false, backend).start();
        memfd = Native.memfdCreate("guest", SIZE);
        mapping = Native.mmap(memfd, SIZE, 0);
        mem = new FakeGuestMemory(GPA, mapping);
    }

    @AfterEach
    void stop() {
        if (ch != null) {
            ch.close();
        }
        server.close();
        backend.close();
        device.close();
        Native.munmap(mapping);
        Native.close(memfd);
    }

    private MessageChannel connect() {
        int fd = Native.socket();
        Native.connect(fd, dir.resolve("vhost.sock").toString());
        return new MessageChannel(fd);
    }

    private long request(int request, byte[] payload, int... fds) {
        ch.send(request, V, payload, fds);
        Message r = ch.readReply();
        assertThat(r.request()).isEqualTo(request);
        return r.buffer().getLong(0);
    }

    /** A request with NEED_REPLY: returns the REPLY_ACK status. */
    private long acked(int request, byte[] payload, int... fds) {
        ch.send(request, V | VhostUser.FLAG_NEED_REPLY, payload, fds);
        Message r = ch.readReply();
        assertThat(r.request()).isEqualTo(request);
        assertThat(r.flags() & VhostUser.FLAG_REPLY).isNotZero();
        return r.buffer().getLong(0);
    }

    private long user(long gpa) {
        return mapping.address() + (gpa - GPA);
    }

    private void negotiate(long features) {
        ch.send(VhostUser.SET_OWNER, V, new byte[0], new int[0]);
        long offered = request(VhostUser.GET_FEATURES, new byte[0]);
        assertThat(offered & features).isEqualTo(features);
        long protocol = request(VhostUser.GET_PROTOCOL_FEATURES, new byte[0]);
        ch.send(VhostUser.SET_PROTOCOL_FEATURES, V, Message.u64Payload(protocol), new int[0]);
        assertThat(request(VhostUser.GET_QUEUE_NUM, new byte[0])).isEqualTo(2);
        assertThat(acked(VhostUser.SET_FEATURES, Message.u64Payload(features))).isZero();
        byte[] table = BackendProtocolTest.memTable(1, new long[] {GPA, SIZE, mapping.address(), 0});
        assertThat(acked(VhostUser.SET_MEM_TABLE, table, memfd)).isZero();
    }

    /** Programs ring {@code index} from {@code q}; returns {kick, call} eventfds (ours). */
    private int[] ring(int index, DriverQueue q) {
        return ring(index, q, 0);
    }

    private int[] ring(int index, DriverQueue q, int base) {
        assertThat(acked(VhostUser.SET_VRING_NUM, Message.vringStatePayload(index, QSIZE))).isZero();
        assertThat(acked(VhostUser.SET_VRING_BASE, Message.vringStatePayload(index, base))).isZero();
        byte[] addr = ByteBuffer.allocate(40).order(ByteOrder.LITTLE_ENDIAN).putInt(index).putInt(0)
                .putLong(user(q.descAddr())).putLong(user(q.usedAddr())).putLong(user(q.availAddr())).putLong(0).array();
        assertThat(acked(VhostUser.SET_VRING_ADDR, addr)).isZero();
        int call = Native.eventfd(true);
        int kick = Native.eventfd(false);
        assertThat(acked(VhostUser.SET_VRING_CALL, Message.u64Payload(index), call)).isZero();
        assertThat(acked(VhostUser.SET_VRING_KICK, Message.u64Payload(index), kick)).isZero();
        assertThat(acked(VhostUser.SET_VRING_ENABLE, Message.vringStatePayload(index, 1))).isZero();
        assertThat(backend.isRunning(index)).isTrue();
        return new int[] {kick, call};
    }

    private static byte[] frame(int seq) {
        byte[] f = new byte[12 + 60];
        Arrays.fill(f, 12, 18, (byte) 0xFF); // broadcast destination
        f[18] = 0x52;
        f[23] = (byte) seq;
        f[24] = 0x08; // IPv4 ethertype, payload is just a marker
        f[26] = (byte) seq;
        return f;
    }

    private static DriverQueue.Used waitUsed(DriverQueue q) throws InterruptedException {
        for (int i = 0; i < 500; i++) {
            DriverQueue.Used u = q.getBuf();
            if (u != null) {
                return u;
            }
            Thread.sleep(10);
        }
        return null;
    }

    private void roundTrip(DriverQueue rx, DriverQueue tx, int[] rxFds, int[] txFds, int seq) throws Exception {
        long rxBuf = mem.alloc(2048, 16);
        rx.addIn("rx" + seq, new Buffer(rxBuf, 2048));
        rx.kickPrepare();
        Native.signal(rxFds[0]);
        long txBuf = mem.alloc(72, 16);
        mem.write(txBuf, frame(seq));
        tx.addOut("tx" + seq, new Buffer(txBuf, 72));
        tx.kickPrepare();
        Native.signal(txFds[0]);

        DriverQueue.Used sent = waitUsed(tx);
        assertThat(sent).isNotNull();
        assertThat(sent.token()).isEqualTo("tx" + seq);
        DriverQueue.Used got = waitUsed(rx);
        assertThat(got).isNotNull();
        assertThat(got.token()).isEqualTo("rx" + seq);
        assertThat(got.length()).isEqualTo(72);
        assertThat(mem.read(rxBuf + 12, 60)).isEqualTo(Arrays.copyOfRange(frame(seq), 12, 72));
        // The used-buffer notification reached the call eventfd.
        assertThat(Native.drain(rxFds[1])).isPositive();
    }

    @Test
    void loopbackThroughTheRingsWithEventfds() throws Exception {
        ch = connect();
        negotiate(VirtioFeatures.bit(VirtioFeatures.VIRTIO_F_VERSION_1) | (1L << VhostUser.F_PROTOCOL_FEATURES));
        DriverQueue rx = new DriverQueue(mem, QSIZE, false, false);
        DriverQueue tx = new DriverQueue(mem, QSIZE, false, false);
        int[] rxFds = ring(0, rx);
        int[] txFds = ring(1, tx);
        for (int seq = 0; seq < 5; seq++) {
            roundTrip(rx, tx, rxFds, txFds, seq);
        }
        // GET_VRING_BASE stops the ring and returns the next available index.
        ch.send(VhostUser.GET_VRING_BASE, V, Message.vringStatePayload(1, 0), new int[0]);
        Message base = ch.readReply();
        assertThat(base.buffer().getInt(0)).isEqualTo(1);
        assertThat(base.buffer().getInt(4)).isEqualTo(5);
        assertThat(backend.isRunning(1)).isFalse();
        // Restarting from that base resumes where it stopped.
        int[] again = ring(1, tx, base.buffer().getInt(4));
        roundTrip(rx, tx, rxFds, again, 5);
        for (int fd : new int[] {rxFds[0], rxFds[1], txFds[0], txFds[1], again[0], again[1]}) {
            Native.close(fd);
        }
    }

    @Test
    void secondQueuePairCarriesTrafficOnceEnabled() throws Exception {
        ch = connect();
        negotiate(VirtioFeatures.bit(VirtioFeatures.VIRTIO_F_VERSION_1) | (1L << VhostUser.F_PROTOCOL_FEATURES)
                | (1L << dev.vnet.net.NetFeatures.VIRTIO_NET_F_MQ));
        DriverQueue rx0 = new DriverQueue(mem, QSIZE, false, false);
        DriverQueue tx0 = new DriverQueue(mem, QSIZE, false, false);
        DriverQueue rx1 = new DriverQueue(mem, QSIZE, false, false);
        DriverQueue tx1 = new DriverQueue(mem, QSIZE, false, false);
        int[] a = ring(0, rx0);
        int[] b = ring(1, tx0);
        int[] c = ring(2, rx1);
        int[] d = ring(3, tx1);
        assertThat(device.activeQueuePairs()).isEqualTo(2);
        roundTrip(rx1, tx1, c, d, 1);
        roundTrip(rx0, tx0, a, b, 2);
    }

    @Test
    void malformedMessageClosesTheConnectionAndTheNextFrontEndIsServed() throws Exception {
        ch = connect();
        negotiate(VirtioFeatures.bit(VirtioFeatures.VIRTIO_F_VERSION_1) | (1L << VhostUser.F_PROTOCOL_FEATURES));
        DriverQueue rx = new DriverQueue(mem, QSIZE, false, false);
        ring(0, rx);
        ch.send(VhostUser.SET_VRING_NUM, V, new byte[5], new int[0]);
        assertThat(ch.readReply()).isNull(); // closed by the back-end
        ch.close();
        ch = connect();
        assertThat(request(VhostUser.GET_FEATURES, new byte[0])).isEqualTo(backend.offeredFeatures());
        assertThat(backend.isRunning(0)).isFalse();
        assertThat(backend.ackedFeatures()).isZero();
        assertThat(server.protocolErrors()).isEqualTo(1);
        assertThat(server.connections()).isEqualTo(2);
    }

    @Test
    void ringOutsideTheMemoryTableIsReportedNotFatal() throws Exception {
        ch = connect();
        negotiate(VirtioFeatures.bit(VirtioFeatures.VIRTIO_F_VERSION_1) | (1L << VhostUser.F_PROTOCOL_FEATURES));
        assertThat(acked(VhostUser.SET_VRING_NUM, Message.vringStatePayload(0, QSIZE))).isZero();
        byte[] addr = ByteBuffer.allocate(40).order(ByteOrder.LITTLE_ENDIAN).putInt(0).putInt(0)
                .putLong(0x10).putLong(0x20).putLong(0x30).putLong(0).array();
        assertThat(acked(VhostUser.SET_VRING_ADDR, addr)).isZero();
        int kick = Native.eventfd(false);
        assertThat(acked(VhostUser.SET_VRING_KICK, Message.u64Payload(0), kick)).isZero();
        assertThat(acked(VhostUser.SET_VRING_ENABLE, Message.vringStatePayload(0, 1))).isNotZero();
        assertThat(backend.isRunning(0)).isFalse();
        assertThat(request(VhostUser.GET_FEATURES, new byte[0])).isEqualTo(backend.offeredFeatures());
    }
}
