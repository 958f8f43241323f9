package dev.vnet.vhostuser;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.vnet.linux.Errno;
import dev.vnet.linux.ErrnoException;
import dev.vnet.linux.Libc;
import dev.vnet.net.NetDeviceConfig;
import dev.vnet.net.VirtioNetDevice;
import dev.vnet.net.backend.InJvmBackend;
import dev.vnet.virtio.DeviceWorker;
import dev.vnet.virtio.VirtioFeatures;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Timeout;

/**
 * Fuzzes the vhost-user back-end through its real socket: a {@link VhostUserServer} around a
 * {@link VhostUserBackend} and a loopback {@link VirtioNetDevice}. Each input is one front-end
 * connection that optionally does a valid setup (features, protocol features, a memory table on a
 * memfd, ring 0 with kick and call) and then sends up to 16 messages: request codes mostly from the
 * protocol, any flags and version, a declared size that is right, short, long or random, fuzzer bytes,
 * and no descriptor, an eventfd, a small memfd, several, or more than one recvmsg takes.
 *
 * <p>Invariants on every input: the only outcome the test sees besides success is the documented
 * "connection closed" (EPIPE/ECONNRESET on send); no thread dies (uncaught handler) and no device worker
 * throws; the server keeps serving (a new connection's GET_FEATURES is answered within 2 s, every read
 * is polled with a timeout); socket, eventfd and memfd descriptors return to the baseline after the
 * disconnect; no memfd mapping of the input stays mapped in the back-end.
 */
@Timeout(value = 10, unit = TimeUnit.SECONDS)
class VhostUserMessageFuzzTest {

    private static final int V = VhostUser.VERSION;
    private static final long GUEST_SIZE = 64 * 1024;
    private static final long UADDR = 0x7f00_0000_0000L;
    private static final int QSIZE = 64;
    private static final long AVAIL = 0x1000;
    private static final long USED = 0x2000;
    private static final int[] REQUESTS = {VhostUser.GET_FEATURES, VhostUser.SET_FEATURES, VhostUser.SET_OWNER,
            VhostUser.RESET_OWNER, VhostUser.SET_MEM_TABLE, VhostUser.SET_LOG_BASE, VhostUser.SET_LOG_FD,
            VhostUser.SET_VRING_NUM, VhostUser.SET_VRING_ADDR, VhostUser.SET_VRING_BASE, VhostUser.GET_VRING_BASE,
            VhostUser.SET_VRING_KICK, VhostUser.SET_VRING_CALL, VhostUser.SET_VRING_ERR,
            VhostUser.GET_PROTOCOL_FEATURES, VhostUser.SET_PROTOCOL_FEATURES, VhostUser.GET_QUEUE_NUM,
            VhostUser.SET_VRING_ENABLE, VhostUser.SEND_RARP, VhostUser.NET_SET_MTU, VhostUser.SET_BACKEND_REQ_FD,
            VhostUser.IOTLB_MSG, VhostUser.GET_CONFIG, VhostUser.ADD_MEM_REG, VhostUser.RESET_DEVICE,
            VhostUser.GET_STATUS};

    private static final Path DIR;
    private static final Path SOCK;
    private static final VirtioNetDevice DEVICE;
    private static final VhostUserBackend BACKEND;
    private static final VhostUserServer SERVER;
    private static final int GUEST_FD;
    private static final MemorySegment GUEST;
    private static final List<String> DEATHS = Collections.synchronizedList(new ArrayList<>());

