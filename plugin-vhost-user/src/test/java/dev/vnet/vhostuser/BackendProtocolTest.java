package dev.vnet.vhostuser;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.vnet.net.NetDeviceConfig;
import dev.vnet.net.NetFeatures;
import dev.vnet.net.VirtioNetDevice;
import dev.vnet.net.backend.InJvmBackend;
import dev.vnet.virtio.VirtioFeatures;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Each request's parsing and checks, driven straight into {@link VhostUserBackend#handle}. */
class BackendProtocolTest {

    private static final AtomicInteger IDS = new AtomicInteger();
    private static final int V = VhostUser.VERSION;

    private VirtioNetDevice device;
    private VhostUserBackend backend;

    @BeforeEach
    void open() {
        String id = "proto" + IDS.incrementAndGet();
        device = new VirtioNetDevice(NetDeviceConfig.builder().id(id).queuePairs(2).build(),
                InJvmBackend.loopback(id, 2, 1 << 18));
        backend = new VhostUserBackend(device);
    }

    @AfterEach
    void close() {
        backend.close();
        device.close();
    }

    private VhostUserBackend.Result send(int request, byte[] payload, int... fds) throws ProtocolException {
        return backend.handle(Message.of(request, V, payload, fds));
    }

    private static byte[] state(int index, int num) {
        return Message.vringStatePayload(index, num);
    }

    private static byte[] addr(int index, int flags, long desc, long used, long avail) {
        return ByteBuffer.allocate(40).order(ByteOrder.LITTLE_ENDIAN).putInt(index).putInt(flags).putLong(desc)
                .putLong(used).putLong(avail).putLong(0).array();
    }

    static byte[] memTable(int declared, long[]... regions) {
        ByteBuffer b = ByteBuffer.allocate(8 + 32 * regions.length).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(declared).putInt(0);
        for (long[] r : regions) {
            b.putLong(r[0]).putLong(r[1]).putLong(r[2]).putLong(r[3]);
        }
        return b.array();
    }

    private static void assertProtocolError(ThrowingRunnable r, String text) {
        assertThatThrownBy(r::run).isInstanceOf(ProtocolException.class).hasMessageContaining(text);
    }

    interface ThrowingRunnable {
        void run() throws Exception;
    }

    @Test
    void getFeaturesOffersProtocolFeaturesAndKeepsTheControlQueueWithTheFrontEnd() throws Exception {
        long f = send(VhostUser.GET_FEATURES, new byte[0]).payload() == null ? -1
                : ByteBuffer.wrap(send(VhostUser.GET_FEATURES, new byte[0]).payload()).order(ByteOrder.LITTLE_ENDIAN)
                        .getLong();
        assertThat(VirtioFeatures.has(f, VhostUser.F_PROTOCOL_FEATURES)).isTrue();
        assertThat(VirtioFeatures.has(f, VirtioFeatures.VIRTIO_F_VERSION_1)).isTrue();
        assertThat(VirtioFeatures.has(f, NetFeatures.VIRTIO_NET_F_MQ)).isTrue();
        assertThat(VirtioFeatures.has(f, NetFeatures.VIRTIO_NET_F_CTRL_VQ)).isFalse();
        assertThat(VirtioFeatures.has(f, VirtioFeatures.VIRTIO_F_RING_RESET)).isFalse();
    }

    @Test
    void protocolFeaturesOfferOnlyWhatIsImplemented() throws Exception {
        long p = ByteBuffer.wrap(send(VhostUser.GET_PROTOCOL_FEATURES, new byte[0]).payload())
                .order(ByteOrder.LITTLE_ENDIAN).getLong();
        assertThat(p).isEqualTo((1L << VhostUser.PROTOCOL_F_MQ) | (1L << VhostUser.PROTOCOL_F_REPLY_ACK)
                | (1L << VhostUser.PROTOCOL_F_NET_MTU));
        assertProtocolError(() -> send(VhostUser.SET_PROTOCOL_FEATURES,
                Message.u64Payload(1L << VhostUser.PROTOCOL_F_LOG_SHMFD)), "unoffered");
        assertThat(send(VhostUser.SET_PROTOCOL_FEATURES, Message.u64Payload(p)).status()).isZero();
        assertThat(backend.replyAck()).isTrue();
    }

    @Test
    void setFeaturesRefusesUnofferedBitsAndBadSizes() throws Exception {
        assertProtocolError(() -> send(VhostUser.SET_FEATURES, Message.u64Payload(1L << 63 | 1L << 6)), "unoffered");
        assertProtocolError(() -> send(VhostUser.SET_FEATURES, new byte[4]), "payload of 4 bytes");
        long ok = VirtioFeatures.bit(VirtioFeatures.VIRTIO_F_VERSION_1);
        assertThat(send(VhostUser.SET_FEATURES, Message.u64Payload(ok)).status()).isZero();
        assertThat(backend.ackedFeatures()).isEqualTo(ok);
    }

