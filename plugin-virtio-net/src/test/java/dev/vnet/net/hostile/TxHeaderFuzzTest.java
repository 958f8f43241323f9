package dev.vnet.net.hostile;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.vnet.spi.MacAddress;
import dev.vnet.net.NetDeviceConfig;
import dev.vnet.net.NetFeatures;
import dev.vnet.net.VirtioNetDevice;
import dev.vnet.net.backend.InJvmBackend;
import dev.vnet.net.harness.Frames;
import dev.vnet.testkit.FakeGuestMemory;
import dev.vnet.virtio.ActivationContext;
import dev.vnet.virtio.DeviceWorker;
import dev.vnet.virtio.VirtioFeatures;
import dev.vnet.virtio.Virtqueue;
import dev.vnet.spi.SegmentList;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Timeout;

/**
 * Fuzzes the transmit path with arbitrary {@code virtio_net_hdr_v1} fields (flags, GSO type and size,
 * hdr_len, csum_start, csum_offset, num_buffers) in front of arbitrary or almost-valid frames (raw bytes,
 * IPv4/TCP and IPv4/UDP super-frames, plain Ethernet), split over one to four descriptors at any byte,
 * directly or through an indirect table, with any negotiated offload set, into two backends:
 * <ul>
 *   <li>the in-JVM loopback (vnet header kept; frames the receiving driver cannot take are checksummed or
 *       segmented in software, then land in RX buffers of the same device);</li>
 *   <li>a backend without vnet header (header stripped, NEEDS_CSUM completed by the device), whose output
 *       is checked byte for byte against an independent checksum.</li>
 * </ul>
 *
 * <p>Invariants on every input: no worker throws; every TX chain comes back or DEVICE_NEEDS_RESET is set
 * within a second; RX never stalls with frames pending and buffers posted; only used rings and RX buffers
 * change in guest RAM; used lengths stay within each buffer; reset returns within its bound.
 */
@Timeout(value = 20, unit = TimeUnit.SECONDS)
class TxHeaderFuzzTest {

    private static final byte[] MAC = Frames.DEVICE_MAC;
    private static final long RAM = 0x10_0000;
    private static final int RAM_SIZE = 4 << 20;
    private static final long TX_RING = RAM;
    private static final long RX_RING = RAM + 0x4000;
    private static final long INDIRECT = RAM + 0x8000;
    private static final long TX_DATA = RAM + 0x10000;
    private static final long RX_DATA = RAM + 0x40000;
    private static final int RX_BUFFERS = 8;
    private static final int BIG = 65562;
    private static final int WINDOW = (int) (RX_DATA - RAM) + RX_BUFFERS * BIG;
    private static final int QUEUE = 256;

    private static final FakeGuestMemory MEM = new FakeGuestMemory(RAM, RAM_SIZE);
    private static final InJvmBackend LOOP = InJvmBackend.loopback("fuzz-tx", 1, InJvmBackend.DEFAULT_RING_BYTES);
    private static final VirtioNetDevice LOOPBACK = new VirtioNetDevice(
            NetDeviceConfig.builder().id("fuzz-tx-loop").mac(MacAddress.of(MAC)).build(), LOOP);
    private static final CapturingBackend PLAIN_BACKEND = new CapturingBackend();
    private static final VirtioNetDevice PLAIN = new VirtioNetDevice(
            NetDeviceConfig.builder().id("fuzz-tx-plain").mac(MacAddress.of(MAC)).build(), PLAIN_BACKEND);
    private static final Recorder RECORDER = new Recorder();
    private static final MemorySegment DRAIN = Arena.ofAuto().allocate(70_000);
    private static final SegmentList DRAIN_LIST = new SegmentList(1);
    private static final WriteGuard GUARD = new WriteGuard(MEM, RAM, WINDOW);
    private static final long FEATURE_MASK = NetFeatures.bits(NetFeatures.VIRTIO_NET_F_CSUM,
            NetFeatures.VIRTIO_NET_F_GUEST_CSUM, NetFeatures.VIRTIO_NET_F_HOST_TSO4, NetFeatures.VIRTIO_NET_F_HOST_TSO6,
            NetFeatures.VIRTIO_NET_F_HOST_ECN, NetFeatures.VIRTIO_NET_F_HOST_UFO, NetFeatures.VIRTIO_NET_F_HOST_USO,
            NetFeatures.VIRTIO_NET_F_GUEST_TSO4, NetFeatures.VIRTIO_NET_F_GUEST_TSO6, NetFeatures.VIRTIO_NET_F_GUEST_ECN,
            NetFeatures.VIRTIO_NET_F_GUEST_UFO, NetFeatures.VIRTIO_NET_F_GUEST_USO4, NetFeatures.VIRTIO_NET_F_GUEST_USO6,
            NetFeatures.VIRTIO_NET_F_MRG_RXBUF, NetFeatures.VIRTIO_NET_F_MTU, NetFeatures.VIRTIO_NET_F_STATUS,
            NetFeatures.VIRTIO_NET_F_MAC, VirtioFeatures.VIRTIO_F_INDIRECT_DESC, VirtioFeatures.VIRTIO_F_EVENT_IDX);