    static {
        if (System.getenv("JAZZER_FUZZ") != null) {
            // Two log lines per connection would dominate a fuzzing run (the logger is not created yet).
            System.setProperty("org.slf4j.simpleLogger.defaultLogLevel", "error");
        }
        try {
            DIR = Files.createTempDirectory("vu-fuzz");
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        SOCK = DIR.resolve("vhost.sock");
        Thread.UncaughtExceptionHandler previous = Thread.getDefaultUncaughtExceptionHandler();
        Thread.setDefaultUncaughtExceptionHandler((t, e) -> {
            DEATHS.add(t.getName() + ": " + e);
            if (previous != null) {
                previous.uncaughtException(t, e);
            }
        });
        DEVICE = new VirtioNetDevice(NetDeviceConfig.builder().id("fuzz-vu").queuePairs(2).build(),
                InJvmBackend.loopback("fuzz-vu", 2, 1 << 18));
        BACKEND = new VhostUserBackend(DEVICE);
        SERVER = new VhostUserServer(SOCK, false, BACKEND).start();
        GUEST_FD = Native.memfdCreate("fuzz-guest", GUEST_SIZE);
        GUEST = Native.mmap(GUEST_FD, GUEST_SIZE, 0);
    }

    @FuzzTest(maxDuration = "30s")
    void anyMessageSequenceClosesCleanlyOrIsServed(FuzzedDataProvider data) throws Exception {
        long failures = DeviceWorker.failures();
        GUEST.fill((byte) 0);
        String baseline = descriptors();
        MessageChannel ch = connect();
        try {
            if (data.consumeBoolean()) {
                validSetup(ch, data);
            }
            int count = data.consumeInt(0, 16);
            for (int i = 0; i < count; i++) {
                if (!sendOne(ch, data)) {
                    break; // the back-end closed the connection: the documented outcome
                }
            }
        } finally {
            ch.close();
        }
        check(probe(), "no GET_FEATURES answer within 2 s on a new connection: the server stopped serving");
        check(DEATHS.isEmpty(), "a thread died: " + DEATHS);
        check(DeviceWorker.failures() == failures, "a device worker threw");
        String now = awaitDescriptors(baseline);
        check(now.equals(baseline), "descriptors before " + baseline + ", after " + now);
        check(inputMappings() == 0, "a memfd passed by the input is still mapped after the disconnect");
    }

    /** Features, protocol features, a memory table and ring 0 (size, addresses, base, call, kick, enable). */
    private static void validSetup(MessageChannel ch, FuzzedDataProvider data) {
        long features = VirtioFeatures.bit(VirtioFeatures.VIRTIO_F_VERSION_1) | (1L << VhostUser.F_PROTOCOL_FEATURES)
                | (data.consumeLong() & BACKEND.offeredFeatures());
        long protocol = data.consumeLong() & VhostUserBackend.PROTOCOL_FEATURES;
        send(ch, VhostUser.SET_OWNER, V, new byte[0]);
        send(ch, VhostUser.SET_FEATURES, V, Message.u64Payload(features));
        send(ch, VhostUser.SET_PROTOCOL_FEATURES, V, Message.u64Payload(protocol));
        ByteBuffer mt = le(8 + 32).putInt(1).putInt(0).putLong(0).putLong(GUEST_SIZE).putLong(UADDR).putLong(0);
        send(ch, VhostUser.SET_MEM_TABLE, V, mt.array(), GUEST_FD);
        int rings = data.consumeInt(1, 2);
        for (int r = 0; r < rings; r++) {
            long base = r * 0x4000L;
            send(ch, VhostUser.SET_VRING_NUM, V, Message.vringStatePayload(r, QSIZE));
            send(ch, VhostUser.SET_VRING_ADDR, V, le(40).putInt(r).putInt(0).putLong(UADDR + base)
                    .putLong(UADDR + base + USED).putLong(UADDR + base + AVAIL).putLong(0).array());
            send(ch, VhostUser.SET_VRING_BASE, V, Message.vringStatePayload(r, 0));
            withEventfd(ch, VhostUser.SET_VRING_CALL, r);
            withEventfd(ch, VhostUser.SET_VRING_KICK, r);
            send(ch, VhostUser.SET_VRING_ENABLE, V, Message.vringStatePayload(r, 1));
        }
        // Some hostile ring content for the running queues.
        byte[] ring = data.consumeBytes(data.consumeInt(0, 64));
        MemorySegment.copy(ring, 0, GUEST, ValueLayout.JAVA_BYTE, data.consumeBoolean() ? AVAIL : 0, ring.length);
    }

    private static void withEventfd(MessageChannel ch, int request, int ring) {
        int efd = Native.eventfd(false);
        try {
            send(ch, request, V, Message.u64Payload(ring), efd);
        } finally {
            Native.close(efd);
        }
    }

    /** One fuzzer-chosen message; false once the back-end has closed the connection. */
    private static boolean sendOne(MessageChannel ch, FuzzedDataProvider data) {
        int request = data.consumeInt(0, 9) == 0 ? data.consumeInt() : data.pickValue(REQUESTS);
        int flags = switch (data.consumeInt(0, 7)) {
            case 0 -> data.consumeInt();
            case 1 -> V | VhostUser.FLAG_NEED_REPLY;
            default -> V;
        };
        byte[] payload = payload(data, request);
        int declared = switch (data.consumeInt(0, 7)) {
            case 0 -> Math.max(0, payload.length - data.consumeInt(1, 8));
            case 1 -> payload.length + data.consumeInt(1, 8);
            case 2 -> data.consumeInt();
            default -> payload.length;
        };
        List<Integer> fds = new ArrayList<>();
        try {
            switch (data.consumeInt(0, 5)) {
                case 1 -> fds.add(Native.eventfd(false));
                case 2 -> fds.add(Native.memfdCreate("fuzz-input", 4096L * data.consumeInt(0, 4)));
                case 3 -> {
                    int n = data.consumeInt(2, 9);
                    for (int k = 0; k < n; k++) {
                        fds.add(data.consumeBoolean() ? Native.eventfd(false) : Native.memfdCreate("fuzz-input", 4096));
                    }
                }
                case 4 -> {
                    int n = Native.FdBuffer.MAX_PER_RECV + data.consumeInt(1, 8);
                    for (int k = 0; k < n; k++) {
                        fds.add(Native.eventfd(false));
                    }
                }
                default -> {
                }
            }
            byte[] raw = new byte[VhostUser.HEADER_SIZE + payload.length];
            ByteBuffer.wrap(raw).order(ByteOrder.LITTLE_ENDIAN).putInt(request).putInt(flags).putInt(declared)
                    .put(payload);
            ch.sendRaw(raw, fds.stream().mapToInt(Integer::intValue).toArray());
            return true;
        } catch (ErrnoException e) {
            if (closedByPeer(e)) {
                return false;
            }
            throw e;
        } finally {
            for (int fd : fds) {
                Native.close(fd);
            }
        }
    }

    /** A payload shaped for the request most of the time: the right size with fuzzed fields, or anything. */
    private static byte[] payload(FuzzedDataProvider data, int request) {
        if (data.consumeInt(0, 3) == 0) {
            return data.consumeBytes(data.consumeInt(0, VhostUser.MAX_PAYLOAD));
        }
        return switch (request) {
            case VhostUser.SET_MEM_TABLE -> {
                int n = data.consumeInt(0, 9);
                ByteBuffer b = le(8 + 32 * n).putInt(data.consumeBoolean() ? n : data.consumeInt()).putInt(0);
                for (int i = 0; i < n; i++) {
                    b.putLong(data.consumeBoolean() ? 0x10000L * i : data.consumeLong())
                            .putLong(data.consumeBoolean() ? 4096L * data.consumeInt(1, 16) : data.consumeLong())
                            .putLong(data.consumeBoolean() ? UADDR + 0x100000L * i : data.consumeLong())
                            .putLong(data.consumeBoolean() ? 0 : data.consumeLong());
                }
                yield b.array();
            }
            case VhostUser.SET_VRING_ADDR -> le(40).putInt(data.consumeInt(-1, 4)).putInt(data.consumeInt(0, 1) == 0 ? 0
                    : data.consumeInt()).putLong(addr(data)).putLong(addr(data)).putLong(addr(data))
                    .putLong(data.consumeLong()).array();
            case VhostUser.SET_VRING_NUM, VhostUser.SET_VRING_BASE, VhostUser.GET_VRING_BASE,
                    VhostUser.SET_VRING_ENABLE -> Message.vringStatePayload(data.consumeInt(-1, 4),
                    data.consumeBoolean() ? 1 << data.consumeInt(0, 16) : data.consumeInt());
            case VhostUser.GET_FEATURES, VhostUser.GET_PROTOCOL_FEATURES, VhostUser.GET_QUEUE_NUM, VhostUser.SET_OWNER,
                    VhostUser.RESET_OWNER -> new byte[0];
            case VhostUser.SET_FEATURES -> Message.u64Payload(data.consumeBoolean()
                    ? data.consumeLong() & BACKEND.offeredFeatures() : data.consumeLong());
            case VhostUser.SET_PROTOCOL_FEATURES -> Message.u64Payload(data.consumeBoolean()
                    ? data.consumeLong() & VhostUserBackend.PROTOCOL_FEATURES : data.consumeLong());
            case VhostUser.SET_VRING_KICK, VhostUser.SET_VRING_CALL, VhostUser.SET_VRING_ERR -> Message.u64Payload(
                    data.consumeInt(0, 4) | (data.consumeBoolean() ? VhostUser.VRING_NOFD_MASK : 0)
                            | (data.consumeInt(0, 7) == 0 ? data.consumeLong() : 0));
            default -> Message.u64Payload(data.consumeLong());
        };
    }

    private static long addr(FuzzedDataProvider data) {
        return switch (data.consumeInt(0, 2)) {
            case 0 -> UADDR + data.consumeLong(0, GUEST_SIZE + 4096);
            case 1 -> data.consumeLong();
            default -> UADDR + 16L * data.consumeInt(0, 4096);
        };
    }

    private static ByteBuffer le(int size) {
        return ByteBuffer.allocate(size).order(ByteOrder.LITTLE_ENDIAN);
    }

    private static void send(MessageChannel ch, int request, int flags, byte[] payload, int... fds) {
        try {
            ch.send(request, flags, payload, fds);
        } catch (ErrnoException e) {
            if (!closedByPeer(e)) {
                throw e;
            }
        }
    }

    private static boolean closedByPeer(ErrnoException e) {
        return e.errno() == Errno.EPIPE || e.errno() == Errno.ECONNRESET;
    }

    private static MessageChannel connect() {
        int fd = Native.socket();
        try {
            Native.connect(fd, SOCK.toString());
        } catch (RuntimeException e) {
            Native.close(fd);
            throw e;
        }
        return new MessageChannel(fd);
    }

    /** A new front-end's GET_FEATURES, answered within 2 s (the server takes one connection at a time). */
    private static boolean probe() {
        MessageChannel ch = connect();
        try {
            ch.send(VhostUser.GET_FEATURES, V, new byte[0], new int[0]);
            if (!readable(ch.fd(), 2000)) {
                return false;
            }
            Message r = ch.readReply();
            return r != null && r.request() == VhostUser.GET_FEATURES && r.size() == 8
                    && r.buffer().getLong(0) == BACKEND.offeredFeatures();
        } finally {
            ch.close();
        }
    }

    private static boolean readable(int fd, int millis) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment p = a.allocate(Libc.POLLFD_SIZE, 4);
            Libc.setPollFd(p, 0, fd, Libc.POLLIN);
            long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(millis);
            long left;
            while ((left = deadline - System.nanoTime()) > 0) {
                if (Native.poll(p, 1, (int) Math.max(1, TimeUnit.NANOSECONDS.toMillis(left))) > 0) {
                    return true;
                }
            }
            return false;
        }
    }

    /**
     * The descriptors the protocol passes around, by kind: sockets, eventfds and memfds. (Other
     * descriptors belong to the JVM, which opens jars and the like at its own pace.)
     */
    private static String descriptors() throws IOException {
        int sockets = 0;
        int eventfds = 0;
        int memfds = 0;
        try (Stream<Path> s = Files.list(Path.of("/proc/self/fd"))) {
            for (Path p : (Iterable<Path>) s::iterator) {
                String target;
                try {
                    target = Files.readSymbolicLink(p).toString();
                } catch (IOException e) {
                    continue; // the listing's own descriptor, or one closed meanwhile
                }
                if (target.startsWith("socket:")) {
                    sockets++;
                } else if (target.contains("eventfd")) {
                    eventfds++;
                } else if (target.startsWith("/memfd:")) {
                    memfds++;
                }
            }
        }
        return sockets + " sockets, " + eventfds + " eventfds, " + memfds + " memfds";
    }

    /** The server closes the probe's connection after answering; give it up to 2 s. */
    private static String awaitDescriptors(String baseline) throws IOException, InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(2);
        String now = descriptors();
        while (!now.equals(baseline) && System.nanoTime() < deadline) {
            Thread.sleep(1);
            now = descriptors();
        }
        return now;
    }

    /** Mappings of memfds the input passed (named fuzz-input); the back-end must have unmapped them. */
    private static long inputMappings() throws IOException {
        try (Stream<String> lines = Files.lines(Path.of("/proc/self/maps"))) {
            return lines.filter(l -> l.contains("memfd:fuzz-input")).count();
        }
    }

    private static void check(boolean ok, String invariant) {
        if (!ok) {
            throw new AssertionError(invariant);
        }
    }
}