    @Test
    void queueNumNeedsTheMqProtocolFeature() throws Exception {
        assertProtocolError(() -> send(VhostUser.GET_QUEUE_NUM, new byte[0]), "protocol feature");
        send(VhostUser.SET_PROTOCOL_FEATURES, Message.u64Payload(1L << VhostUser.PROTOCOL_F_MQ));
        assertThat(ByteBuffer.wrap(send(VhostUser.GET_QUEUE_NUM, new byte[0]).payload()).order(ByteOrder.LITTLE_ENDIAN)
                .getLong()).isEqualTo(2);
    }

    @Test
    void vringNumChecksIndexAndSize() throws Exception {
        assertThat(send(VhostUser.SET_VRING_NUM, state(3, 256)).status()).isZero();
        assertProtocolError(() -> send(VhostUser.SET_VRING_NUM, state(4, 256)), "ring 4 outside 0..3");
        assertProtocolError(() -> send(VhostUser.SET_VRING_NUM, state(-1, 256)), "outside");
        assertProtocolError(() -> send(VhostUser.SET_VRING_NUM, state(0, 100)), "power of two");
        assertProtocolError(() -> send(VhostUser.SET_VRING_NUM, state(0, 0)), "queue size 0");
        assertProtocolError(() -> send(VhostUser.SET_VRING_NUM, state(0, 4096)), "above the maximum");
        assertProtocolError(() -> send(VhostUser.SET_VRING_NUM, new byte[12]), "payload of 12 bytes");
    }

    @Test
    void vringBaseIsASplitRingIndexAndGetVringBaseReturnsIt() throws Exception {
        assertThat(send(VhostUser.SET_VRING_BASE, state(1, 0xFFFF)).status()).isZero();
        assertProtocolError(() -> send(VhostUser.SET_VRING_BASE, state(1, 0x10000)), "split-ring index");
        ByteBuffer r = ByteBuffer.wrap(send(VhostUser.GET_VRING_BASE, state(1, 0)).payload())
                .order(ByteOrder.LITTLE_ENDIAN);
        assertThat(r.getInt(0)).isEqualTo(1);
        assertThat(r.getInt(4)).isEqualTo(0xFFFF);
    }

    @Test
    void vringAddrRefusesLoggingAndBadSizes() throws Exception {
        assertThat(send(VhostUser.SET_VRING_ADDR, addr(0, 0, 0x1000, 0x3000, 0x2000)).status()).isZero();
        assertProtocolError(() -> send(VhostUser.SET_VRING_ADDR, addr(0, VhostUser.VRING_F_LOG, 0x1000, 0x3000, 0x2000)),
                "dirty logging");
        assertProtocolError(() -> send(VhostUser.SET_VRING_ADDR, addr(9, 0, 0, 0, 0)), "outside");
        assertProtocolError(() -> send(VhostUser.SET_VRING_ADDR, new byte[32]), "payload of 32 bytes");
    }

    @ParameterizedTest
    @ValueSource(ints = {VhostUser.SET_VRING_KICK, VhostUser.SET_VRING_CALL, VhostUser.SET_VRING_ERR})
    void vringFdMessagesCountDescriptors(int request) throws Exception {
        int efd = Native.eventfd(false);
        // NOFD flag with a descriptor: refused, and the descriptor is closed.
        int before = MessageChannelTest.openFds();
        assertProtocolError(() -> send(request, Message.u64Payload(VhostUser.VRING_NOFD_MASK), efd), "expected 0");
        assertThat(MessageChannelTest.openFds()).isEqualTo(before - 1);
        assertProtocolError(() -> send(request, Message.u64Payload(0)), "expected 1");
        assertProtocolError(() -> send(request, Message.u64Payload(0x200)), "reserved bits");
        assertProtocolError(() -> send(request, Message.u64Payload(7 | VhostUser.VRING_NOFD_MASK)), "ring 7");
        int ok = Native.eventfd(false);
        assertThat(send(request, Message.u64Payload(1), ok).status()).isZero();
        assertThat(send(request, Message.u64Payload(1 | VhostUser.VRING_NOFD_MASK)).status()).isZero();
    }

    @Test
    void memTableChecksRegionsSizesAndDescriptors() throws Exception {
        long[] r = {0, 1 << 20, 0x7f00_0000_0000L, 0};
        assertProtocolError(() -> send(VhostUser.SET_MEM_TABLE, memTable(0)), "0 regions");
        assertProtocolError(() -> send(VhostUser.SET_MEM_TABLE, memTable(9, r, r, r, r, r, r, r, r, r)), "9 regions");
        assertProtocolError(() -> send(VhostUser.SET_MEM_TABLE, memTable(2, r)), "bytes for 2 regions");
        assertProtocolError(() -> send(VhostUser.SET_MEM_TABLE, new byte[4]), "payload of 4 bytes");
        assertProtocolError(() -> send(VhostUser.SET_MEM_TABLE, memTable(1, r)), "0 file descriptors, expected 1");
        int a = Native.eventfd(false);
        int b = Native.eventfd(false);
        assertProtocolError(() -> send(VhostUser.SET_MEM_TABLE, memTable(1, r), a, b), "2 file descriptors");
        int c = Native.eventfd(false);
        assertProtocolError(() -> send(VhostUser.SET_MEM_TABLE, memTable(1, new long[] {0, 0, 0, 0}), c), "size 0");
        int d = Native.eventfd(false);
        assertProtocolError(() -> send(VhostUser.SET_MEM_TABLE, memTable(1, new long[] {-4096, 8192, 0, 0}), d), "wraps");
        int e = Native.eventfd(false);
        int f = Native.eventfd(false);
        assertProtocolError(() -> send(VhostUser.SET_MEM_TABLE,
                memTable(2, r, new long[] {1 << 19, 1 << 20, 0x7f10_0000_0000L, 0}), e, f), "overlaps");
    }

