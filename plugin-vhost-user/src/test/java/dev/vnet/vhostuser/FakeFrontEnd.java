package dev.vnet.vhostuser;

import static org.assertj.core.api.Assertions.assertThat;

import dev.vnet.linux.Libc;
import dev.vnet.testkit.Buffer;
import dev.vnet.testkit.DriverQueue;
import dev.vnet.testkit.FakeGuestMemory;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.ToIntFunction;

/**
 * A fake vhost-user front-end (what QEMU does, in miniature) over a real Unix socket: guest memory is a
 * memfd mapped here and passed to the back-end, which maps it again; the testkit's driver model fills
 * the rings in this mapping while the back-end's device serves them. It connects to a back-end that
 * listens, or accepts a back-end that connects ({@code mode = client}).
 */
final class FakeFrontEnd implements AutoCloseable {

    static final long GPA = 0x4000_0000L;
    static final long SIZE = 4 << 20;
    static final int QSIZE = 64;
    static final int V = VhostUser.VERSION;

    private final int memfd;
    private final MemorySegment mapping;
    private final FakeGuestMemory mem;
    private final List<Integer> eventfds = new ArrayList<>();
    private MessageChannel ch;

    FakeFrontEnd() {
        this(false);
    }

    /** @param sealable whether the guest memfd allows sealing ({@code MFD_ALLOW_SEALING}) */
    FakeFrontEnd(boolean sealable) {
        memfd = Native.memfdCreate("guest", SIZE, sealable);
        mapping = Native.mmap(memfd, SIZE, 0);
        mem = new FakeGuestMemory(GPA, mapping);
    }

    /** Connects to a back-end listening at {@code socket}. */
    FakeFrontEnd connect(Path socket) {
        int fd = Native.socket();
        Native.connect(fd, socket.toString());
        ch = new MessageChannel(fd);
        return this;
    }

    /** A listening socket at {@code socket} for a back-end in client mode to connect to. */
    static int listen(Path socket) {
        int fd = Native.socket();
        Native.bind(fd, socket.toString());
        Native.listen(fd, 1);
        return fd;
    }

    /** Waits for the back-end to connect to {@code listenFd}. */
    FakeFrontEnd accept(int listenFd) {
        ch = new MessageChannel(Native.accept(listenFd));
        return this;
    }

    MessageChannel channel() {
        return ch;
    }

    /** Closes the connection (the memory stays), so the same front-end can connect again. */
    void disconnect() {
        if (ch != null) {
            ch.close();
            ch = null;
        }
    }

    /** A request with a reply: returns its u64. */
    long request(int request, byte[] payload, int... fds) {
        ch.send(request, V, payload, fds);
        Message r = ch.readReply();
        assertThat(r.request()).isEqualTo(request);
        return r.buffer().getLong(0);
    }

    /** A request with NEED_REPLY: returns the REPLY_ACK status. */
    long acked(int request, byte[] payload, int... fds) {
        ch.send(request, V | VhostUser.FLAG_NEED_REPLY, payload, fds);
        Message r = ch.readReply();
        assertThat(r.request()).isEqualTo(request);
        assertThat(r.flags() & VhostUser.FLAG_REPLY).isNotZero();
        return r.buffer().getLong(0);
    }

    /** SET_OWNER, features, protocol features, GET_QUEUE_NUM ({@code pairs}) and the memory table. */
    void negotiate(long features, int pairs) {
        negotiateFeatures(features, pairs);
        assertThat(memTable(SIZE, 0)).isZero();
    }

    /** {@link #negotiate} without the memory table. */
    void negotiateFeatures(long features, int pairs) {
        ch.send(VhostUser.SET_OWNER, V, new byte[0], new int[0]);
        long offered = request(VhostUser.GET_FEATURES, new byte[0]);
        assertThat(offered & features).isEqualTo(features);
        long protocol = request(VhostUser.GET_PROTOCOL_FEATURES, new byte[0]);
        ch.send(VhostUser.SET_PROTOCOL_FEATURES, V, Message.u64Payload(protocol), new int[0]);
        assertThat(request(VhostUser.GET_QUEUE_NUM, new byte[0])).isEqualTo(pairs);
        assertThat(acked(VhostUser.SET_FEATURES, Message.u64Payload(features))).isZero();
    }

    /** SET_MEM_TABLE of one region over the memfd, {@code size} bytes from {@code offset}: the status. */
    long memTable(long size, long offset) {
        byte[] table = BackendProtocolTest.memTable(1, new long[] {GPA, size, mapping.address(), offset});
        return acked(VhostUser.SET_MEM_TABLE, table, memfd);
    }

    // ---- what the front-end's own process can do to its memfd (0 or the errno) ----

    int truncate(long size) {
        return ownCall(state -> Libc.ftruncate(state, memfd, size));
    }

    int addSeals(int seals) {
        return ownCall(state -> Libc.fcntl(state, memfd, Libc.F_ADD_SEALS, seals));
    }