    /** One frame as the driver queued it. */
    private record Sent(byte[] header, byte[] frame) {
    }

    @FuzzTest(maxDuration = "30s")
    void anyHeaderAnyFrameEitherBackend(FuzzedDataProvider data) throws InterruptedException {
        long failures = DeviceWorker.failures();
        boolean loopback = data.consumeBoolean();
        VirtioNetDevice device = loopback ? LOOPBACK : PLAIN;
        MEM.fill(RAM, RX_DATA - RAM, (byte) 0);
        RECORDER.clear();
        PLAIN_BACKEND.take();
        // Inputs are independent: frames an earlier input left in the loopback ring are drained, so TX
        // backpressure from them cannot look like a stall. (Found by fuzzing: a ring filled by frames the
        // RX buffers of earlier inputs could not take held TX back, as it should.)
        DRAIN_LIST.clear();
        DRAIN_LIST.add(DRAIN, 0, DRAIN.byteSize());
        while (LOOP.queue(0).read(DRAIN_LIST) > 0) {
            DRAIN_LIST.clear();
            DRAIN_LIST.add(DRAIN, 0, DRAIN.byteSize());
        }

        long wanted = VirtioFeatures.bit(VirtioFeatures.VIRTIO_F_VERSION_1) | (data.consumeLong() & FEATURE_MASK);
        long features = device.featureRules().closeOverDependencies(wanted & device.offeredFeatures())
                & device.offeredFeatures();
        if (!VirtioFeatures.has(features, VirtioFeatures.VIRTIO_F_VERSION_1)
                || device.featureRules().violation(features) != null) {
            return;
        }
        boolean indirect = VirtioFeatures.has(features, VirtioFeatures.VIRTIO_F_INDIRECT_DESC);
        RawRing tx = new RawRing(MEM, TX_RING, QUEUE);
        RawRing rx = new RawRing(MEM, RX_RING, QUEUE);

        // RX buffers the way Linux shapes them for these features.
        boolean mergeable = VirtioFeatures.has(features, NetFeatures.VIRTIO_NET_F_MRG_RXBUF);
        boolean big = !mergeable && (features & NetFeatures.bits(NetFeatures.VIRTIO_NET_F_GUEST_TSO4,
                NetFeatures.VIRTIO_NET_F_GUEST_TSO6, NetFeatures.VIRTIO_NET_F_GUEST_UFO,
                NetFeatures.VIRTIO_NET_F_GUEST_ECN)) != 0;
        int rxLen = mergeable ? 1536 : big ? BIG : 12 + 1518;
        for (int i = 0; i < RX_BUFFERS; i++) {
            rx.descriptor(i, RX_DATA + (long) i * BIG, rxLen, RawRing.F_WRITE, 0);
            rx.publish(i);
        }

        List<Sent> sent = new ArrayList<>();
        int nextDesc = 0;
        long nextData = TX_DATA;
        long nextTable = INDIRECT;
        int count = data.consumeInt(1, 3);
        for (int c = 0; c < count; c++) {
            byte[] frame = frame(data);
            byte[] header = header(data, frame);
            byte[] all = new byte[12 + frame.length];
            System.arraycopy(header, 0, all, 0, 12);
            System.arraycopy(frame, 0, all, 12, frame.length);
            if (nextData + all.length > RX_DATA) {
                break;
            }
            MEM.write(nextData, all);
            int pieces = data.consumeInt(1, 4);
            int[] cuts = new int[pieces + 1];
            cuts[pieces] = all.length;
            for (int k = 1; k < pieces; k++) {
                cuts[k] = data.consumeInt(0, all.length);
            }
            Arrays.sort(cuts, 1, pieces);
            int head = nextDesc;
            if (indirect && data.consumeBoolean()) {
                for (int k = 0; k < pieces; k++) {
                    tx.descriptorAt(nextTable, k, nextData + cuts[k], cuts[k + 1] - cuts[k],
                            k + 1 < pieces ? RawRing.F_NEXT : 0, k + 1);
                }
                tx.descriptor(nextDesc++, nextTable, 16L * pieces, RawRing.F_INDIRECT, 0);
                nextTable += 16 * 4;
            } else {
                for (int k = 0; k < pieces; k++) {
                    tx.descriptor(nextDesc, nextData + cuts[k], cuts[k + 1] - cuts[k],
                            k + 1 < pieces ? RawRing.F_NEXT : 0, nextDesc + 1);
                    nextDesc++;
                }
            }
            tx.publish(head);
            sent.add(new Sent(header, frame));
            nextData = (nextData + all.length + 63) & ~63L;
        }
        GUARD.snapshot();

        Virtqueue[] queues = new Virtqueue[device.queueCount()];
        queues[0] = rx.open(0, device.queueMaxSize(0), features, RECORDER);
        queues[1] = tx.open(1, device.queueMaxSize(1), features, RECORDER);
        device.activate(new ActivationContext(MEM.memory(), features, queues, RECORDER, RECORDER));
        device.queueNotify(1);
        int expected = tx.published();
        // RX may only wait with frames pending when the buffers still posted cannot hold the next one
        // (MRG_RXBUF: the frame waits for more). Found by fuzzing: the first oracle flagged that wait.
        int posted = RX_BUFFERS;
        java.util.function.BooleanSupplier rxWaitsForBuffers = () -> loopback && LOOP.pendingFrames() > 0
                && mergeable && (long) (posted - rx.usedIdx()) * rxLen < LOOP.queue(0).peekLength();
        // TX may then wait too: a frame the loopback has no room for stays in its chain until RX drains the
        // loopback (backpressure, no loss). Found by fuzzing: a GSO frame waiting for RX buffers, then one
        // whose segments need more room than the 1 MiB ring had left.
        boolean txDone = RECORDER.await(() -> RECORDER.needsReset() || tx.usedIdx() == expected
                || rxWaitsForBuffers.getAsBoolean(), 1000);
        if (txDone && tx.usedIdx() != expected && !RECORDER.needsReset()) {
            RECORDER.await(() -> tx.usedIdx() == expected, 50); // what needs no loopback room still goes
        }
        boolean rxSettled = !loopback || RECORDER.await(() -> RECORDER.needsReset() || LOOP.pendingFrames() == 0
                || rx.usedIdx() == posted || rxWaitsForBuffers.getAsBoolean(), 1000);
        long t0 = System.nanoTime();
        device.reset();
        check(System.nanoTime() - t0 < TimeUnit.SECONDS.toNanos(5), "reset took more than 5 s");
        check(DeviceWorker.failures() == failures, "a device worker threw: " + RECORDER.errors());
        check(txDone, "TX returned " + tx.usedIdx() + " of " + expected + " chains and asked for no reset"
                + (loopback ? " (loopback: " + LOOP.pendingFrames() + " frames pending, " + (RX_BUFFERS - rx.usedIdx())
                        + " RX buffers left)" : ""));
        check(rxSettled, "RX stalled: " + LOOP.pendingFrames() + " frames pending, " + (RX_BUFFERS - rx.usedIdx())
                + " buffers posted");

        List<RawRing.Range> allowed = new ArrayList<>(rx.writableRanges());
        allowed.add(rx.usedRing());
        allowed.add(tx.usedRing());
        GUARD.check(allowed);
        for (int slot = 0; slot < Math.min(tx.usedIdx(), QUEUE); slot++) {
            check(tx.usedLen(slot) == 0, "TX used.len " + tx.usedLen(slot) + " for a chain without writable buffers");
        }
        for (int slot = 0; slot < Math.min(rx.usedIdx(), RX_BUFFERS); slot++) {
            check(rx.usedId(slot) < RX_BUFFERS, "RX used id " + rx.usedId(slot) + " was never made available");
            check(rx.usedLen(slot) <= rxLen, "RX used.len " + rx.usedLen(slot) + " above the " + rxLen + "-byte buffer");
        }
        if (!loopback && sent.size() == 1) {
            List<byte[]> out = PLAIN_BACKEND.take();
            if (!out.isEmpty()) {
                check(out.size() == 1, "one frame became " + out.size());
                check(Arrays.equals(out.getFirst(), expectedPlain(sent.getFirst())),
                        "the plain backend got a different frame than the header asked for");
            }
        }
    }

