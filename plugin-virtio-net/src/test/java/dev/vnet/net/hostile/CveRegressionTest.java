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
import dev.vnet.pci.BarLayout;
import dev.vnet.pci.VirtioPci;
import dev.vnet.pci.VirtioPciFunction;
import dev.vnet.spi.MmioHandler;
import dev.vnet.spi.SegmentList;
import dev.vnet.testkit.Buffer;
import dev.vnet.testkit.DriverQueue;
import dev.vnet.testkit.FakeGuestMemory;
import dev.vnet.testkit.net.VirtioNetDriver;
import dev.vnet.testkit.pci.VirtioPciDriver;
import dev.vnet.virtio.DeviceWorker;
import dev.vnet.virtio.VirtioFeatures;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The known failures of peer virtio-net implementations, replayed in their real shape against this
 * device. Each test is named after the CVE (or the QEMU test) and says in its Javadoc what the
 * original bug was and what this device must do instead. Every test also checks that no device worker
 * threw ({@link DeviceWorker#failures()}).
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class CveRegressionTest {

    static final Duration WAIT = Duration.ofSeconds(5);
    static final long UINT_MAX = 0xFFFF_FFFFL;
    static final long RAM = 0x10_0000L;

    private long workerFailures;

    @BeforeEach
    void rememberFailures() {
        workerFailures = DeviceWorker.failures();
    }

    @AfterEach
    void noWorkerThrew() {
        assertThat(DeviceWorker.failures()).as("device workers that threw").isEqualTo(workerFailures);
    }

    // ------------------------------------------------------------------ CVE-2018-1059

    /**
     * DPDK vhost translated a descriptor's guest-physical start address and used the host mapping for the
     * whole length, without checking that the range stayed inside one memory region: a descriptor (or an
     * indirect table) crossing the end of a region made the backend read whatever host memory followed.
     * Here the two regions are adjacent in guest-physical space but separate host allocations; a table or
     * buffer straddling them is a guest error and no byte of either side reaches the backend.
     */
    @Test
    void CVE_2018_1059_indirectTableCrossingAMemoryRegion() throws Exception {
        long boundary = RAM + (16L << 20);
        try (FakeGuestMemory mem = new FakeGuestMemory(new long[] {RAM, 16L << 20}, new long[] {boundary, 1L << 20})) {
            CapturingBackend backend = new CapturingBackend();
            try (Bed bed = Bed.start(backend, Bed.config().build(), NetFeatures.ALL, mem)) {
                long frame = mem.alloc(12 + 60, 64);
                mem.write(frame + 12, Frames.ethernet(Frames.OTHER_MAC, Frames.DEVICE_MAC, 60, 1));
                long secret = boundary + 0x100;
                mem.fill(secret, 64, (byte) 0x5A);
                DriverQueue tx = bed.harness.queue(1);
                long table = boundary - 16; // entry 0 in the first region, entry 1 in the second
                tx.writeRawDescriptorAt(table, 0, frame, 12 + 60, DriverQueue.F_NEXT, 1);
                tx.writeRawDescriptorAt(table, 1, secret, 64, 0, 0);
                tx.writeRawDescriptor(0, table, 32, DriverQueue.F_INDIRECT, 0);
                tx.publishRawHead(0);
                bed.device.queueNotify(1);

                assertThat(bed.harness.await(() -> bed.harness.interrupts().needsReset(), WAIT)).isTrue();
                assertThat(bed.harness.interrupts().guestErrors().getFirst()).contains("queue 1");
                assertThat(backend.written()).as("frames that reached the backend").isZero();
            }
        }
    }

    /** The same with a plain buffer descriptor crossing the region end (the data path of the CVE). */
    @Test
    void CVE_2018_1059_bufferCrossingAMemoryRegion() throws Exception {
        long boundary = RAM + (16L << 20);
        try (FakeGuestMemory mem = new FakeGuestMemory(new long[] {RAM, 16L << 20}, new long[] {boundary, 1L << 20})) {
            CapturingBackend backend = new CapturingBackend();
            try (Bed bed = Bed.start(backend, Bed.config().build(), NetFeatures.ALL, mem)) {
                DriverQueue tx = bed.harness.queue(1);
                tx.writeRawDescriptor(0, boundary - 40, 12 + 80, 0, 0);
                tx.publishRawHead(0);
                bed.device.queueNotify(1);

                assertThat(bed.harness.await(() -> bed.harness.interrupts().needsReset(), WAIT)).isTrue();
                assertThat(backend.written()).isZero();
            }
        }
    }

    // ------------------------------------------------------------------ CVE-2019-14818

    /**
     * DPDK vhost-user leaked memory and file descriptors when a malicious front end sent VRING_SET_NUM
     * (queue setup) over and over. Here the guest sets up, activates and resets the queues through the
     * real PCI transport thousands of times, and resets single queues (VIRTIO_F_RING_RESET) thousands of
     * times: device threads, JMX MBeans, open file descriptors, direct/native buffer memory and the heap
     * retained after GC must not grow.
     */
    @Test
    void CVE_2019_14818_repeatedQueueSetupLeaksNothing() throws Exception {
        String id = Bed.uniqueId("cve14818");
        try (PciNet net = new PciNet(Bed.config().id(id).build())) {
            net.setup(); // the first round loads classes and allocates lazily
            net.reset();
            Footprint before = Footprint.measure(id);
            for (int round = 0; round < 2000; round++) {
                net.setup();
                if (round % 4 == 0) {
                    net.kickAll();
                }
                net.reset();
            }
            net.setup();
            for (int round = 0; round < 2000; round++) {
                net.resetAndReenableQueue(round % 3);
            }
            net.reset();
            Footprint after = Footprint.measure(id);

            System.out.printf("CVE-2019-14818: before %s%n                after  %s%n", before, after);
            after.assertNoGrowthSince(before);
            assertThat(net.function.internalErrors()).isZero();
            assertThat(net.status()).isZero();
        }
    }

    // ------------------------------------------------------------------ CVE-2020-10723

    /**
     * DPDK vhost truncated the vring index of a message and indexed its queue array with it: an
     * out-of-range queue index from the front end reached memory past the array. Here every register that
     * takes a queue index gets out-of-range ones (num_queues, num_queues + 1, 0x7FFF, 0x8000, 0xFFFF):
     * queue fields read 0 and ignore writes, notifications to nonexistent queues are dropped, the device's
     * own entry points ignore negative and huge indexes, and the device still carries traffic.
     */
    @Test
    void CVE_2020_10723_queueIndexOutOfRange() throws Exception {
        try (PciNet net = new PciNet(Bed.config().build())) {
            int queues = net.device.queueCount();
            net.driver.initialize(NetFeatures.ALL, queues);
            MmioHandler bar = net.function.barHandler();
            for (int q : new int[] {queues, queues + 1, 0x7FFF, 0x8000, 0xFFFF}) {
                net.driver.writeCommon(0x16, 2, q);
                assertThat(net.driver.readCommon(0x16, 2)).isEqualTo(q);
                net.driver.writeCommon(0x18, 2, 256);
                net.driver.writeCommon(0x20, 8, RAM);
                net.driver.writeCommon(0x28, 8, RAM + 0x1000);
                net.driver.writeCommon(0x30, 8, RAM + 0x2000);
                net.driver.writeCommon(0x1A, 2, 0);
                net.driver.writeCommon(0x1C, 2, 1);
                net.driver.writeCommon(0x3A, 2, 1);
                for (int field : new int[] {0x18, 0x1A, 0x1C, 0x1E, 0x38, 0x3A}) {
                    assertThat(net.driver.readCommon(field, 2)).as("field 0x%x of queue %d", field, q).isZero();
                }
                assertThat(net.driver.readCommon(0x20, 8)).isZero();
                bar.write(BarLayout.NOTIFY_CFG_OFFSET + (long) BarLayout.NOTIFY_OFF_MULTIPLIER * q, 2, q);
                bar.write(BarLayout.NOTIFY_CFG_OFFSET + (long) BarLayout.NOTIFY_OFF_MULTIPLIER * q, 4, 0xFFFF_0000L | q);
            }
            for (int q : new int[] {-1, queues, 0x8000, 0xFFFF, Integer.MAX_VALUE, Integer.MIN_VALUE}) {
                net.device.queueNotify(q);
                net.device.stopQueue(q);
            }
            assertThat(net.function.internalErrors()).isZero();
            assertThat(net.status() & VirtioPciDriver.VIRTIO_CONFIG_S_NEEDS_RESET).isZero();
            assertThat(net.loopbackFrame(7)).isTrue();
        }
    }

    /** The control queue's pair count is an index too: VQ_PAIRS_SET outside 1..max answers ERR. */
    @Test
    void CVE_2020_10723_queuePairCountOutOfRange() throws Exception {
        try (Bed bed = Bed.loopback(Bed.config().queuePairs(2).build(), NetFeatures.ALL)) {
            for (int pairs : new int[] {0, 3, 0x8000, 0xFFFF}) {
                assertThat(bed.driver.command(4, 0, VirtioNetDriver.le16(pairs))).as("VQ_PAIRS_SET %d", pairs).isEqualTo(1);
            }
            assertThat(bed.device.activeQueuePairs()).isEqualTo(2);
            bed.driver.send(1, Frames.ethernet(Frames.DEVICE_MAC, Frames.OTHER_MAC, 60, 1));
            assertThat(bed.driver.receive(1, WAIT)).isNotNull();
        }
    }

    // ------------------------------------------------------------------ CVE-2020-16843

    /**
     * Firecracker stopped receiving for good when heavy ingress traffic filled both the TAP queue and
     * the guest's RX ring: the device waited for a TAP readiness edge that never came again. Here a host
     * peer floods RX as fast as the link takes frames while the guest posts no RX buffers: the device
     * must keep serving TX kicks, drop nothing (frames wait in the backend, which pushes back), and once
     * buffers come, deliver every frame the link accepted.
     */
    @Test
    void CVE_2020_16843_rxFloodWithoutBuffersKeepsTheDeviceResponsive() throws Exception {
        String id = Bed.uniqueId("cve16843");
        InJvmBackend[] ends = InJvmBackend.cable(id, 1, InJvmBackend.DEFAULT_RING_BYTES);
        VirtioNetDevice device = new VirtioNetDevice(Bed.config().id(id).build(), ends[0]);
        try (NetHarness h = new NetHarness(device); Flood flood = new Flood(ends[1], 1000)) {
            h.negotiate(NetFeatures.rules(NetFeatures.ALL).closeOverDependencies(NetFeatures.ALL));
            h.start();
            NetDriver driver = new NetDriver(h); // no RX buffers posted
            flood.start();
            assertThat(flood.awaitBackpressure(WAIT)).as("the link pushed back").isTrue();
            for (int i = 0; i < 50; i++) {
                driver.send(0, Frames.ethernet(Frames.OTHER_MAC, Frames.DEVICE_MAC, 100, i));
                h.kick(0); // RX kicks without buffers
            }
            driver.awaitTxDone(0, WAIT);
            assertThat(device.stats().tx(0).getPackets()).isEqualTo(50);
            flood.stop();

            long accepted = flood.accepted();
            driver.fillRx(0);
            long received = 0;
            while (received < accepted) {
                VirtioNetDriver.Received r = driver.receiveAndRefill(0, WAIT);
                assertThat(r).as("frame %d of %d", received + 1, accepted).isNotNull();
                received++;
            }
            assertThat(driver.receive(0, Duration.ofMillis(100))).isNull();
            assertThat(device.stats().rx(0).getDrops()).isZero();
            assertThat(h.interrupts().needsReset()).isFalse();
        }
    }

    /** The flooded device still resets promptly and receives again after the driver restarts it. */
    @Test
    void CVE_2020_16843_resetDuringAnRxFloodReturnsAndTheDeviceReceivesAgain() throws Exception {
        String id = Bed.uniqueId("cve16843r");
        InJvmBackend[] ends = InJvmBackend.cable(id, 1, InJvmBackend.DEFAULT_RING_BYTES);
        VirtioNetDevice device = new VirtioNetDevice(Bed.config().id(id).build(), ends[0]);
        try (NetHarness h = new NetHarness(device); Flood flood = new Flood(ends[1], 1000)) {
            h.negotiate(NetFeatures.rules(NetFeatures.ALL).closeOverDependencies(NetFeatures.ALL));
            h.start();
            flood.start();
            assertThat(flood.awaitBackpressure(WAIT)).isTrue();
            long t0 = System.nanoTime();
            h.reset();
            assertThat(System.nanoTime() - t0).as("reset time").isLessThan(TimeUnit.SECONDS.toNanos(2));
            h.start();
            NetDriver driver = new NetDriver(h);
            driver.fillRx(0);
            for (int i = 0; i < 100; i++) {
                assertThat(driver.receiveAndRefill(0, WAIT)).isNotNull();
            }
            flood.stop();
        }
    }

    // ------------------------------------------------------------------ CVE-2022-2132

    /**
     * DPDK vhost trusted that a TX descriptor chain held at least a virtio-net header and that the header
     * sat in at most two descriptors; a crafted chain made it read past its buffers. Here a chain whose
     * readable bytes (over several tiny descriptors) are fewer than 12 sets DEVICE_NEEDS_RESET without
     * sending anything, and a header spread over twelve 1-byte descriptors (and zero-length ones) is read
     * correctly: its NEEDS_CSUM request is honoured byte for byte.
     */
    @Test
    void CVE_2022_2132_frameShorterThanTheHeader() throws Exception {
        CapturingBackend backend = new CapturingBackend();
        try (Bed bed = Bed.start(backend, Bed.config().build(), NetFeatures.ALL, null)) {
            FakeGuestMemory mem = bed.harness.memory();
            long buf = mem.alloc(64, 64);
            DriverQueue tx = bed.harness.queue(1);
            tx.add(List.of(new Buffer(buf, 1), new Buffer(buf + 1, 2), new Buffer(buf + 3, 0), new Buffer(buf + 3, 3)),
                    List.of(), "six bytes");
            bed.harness.kick(1);
            assertThat(bed.harness.await(() -> bed.harness.interrupts().needsReset(), WAIT)).isTrue();
            assertThat(bed.harness.interrupts().guestErrors().getFirst()).contains("12-byte header");
            assertThat(backend.written()).isZero();
        }
    }

    @Test
    void CVE_2022_2132_headerSpreadOverTwelveDescriptorsIsReadExactly() throws Exception {
        CapturingBackend backend = new CapturingBackend();
        long wanted = NetFeatures.ALL & ~VirtioFeatures.bit(VirtioFeatures.VIRTIO_F_INDIRECT_DESC);
        try (Bed bed = Bed.start(backend, Bed.config().build(), wanted, null)) {
            FakeGuestMemory mem = bed.harness.memory();
            byte[] frame = Frames.udp4Partial(Frames.OTHER_MAC, Frames.DEVICE_MAC, 301, 9);
            byte[] header = Frames.header(1, 0, 0, 0, 34, 6);
            long hdr = mem.alloc(12, 16);
            long data = mem.alloc(frame.length, 64);
            mem.write(hdr, header);
            mem.write(data, frame);
            List<Buffer> out = new ArrayList<>();
            for (int i = 0; i < 12; i++) {
                out.add(new Buffer(hdr + i, 1));
                if (i % 4 == 3) {
                    out.add(new Buffer(hdr, 0));
                }
            }
            out.add(new Buffer(data, frame.length));
            bed.harness.queue(1).add(out, List.of(), "split header");
            bed.harness.kick(1);
            assertThat(bed.harness.await(() -> backend.written() == 1, WAIT)).isTrue();
            byte[] sent = backend.take().getFirst();
            assertThat(sent).hasSize(frame.length);
            assertThat(Frames.l4ChecksumValid(sent)).as("checksum completed from the split header").isTrue();
            assertThat(bed.harness.interrupts().needsReset()).isFalse();
        }
    }

    /** The receive side of the same: an RX chain with fewer than 12 writable bytes over three descriptors. */
    @Test
    void CVE_2022_2132_rxChainShorterThanTheHeader() throws Exception {
        ScriptedBackend backend = new ScriptedBackend(true, 1);
        long wanted = NetFeatures.ALL & ~VirtioFeatures.bit(VirtioFeatures.VIRTIO_F_INDIRECT_DESC);
        try (Bed bed = Bed.start(backend, Bed.config().build(), wanted, null)) {
            bed.harness.reset();
            bed.harness.start();
            FakeGuestMemory mem = bed.harness.memory();
            long buf = mem.alloc(64, 64);
            bed.harness.queue(0).add(List.of(), List.of(new Buffer(buf, 4), new Buffer(buf + 4, 4), new Buffer(buf + 8, 3)),
                    "eleven bytes");
            bed.harness.kick(0);
            backend.inject(0, withHeader(new byte[12], Frames.ethernet(Frames.DEVICE_MAC, Frames.OTHER_MAC, 60, 2)));
            assertThat(bed.harness.await(() -> bed.harness.interrupts().needsReset(), WAIT)).isTrue();
            assertThat(bed.harness.interrupts().guestErrors().getFirst()).contains("RX chain");
            assertThat(mem.read(buf + 11, 53)).containsOnly(0);
        }
    }

    // ------------------------------------------------------------------ CVE-2024-11614

    /**
     * DPDK vhost's TX checksum offload used csum_start/csum_offset from the guest's header without
     * checking them against the packet, reading (and writing the checksum) out of bounds. Here every
     * NEEDS_CSUM header whose 2-byte checksum field does not lie inside the frame is dropped as a bad
     * header, on a backend that takes the vnet header (loopback) and on one that does not (where the
     * device would complete the checksum itself); the chain still comes back, the device keeps working.
     * The boundary case (field ending exactly at the frame's end) is honoured.
     */
    @Test
    void CVE_2024_11614_csumStartBeyondTheFrame() throws Exception {
        byte[] frame = Frames.udp4Partial(Frames.OTHER_MAC, Frames.DEVICE_MAC, 100, 3);
        int len = frame.length;
        int[][] bad = {{len, 0}, {len - 1, 0}, {len - 2, 1}, {0xFFFF, 0xFFFF}, {34, len}, {0, 0xFFFF}, {len + 100, 0}};

        CapturingBackend plain = new CapturingBackend();
        try (Bed bed = Bed.start(plain, Bed.config().build(), NetFeatures.ALL, null)) {
            for (int[] c : bad) {
                bed.driver.send(0, Frames.header(1, 0, 0, 0, c[0], c[1]), frame, true);
            }
            bed.driver.awaitTxDone(0, WAIT);
            assertThat(bed.device.stats().tx(0).drops(DropReason.BAD_HEADER)).isEqualTo(bad.length);
            assertThat(plain.written()).isZero();
            bed.driver.send(0, Frames.header(1, 0, 0, 0, len - 2, 0), frame, true);
            bed.driver.awaitTxDone(0, WAIT);
            assertThat(plain.written()).as("the field ending at the last byte is inside the frame").isEqualTo(1);
            assertThat(bed.harness.interrupts().needsReset()).isFalse();
        }

        try (Bed bed = Bed.loopback(Bed.config().build(), NetFeatures.ALL)) {
            for (int[] c : bad) {
                bed.driver.send(0, Frames.header(1, 0, 0, 0, c[0], c[1]), frame, true);
            }
            bed.driver.awaitTxDone(0, WAIT);
            assertThat(bed.device.stats().tx(0).drops(DropReason.BAD_HEADER)).isEqualTo(bad.length);
            assertThat(bed.driver.receive(0, Duration.ofMillis(200))).isNull();
            bed.driver.send(0, Frames.header(1, 0, 0, 0, 34, 6), frame, true);
            assertThat(bed.driver.receive(0, WAIT)).isNotNull();
            assertThat(bed.harness.interrupts().needsReset()).isFalse();
        }
    }

    /**
     * The receive side: a vnet-header backend (a TAP fed by a hostile peer) delivers NEEDS_CSUM with
     * csum_start past the frame to a driver that did not accept GUEST_CSUM, so the device would have to
     * complete the checksum: it drops the frame instead and the buffers stay with the guest.
     */
    @Test
    void CVE_2024_11614_rxCsumStartBeyondTheFrameFromTheBackend() throws Exception {
        ScriptedBackend backend = new ScriptedBackend(true, 1);
        long wanted = NetFeatures.ALL & ~NetFeatures.GUEST_OFFLOADS
                & ~NetFeatures.bits(NetFeatures.VIRTIO_NET_F_CTRL_GUEST_OFFLOADS);
        try (Bed bed = Bed.start(backend, Bed.config().build(), wanted, null)) {
            byte[] frame = Frames.udp4Partial(Frames.DEVICE_MAC, Frames.OTHER_MAC, 100, 3);
            backend.inject(0, withHeader(Frames.header(1, 0, 0, 0, frame.length, 0), frame));
            backend.inject(0, withHeader(Frames.header(1, 0, 0, 0, 0xFFFF, 0xFFFF), frame));
            backend.inject(0, withHeader(Frames.header(1, 0, 0, 0, 34, 6), frame));
            VirtioNetDriver.Received r = bed.driver.receive(0, WAIT);
            assertThat(r).isNotNull();
            assertThat(Frames.l4ChecksumValid(r.frame())).isTrue();
            assertThat(bed.device.stats().rx(0).drops(DropReason.UNSUPPORTED_OFFLOAD)).isEqualTo(2);
            assertThat(bed.harness.interrupts().needsReset()).isFalse();
        }
    }

    // ------------------------------------------------------------------ QEMU large_tx

    /**
     * QEMU's {@code virtio-net-test large_tx}: 65 TX descriptors all pointing at one area of UINT_MAX / 64
     * bytes, a chain of about 4 GiB (past UINT_MAX), which once overflowed QEMU's packet size
     * (CVE-2018-17963). The chain's readable length does not fit used.len's u32, so the engine refuses it
     * as a guest error before touching a byte: DEVICE_NEEDS_RESET within moments, nothing transmitted,
     * and the device works again after a reset.
     */
    @Test
    void QEMU_large_tx_65DescriptorsAliasingOneAreaTotallingUintMax() throws Exception {
        try (FakeGuestMemory mem = new FakeGuestMemory(RAM, 96L << 20)) {
            CapturingBackend backend = new CapturingBackend();
            try (Bed bed = Bed.start(backend, Bed.config().build(), NetFeatures.ALL, mem)) {
                long each = UINT_MAX / 64;
                long area = mem.alloc(each, 4096);
                DriverQueue tx = bed.harness.queue(1);
                for (int i = 0; i < 65; i++) {
                    tx.writeRawDescriptor(i, area, (int) each, i < 64 ? DriverQueue.F_NEXT : 0, i + 1);
                }
                tx.publishRawHead(0);
                long t0 = System.nanoTime();
                bed.device.queueNotify(1);
                assertThat(bed.harness.await(() -> bed.harness.interrupts().needsReset(), WAIT)).isTrue();
                assertThat(System.nanoTime() - t0).isLessThan(TimeUnit.SECONDS.toNanos(2));
                assertThat(bed.harness.interrupts().guestErrors().getFirst()).contains("2^32 - 1");
                assertThat(backend.written()).isZero();

                bed.harness.reset();
                bed.harness.start();
                NetDriver driver = new NetDriver(bed.harness);
                driver.send(0, Frames.ethernet(Frames.OTHER_MAC, Frames.DEVICE_MAC, 60, 1));
                driver.awaitTxDone(0, WAIT);
                assertThat(backend.written()).isEqualTo(1);
            }
        }
    }

    /**
     * The under-UINT_MAX variant (QEMU's {@code large_tx_over_limit} shape): 64 descriptors aliasing one
     * 1 MiB area, 64 MiB in all. Legal for the ring, far above any frame: dropped as oversized without
     * being read, the chain returned with length 0, no reset needed.
     */
    @Test
    void QEMU_large_tx_overLimitIsDroppedAndReturned() throws Exception {
        CapturingBackend backend = new CapturingBackend();
        try (Bed bed = Bed.start(backend, Bed.config().build(), NetFeatures.ALL, null)) {
            long area = bed.harness.memory().alloc(1 << 20, 4096);
            DriverQueue tx = bed.harness.queue(1);
            for (int i = 0; i < 64; i++) {
                tx.writeRawDescriptor(i, area, 1 << 20, i < 63 ? DriverQueue.F_NEXT : 0, i + 1);
            }
            tx.publishRawHead(0);
            bed.device.queueNotify(1);
            assertThat(bed.harness.await(() -> tx.usedIdx() == 1, WAIT)).isTrue();
            assertThat(bed.harness.memory().u32(tx.usedAddr() + 8)).as("used.len").isZero();
            assertThat(bed.device.stats().tx(0).drops(DropReason.OVERSIZED)).isEqualTo(1);
            assertThat(backend.written()).isZero();
            assertThat(bed.harness.interrupts().needsReset()).isFalse();
        }
    }

    // ------------------------------------------------------------------ helpers

    static byte[] withHeader(byte[] header, byte[] frame) {
        byte[] out = new byte[header.length + frame.length];
        System.arraycopy(header, 0, out, 0, header.length);
        System.arraycopy(frame, 0, out, header.length, frame.length);
        return out;
    }

    /** A host peer pushing frames for the device into one end of a cable as fast as it takes them. */
    static final class Flood implements AutoCloseable {
        private final InJvmBackend host;
        private final int frameLength;
        private final AtomicBoolean running = new AtomicBoolean(true);
        private final AtomicLong accepted = new AtomicLong();
        private final AtomicLong refused = new AtomicLong();
        private final Thread thread;

        Flood(InJvmBackend host, int frameLength) {
            this.host = host;
            this.frameLength = frameLength;
            this.thread = Thread.ofPlatform().daemon().name("flood").unstarted(this::run);
        }

        void start() {
            thread.start();
        }

        private void run() {
            Arena arena = Arena.ofConfined();
            MemorySegment frame = arena.allocate(12 + frameLength);
            MemorySegment.copy(Frames.ethernet(Frames.DEVICE_MAC, Frames.OTHER_MAC, frameLength, 5), 0, frame,
                    java.lang.foreign.ValueLayout.JAVA_BYTE, 12, frameLength);
            SegmentList out = new SegmentList(1);
            out.add(frame, 0, frame.byteSize());
            MemorySegment sink = arena.allocate(70_000);
            SegmentList in = new SegmentList(1);
            in.add(sink, 0, sink.byteSize());
            while (running.get()) {
                if (host.queue(0).write(out)) {
                    accepted.incrementAndGet();
                } else {
                    refused.incrementAndGet();
                    Thread.onSpinWait();
                }
                while (host.queue(0).read(in) > 0) {
                    // absorb what the device transmits
                }
            }
            arena.close();
        }

        boolean awaitBackpressure(Duration timeout) throws InterruptedException {
            long deadline = System.nanoTime() + timeout.toNanos();
            while (refused.get() == 0) {
                if (System.nanoTime() > deadline) {
                    return false;
                }
                Thread.sleep(1);
            }
            return true;
        }

        long accepted() {
            return accepted.get();
        }

        void stop() {
            running.set(false);
            try {
                thread.join(5000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }

        @Override
        public void close() {
            stop();
        }
    }

    /** A net device behind the real PCI transport, driven through registers at fixed RAM addresses. */
    static final class PciNet implements AutoCloseable {
        final FakeGuestMemory mem = FakeGuestMemory.standard();
        final VirtioNetDevice device;
        final VirtioPciFunction function;
        final VirtioPciDriver driver;
        private final long rings = mem.alloc(0x40000, 4096);

        PciNet(NetDeviceConfig config) {
            device = new VirtioNetDevice(config, InJvmBackend.loopback(config.id(), config.queuePairs(),
                    InJvmBackend.DEFAULT_RING_BYTES));
            function = new VirtioPciFunction(device, mem.memory(), VirtioPci.PCI_CLASS_NETWORK_ETHERNET);
            driver = VirtioPciDriver.plug(function, mem);
            driver.probe();
        }

        int status() {
            return (int) driver.readCommon(0x14, 1);
        }

        /** ACK, DRIVER, features, FEATURES_OK, every queue at fixed addresses, DRIVER_OK. */
        void setup() {
            driver.writeCommon(0x14, 1, 0);
            driver.writeCommon(0x14, 1, 1);
            driver.writeCommon(0x14, 1, 3);
            long features = device.featureRules().closeOverDependencies(NetFeatures.ALL & device.offeredFeatures());
            driver.writeCommon(0x08, 4, 0);
            driver.writeCommon(0x0C, 4, features & 0xFFFF_FFFFL);
            driver.writeCommon(0x08, 4, 1);
            driver.writeCommon(0x0C, 4, features >>> 32);
            driver.writeCommon(0x14, 1, 11);
            for (int q = 0; q < device.queueCount(); q++) {
                enableQueue(q);
            }
            driver.writeCommon(0x14, 1, 15);
            if (status() != 15) {
                throw new AssertionError("status " + status() + " after DRIVER_OK");
            }
        }

        private void enableQueue(int q) {
            driver.writeCommon(0x16, 2, q);
            int size = (int) driver.readCommon(0x18, 2);
            long base = rings + 0x8000L * q;
            driver.writeCommon(0x20, 8, base);
            driver.writeCommon(0x28, 8, base + 16L * size);
            driver.writeCommon(0x30, 8, base + 0x4000);
            driver.writeCommon(0x1C, 2, 1);
        }

        void kickAll() {
            for (int q = 0; q < device.queueCount(); q++) {
                function.barHandler().write(BarLayout.NOTIFY_CFG_OFFSET + (long) BarLayout.NOTIFY_OFF_MULTIPLIER * q, 2,
                        q);
            }
        }

        /** queue_reset (VIRTIO_F_RING_RESET), then the same queue set up and enabled again. */
        void resetAndReenableQueue(int q) {
            driver.writeCommon(0x16, 2, q);
            driver.writeCommon(0x3A, 2, 1);
            if (driver.readCommon(0x3A, 2) != 1) {
                throw new AssertionError("queue_reset did not read back 1");
            }
            enableQueue(q);
            if (driver.readCommon(0x1C, 2) != 1) {
                throw new AssertionError("queue " + q + " did not re-enable");
            }
        }

        void reset() {
            driver.writeCommon(0x14, 1, 0);
            if (status() != 0) {
                throw new AssertionError("reset did not complete");
            }
        }

        /** Linux-style init done by {@link VirtioPciDriver#initialize}: TX one frame, get it back on RX. */
        boolean loopbackFrame(int seed) {
            long rx = mem.alloc(2048, 64);
            long tx = mem.alloc(12 + 60, 64);
            byte[] frame = Frames.ethernet(Frames.DEVICE_MAC, Frames.OTHER_MAC, 60, seed);
            mem.write(tx + 12, frame);
            driver.send(0, List.of(), List.of(new Buffer(rx, 2048)), "rx");
            driver.send(1, List.of(new Buffer(tx, 12 + 60)), List.of(), "tx");
            DriverQueue.Used used = driver.awaitUsed(0, WAIT);
            return used != null && used.length() == 12 + 60
                    && java.util.Arrays.equals(mem.read(rx + 12, 60), frame);
        }

        @Override
        public void close() {
            function.close();
            device.close();
            mem.close();
        }
    }

    /** What a leaking device would grow. */
    record Footprint(int deviceThreads, int threads, int mbeans, long fds, long nativeBytes, long nmtOther, long rss,
                     long heapCommitted, long heap) {

        /** Resident memory outside the Java heap (native segments, thread stacks, code): where a native leak shows. */
        public long offHeapRss() {
            return rss - heapCommitted;
        }

        static Footprint measure(String id) throws InterruptedException {
            for (int i = 0; i < 3; i++) {
                System.gc();
                Thread.sleep(50);
            }
            int device = (int) Thread.getAllStackTraces().keySet().stream()
                    .filter(t -> t.isAlive() && t.getName().startsWith(id)).count();
            long fds;
            try (var s = java.nio.file.Files.list(java.nio.file.Path.of("/proc/self/fd"))) {
                fds = s.count();
            } catch (java.io.IOException e) {
                fds = -1;
            }
            long direct = java.lang.management.ManagementFactory.getPlatformMXBeans(
                            java.lang.management.BufferPoolMXBean.class).stream()
                    .mapToLong(java.lang.management.BufferPoolMXBean::getMemoryUsed).sum();
            Runtime rt = Runtime.getRuntime();
            return new Footprint(device, java.lang.management.ManagementFactory.getThreadMXBean().getThreadCount(),
                    java.lang.management.ManagementFactory.getPlatformMBeanServer().getMBeanCount(), fds, direct, currentNmtOther(),
                    currentRss(), rt.totalMemory(), rt.totalMemory() - rt.freeMemory());
        }

        /**
         * Bytes committed in Native Memory Tracking's "Other" category, where {@code Unsafe.allocateMemory}
         * (every native {@code MemorySegment}: guest RAM, the paths' patch buffers, TAP iovecs) is counted;
         * -1 when the JVM runs without {@code -XX:NativeMemoryTracking} (this module's tests enable it).
         */
        static long currentNmtOther() {
            try {
                Object out = java.lang.management.ManagementFactory.getPlatformMBeanServer().invoke(
                        new javax.management.ObjectName("com.sun.management:type=DiagnosticCommand"), "vmNativeMemory",
                        new Object[] {new String[] {"summary"}}, new String[] {String[].class.getName()});
                java.util.regex.Matcher m = java.util.regex.Pattern
                        .compile("Other \\(reserved=\\d+KB, committed=(\\d+)KB\\)").matcher(String.valueOf(out));
                return m.find() ? 1024 * Long.parseLong(m.group(1)) : -1;
            } catch (javax.management.JMException | RuntimeException e) {
                return -1;
            }
        }

        /** Asserts no growth in what a leaking device would hold; {@code nativeSlack} for the JVM's own noise. */
        void assertNoGrowthSince(Footprint before) {
            assertThat(deviceThreads).as("device threads left").isZero();
            assertThat(threads).as("live threads").isLessThanOrEqualTo(before.threads + 2);
            assertThat(mbeans).as("registered MBeans").isEqualTo(before.mbeans);
            assertThat(fds).as("open file descriptors").isLessThanOrEqualTo(before.fds + 4);
            assertThat(nativeBytes).as("buffer-pool (direct) bytes").isLessThanOrEqualTo(before.nativeBytes + (1 << 20));
            if (nmtOther >= 0 && before.nmtOther >= 0) {
                assertThat(nmtOther).as("native memory (NMT Other: Unsafe/FFM allocations)")
                        .isLessThanOrEqualTo(before.nmtOther + (1 << 20));
            }
            assertThat(offHeapRss()).as("resident memory outside the heap (JIT code and metaspace may grow)")
                    .isLessThanOrEqualTo(before.offHeapRss() + (96L << 20));
            assertThat(heap).as("heap retained after GC").isLessThanOrEqualTo(before.heap + (64L << 20));
        }

        /**
         * Resident set size: native segments from {@code Arena.ofAuto()} (the paths' patch buffers) and from
         * shared arenas do not show in the buffer-pool MXBeans, so a native leak is caught here.
         */
        static long currentRss() {
            try {
                for (String line : java.nio.file.Files.readAllLines(java.nio.file.Path.of("/proc/self/status"))) {
                    if (line.startsWith("VmRSS:")) {
                        return 1024 * Long.parseLong(line.replaceAll("[^0-9]", ""));
                    }
                }
            } catch (java.io.IOException | NumberFormatException e) {
                return -1;
            }
            return -1;
        }
    }
}