    /** The memfd's seals ({@code F_GET_SEALS}). */
    int seals() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = Libc.newCallState(arena);
            return Libc.check(Libc.fcntl(state, memfd, Libc.F_GET_SEALS, 0), state, "fcntl(F_GET_SEALS)");
        }
    }

    long fileSize() {
        return Native.fileStatus(memfd).size();
    }

    private static int ownCall(ToIntFunction<MemorySegment> call) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = Libc.newCallState(arena);
            return call.applyAsInt(state) < 0 ? Libc.errno(state) : 0;
        }
    }

    /** A driver-side ring of {@link #QSIZE} entries in this front-end's memory. */
    DriverQueue queue() {
        return new DriverQueue(mem, QSIZE, false, false);
    }

    /** Programs ring {@code index} from {@code q} starting at {@code base}; returns {kick, call} eventfds. */
    int[] ring(int index, DriverQueue q, int base) {
        assertThat(acked(VhostUser.SET_VRING_NUM, Message.vringStatePayload(index, QSIZE))).isZero();
        assertThat(acked(VhostUser.SET_VRING_BASE, Message.vringStatePayload(index, base))).isZero();
        byte[] addr = ByteBuffer.allocate(40).order(ByteOrder.LITTLE_ENDIAN).putInt(index).putInt(0)
                .putLong(user(q.descAddr())).putLong(user(q.usedAddr())).putLong(user(q.availAddr())).putLong(0).array();
        assertThat(acked(VhostUser.SET_VRING_ADDR, addr)).isZero();
        int call = eventfd(true);
        int kick = eventfd(false);
        assertThat(acked(VhostUser.SET_VRING_CALL, Message.u64Payload(index), call)).isZero();
        assertThat(acked(VhostUser.SET_VRING_KICK, Message.u64Payload(index), kick)).isZero();
        assertThat(acked(VhostUser.SET_VRING_ENABLE, Message.vringStatePayload(index, 1))).isZero();
        return new int[] {kick, call};
    }

    private int eventfd(boolean nonBlocking) {
        int fd = Native.eventfd(nonBlocking);
        eventfds.add(fd);
        return fd;
    }

    private long user(long gpa) {
        return mapping.address() + (gpa - GPA);
    }

    /** A 60-byte broadcast frame after a 12-byte virtio-net header, marked with {@code seq}. */
    static byte[] frame(int seq) {
        byte[] f = new byte[12 + 60];
        Arrays.fill(f, 12, 18, (byte) 0xFF); // broadcast destination
        f[18] = 0x52;
        f[23] = (byte) seq;
        f[24] = 0x08; // IPv4 ethertype, payload is just a marker
        f[26] = (byte) seq;
        return f;
    }

    static DriverQueue.Used waitUsed(DriverQueue q) throws InterruptedException {
        for (int i = 0; i < 500; i++) {
            DriverQueue.Used u = q.getBuf();
            if (u != null) {
                return u;
            }
            Thread.sleep(10);
        }
        return null;
    }

    /** Offers one 2 KiB receive buffer for frame {@code seq} and kicks; returns its address. */
    long postRx(DriverQueue rx, int[] rxFds, int seq) {
        long buf = mem.alloc(2048, 16);
        rx.addIn("rx" + seq, new Buffer(buf, 2048));
        rx.kickPrepare();
        Native.signal(rxFds[0]);
        return buf;
    }

    /** Transmits frame {@code seq}, kicks, and checks that the device used the buffer. */
    void send(DriverQueue tx, int[] txFds, int seq) throws InterruptedException {
        long buf = mem.alloc(72, 16);
        mem.write(buf, frame(seq));
        tx.addOut("tx" + seq, new Buffer(buf, 72));
        tx.kickPrepare();
        Native.signal(txFds[0]);
        DriverQueue.Used sent = waitUsed(tx);
        assertThat(sent).isNotNull();
        assertThat(sent.token()).isEqualTo("tx" + seq);
    }

    /** Checks that frame {@code seq} arrived in the buffer {@link #postRx} offered and the call fd fired. */
    void expectReceived(DriverQueue rx, int[] rxFds, long buf, int seq) throws InterruptedException {
        DriverQueue.Used got = waitUsed(rx);
        assertThat(got).isNotNull();
        assertThat(got.token()).isEqualTo("rx" + seq);
        assertThat(got.length()).isEqualTo(72);
        assertThat(mem.read(buf + 12, 60)).isEqualTo(Arrays.copyOfRange(frame(seq), 12, 72));
        assertThat(Native.drain(rxFds[1])).isPositive();
    }

    /** Sends frame {@code seq} on {@code tx} and expects it back on {@code rx} (a loopback backend). */
    void roundTrip(DriverQueue rx, DriverQueue tx, int[] rxFds, int[] txFds, int seq) throws InterruptedException {
        long buf = postRx(rx, rxFds, seq);
        send(tx, txFds, seq);
        expectReceived(rx, rxFds, buf, seq);
    }

    @Override
    public void close() {
        disconnect();
        for (int fd : eventfds) {
            Native.close(fd);
        }
        Native.munmap(mapping);
        Native.close(memfd);
    }
}