    /** What a backend without vnet header must receive: the frame, NEEDS_CSUM completed in software. */
    private static byte[] expectedPlain(Sent s) {
        byte[] f = s.frame().clone();
        if ((s.header()[0] & 1) != 0) {
            int start = u16le(s.header(), 6);
            int offset = u16le(s.header(), 8);
            int c = ~Frames.fold(Frames.sum(f, start, f.length - start)) & 0xFFFF;
            f[start + offset] = (byte) (c >> 8);
            f[start + offset + 1] = (byte) c;
        }
        return f;
    }

    private static byte[] frame(FuzzedDataProvider data) {
        byte[] dst = data.consumeInt(0, 3) == 0 ? Frames.BROADCAST : MAC;
        byte[] f = switch (data.consumeInt(0, 3)) {
            case 0 -> data.consumeBytes(data.consumeInt(0, 2000));
            case 1 -> Frames.tcp4Partial(dst, Frames.OTHER_MAC, data.consumeInt(0, 20_000), data.consumeInt());
            case 2 -> Frames.udp4Partial(dst, Frames.OTHER_MAC, data.consumeInt(0, 3000), data.consumeInt());
            default -> Frames.ethernet(dst, Frames.OTHER_MAC, data.consumeInt(14, 1600), data.consumeInt());
        };
        int flips = data.consumeInt(0, 3);
        for (int i = 0; i < flips && f.length > 0; i++) {
            f[data.consumeInt(0, f.length - 1)] = data.consumeByte();
        }
        return f;
    }