    @Test
    void memTableThatCannotBeMappedFailsWithoutClosingTheConnection() throws Exception {
        int efd = Native.eventfd(false); // an eventfd cannot be mmapped
        VhostUserBackend.Result r = send(VhostUser.SET_MEM_TABLE, memTable(1, new long[] {0, 1 << 20, 0x1000, 0}), efd);
        assertThat(r.status()).isNotZero();
    }

    /**
     * Found while fuzzing vhost-user messages: a region larger than its memfd mapped fine, and the first
     * ring access beyond the file's end raised SIGBUS, an InternalError that killed the server thread.
     */
    @Test
    void memTableRegionBeyondItsFileIsRefused() throws Exception {
        int before = MessageChannelTest.openFds();
        int small = Native.memfdCreate("small", 4096);
        assertThat(send(VhostUser.SET_MEM_TABLE, memTable(1, new long[] {0, 1 << 20, 0x1000, 0}), small).status())
                .isNotZero();
        int empty = Native.memfdCreate("empty", 0);
        assertThat(send(VhostUser.SET_MEM_TABLE, memTable(1, new long[] {0, 4096, 0x1000, 0}), empty).status())
                .isNotZero();
        int offset = Native.memfdCreate("offset", 8192);
        assertThat(send(VhostUser.SET_MEM_TABLE, memTable(1, new long[] {0, 8192, 0x1000, 4096}), offset).status())
                .isNotZero();
        int exact = Native.memfdCreate("exact", 8192);
        assertThat(send(VhostUser.SET_MEM_TABLE, memTable(1, new long[] {0, 4096, 0x1000, 4096}), exact).status())
                .isZero();
        backend.disconnect();
        assertThat(MessageChannelTest.openFds()).isEqualTo(before);
    }

    @Test
    void mtuNeedsItsProtocolFeatureAndARange() throws Exception {
        assertProtocolError(() -> send(VhostUser.NET_SET_MTU, Message.u64Payload(1500)), "protocol feature");
        send(VhostUser.SET_PROTOCOL_FEATURES, Message.u64Payload(1L << VhostUser.PROTOCOL_F_NET_MTU));
        assertProtocolError(() -> send(VhostUser.NET_SET_MTU, Message.u64Payload(67)), "outside 68..65535");
        assertProtocolError(() -> send(VhostUser.NET_SET_MTU, Message.u64Payload(65536)), "outside");
        assertThat(send(VhostUser.NET_SET_MTU, Message.u64Payload(9000)).status()).isZero();
        assertThat(backend.mtu()).isEqualTo(9000);
    }

    @ParameterizedTest
    @ValueSource(ints = {VhostUser.SET_LOG_BASE, VhostUser.SET_LOG_FD, VhostUser.SEND_RARP, VhostUser.GET_CONFIG,
            VhostUser.ADD_MEM_REG, VhostUser.SET_BACKEND_REQ_FD, VhostUser.SET_STATUS, 0, 99, -1})
    void requestsNotOfferedOrUnknownAreProtocolErrors(int request) {
        assertProtocolError(() -> send(request, new byte[8]), "not supported");
    }

    @Test
    void ownerAndResetOwner() throws Exception {
        assertThat(send(VhostUser.SET_OWNER, new byte[0]).status()).isZero();
        assertThat(backend.hasOwner()).isTrue();
        send(VhostUser.SET_FEATURES, Message.u64Payload(VirtioFeatures.bit(VirtioFeatures.VIRTIO_F_VERSION_1)));
        assertThat(send(VhostUser.RESET_OWNER, new byte[0]).status()).isZero();
        assertThat(backend.hasOwner()).isFalse();
        assertThat(backend.ackedFeatures()).isZero();
        assertProtocolError(() -> send(VhostUser.SET_OWNER, new byte[3]), "payload of 3 bytes");
    }

    @Test
    void noDescriptorLeaksOnProtocolErrors() throws Exception {
        int before = MessageChannelTest.openFds();
        for (int i = 0; i < 20; i++) {
            int efd = Native.eventfd(false);
            assertThatThrownBy(() -> send(VhostUser.GET_FEATURES, new byte[0], efd)).isInstanceOf(ProtocolException.class);
        }
        assertThat(MessageChannelTest.openFds()).isEqualTo(before);
        assertThat(Files.exists(Path.of("/proc/self/fd"))).isTrue();
    }
}