    private static byte[] header(FuzzedDataProvider data, byte[] frame) {
        boolean udp = frame.length > 23 && frame[23] == 17;
        int[] h = {1, udp ? 5 : 1, udp ? 42 : 54, 1448, 34, udp ? 6 : 16, 0};
        if (data.consumeBoolean()) {
            h[1] = 0;
        }
        int[] widths = {255, 255, 0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF};
        for (int i = 0; i < h.length; i++) {
            if (data.consumeInt(0, 2) == 0) {
                h[i] = data.consumeBoolean() ? data.consumeInt(0, widths[i]) : data.consumeInt(0, 80);
            }
        }
        byte[] out = new byte[12];
        out[0] = (byte) h[0];
        out[1] = (byte) h[1];
        putLe16(out, 2, h[2]);
        putLe16(out, 4, h[3]);
        putLe16(out, 6, h[4]);
        putLe16(out, 8, h[5]);
        putLe16(out, 10, h[6]);
        return out;
    }

    private static void putLe16(byte[] b, int at, int v) {
        b[at] = (byte) v;
        b[at + 1] = (byte) (v >>> 8);
    }

    private static int u16le(byte[] b, int at) {
        return (b[at] & 0xFF) | (b[at + 1] & 0xFF) << 8;
    }

    private static void check(boolean ok, String invariant) {
        if (!ok) {
            throw new AssertionError(invariant);
        }
    }
}
