package dev.vnet.net;

import static org.assertj.core.api.Assertions.assertThat;

import static dev.vnet.testkit.net.VirtioNetConstants.*;

import dev.vnet.net.harness.Frames;
import dev.vnet.net.harness.PciBed;
import dev.vnet.testkit.net.VirtioNetDriver;
import dev.vnet.testkit.net.VirtioNetDriver.Received;
import dev.vnet.testkit.net.VirtioNetDriver.RxMode;
import dev.vnet.testkit.pci.VirtioPciDriver.Strategy;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * TX and RX through the loopback backend, in every RX buffer shape Linux uses, with and without EVENT_IDX,
 * through the PCI transport (Linux's virtio_net model on virtio_pci_modern, every interrupt strategy).
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class LoopbackDatapathTest {

    static final Duration WAIT = Duration.ofSeconds(5);
    static final int[] SIZES = {60, 1514, 9014, 65550};

    /** The knobs that make the Linux driver model use {@code mode} for RX buffers. */
    static UnaryOperator<VirtioNetDriver> featuresFor(RxMode mode, boolean eventIdx) {
        return d -> {
            if (!eventIdx) {
                d.without(VIRTIO_RING_F_EVENT_IDX);
            }
            if (mode != RxMode.MERGEABLE) {
                d.without(VIRTIO_NET_F_MRG_RXBUF);
            }
            if (mode == RxMode.SMALL) {
                d.without(VIRTIO_NET_F_GUEST_TSO4, VIRTIO_NET_F_GUEST_TSO6, VIRTIO_NET_F_GUEST_ECN,
                        VIRTIO_NET_F_GUEST_UFO, VIRTIO_NET_F_GUEST_USO4, VIRTIO_NET_F_GUEST_USO6);
            }
            return d;
        };
    }

    static Stream<Arguments> modes() {
        List<Arguments> list = new ArrayList<>();
        for (RxMode m : RxMode.values()) {
            for (boolean e : new boolean[] {true, false}) {
                for (boolean split : new boolean[] {true, false}) {
                    list.add(Arguments.of(m, e, split));
                }
            }
        }
        return list.stream();
    }

    @ParameterizedTest(name = "rx buffers {0}, EVENT_IDX {1}, header in its own sg {2}: 60/1514/9014/65550-byte frames loop back")
    @MethodSource("modes")
    void framesOfEverySizeLoopBack(RxMode mode, boolean eventIdx, boolean split) throws Exception {
        // No MTU feature: a driver that negotiated an MTU gets no frames above it.
        NetDeviceConfig config = PciBed.config().disable(NetFeatures.VIRTIO_NET_F_MTU).build();
        try (PciBed bed = PciBed.loopback(config, featuresFor(mode, eventIdx))) {
            VirtioNetDriver d = bed.driver;
            assertThat(d.mode()).isEqualTo(mode);
            long tooBig = 0;
            for (int i = 0; i < SIZES.length; i++) {
                byte[] frame = Frames.ethernet(Frames.DEVICE_MAC, Frames.OTHER_MAC, SIZES[i], i);
                assertThat(d.send(0, new byte[12], frame, split)).isGreaterThanOrEqualTo(0);
                boolean fits = mode != RxMode.SMALL || SIZES[i] <= GOOD_PACKET_LEN;
                if (!fits) {
                    tooBig++;
                    long expected = tooBig;
                    assertThat(bed.await(() -> bed.device.stats().rx(0).getDropsTooBig() == expected, WAIT))
                            .as("oversized frame for a small buffer is dropped and counted").isTrue();
                    continue;
                }
                Received r = d.receive(0, WAIT);
                assertThat(r).as("frame of %d bytes", SIZES[i]).isNotNull();
                assertThat(r.frame()).isEqualTo(frame);
                assertThat(r.flags()).isZero();
                assertThat(r.gsoType()).isZero();
                if (mode == RxMode.MERGEABLE) {
                    int expectedBuffers = (SIZES[i] + 12 + MERGEABLE_BUFFER_LEN - 1) / MERGEABLE_BUFFER_LEN;
                    assertThat(r.numBuffers()).isEqualTo(expectedBuffers).isEqualTo(r.buffers());
                } else {
                    assertThat(r.numBuffers()).isEqualTo(1);
                }
            }
            assertThat(d.awaitTxDone(0, WAIT)).containsOnly(0);
            QueueStats tx = bed.device.stats().tx(0);
            assertThat(tx.getPackets()).isEqualTo(SIZES.length);
            assertThat(tx.getBytes()).isEqualTo(60 + 1514 + 9014 + 65550);
            assertThat(bed.device.stats().rx(0).getPackets()).isEqualTo(SIZES.length - tooBig);
            assertThat(bed.needsReset()).isFalse();
        }
    }

    static Stream<Arguments> strategiesAndEventIdx() {
        List<Arguments> list = new ArrayList<>();
        for (Strategy s : Strategy.values()) {
            for (boolean e : new boolean[] {true, false}) {
                list.add(Arguments.of(s, e));
            }
        }
        return list.stream();
    }

    @ParameterizedTest(name = "{0}, EVENT_IDX {1}: a burst of 500 frames loops back in order")
    @MethodSource("strategiesAndEventIdx")
    void burstLoopsBackInOrder(Strategy strategy, boolean eventIdx) throws Exception {
        NetDeviceConfig config = PciBed.config().build();
        try (PciBed bed = PciBed.start(PciBed.loopbackBackend(config), config, strategy,
                featuresFor(RxMode.MERGEABLE, eventIdx))) {
            assertThat(bed.pci.strategy()).isEqualTo(strategy);
            VirtioNetDriver d = bed.driver;
            for (int i = 0; i < 500; i++) {
                byte[] frame = Frames.ethernet(Frames.DEVICE_MAC, Frames.OTHER_MAC, 60 + i, i);
                while (d.send(0, new byte[12], frame, true) < 0) {
                    d.awaitTxDone(0, WAIT);
                }
                Received r = d.receive(0, WAIT);
                assertThat(r).isNotNull();
                assertThat(r.frame()).isEqualTo(frame);
            }
            assertThat(bed.device.stats().rx(0).getPackets()).isEqualTo(500);
            assertThat(bed.device.stats().rx(0).getInterrupts()).isPositive();
            assertThat(bed.device.stats().tx(0).getKicks()).isPositive();
            assertThat(d.rxErrors()).isZero();
        }
    }

    @ParameterizedTest(name = "{0}: frames of 60/1514/9014/65550 bytes loop back with 4 pairs in use")
    @MethodSource("strategies")
    void everyStrategyCarriesEverySizeOnFourPairs(Strategy strategy) throws Exception {
        NetDeviceConfig config = PciBed.config().queuePairs(4).disable(dev.vnet.net.NetFeatures.VIRTIO_NET_F_MTU)
                .build();
        try (PciBed bed = PciBed.start(PciBed.loopbackBackend(config), config, strategy, d -> d)) {
            assertThat(bed.driver.queuePairs()).isEqualTo(4);
            for (int p = 0; p < 4; p++) {
                for (int i = 0; i < SIZES.length; i++) {
                    byte[] frame = Frames.ethernet(Frames.DEVICE_MAC, Frames.OTHER_MAC, SIZES[i], 10 * p + i);
                    bed.driver.send(p, frame);
                    Received r = bed.driver.receive(p, WAIT);
                    assertThat(r).as("pair %d, %d bytes", p, SIZES[i]).isNotNull();
                    assertThat(r.frame()).isEqualTo(frame);
                }
                assertThat(bed.device.stats().rx(p).getPackets()).isEqualTo(SIZES.length);
            }
            if (strategy == Strategy.INTX) {
                assertThat(bed.pci.interrupts().intxChanges()).isPositive();
                assertThat(bed.pci.interrupts().totalMessages()).isZero();
            } else {
                assertThat(bed.pci.interrupts().strayMessages()).isZero();
            }
        }
    }

    @ParameterizedTest(name = "rx buffers {0}: without INDIRECT_DESC and with rings shrunk to 64, every size loops back")
    @MethodSource("bufferModes")
    void directDescriptorsAndShrunkRings(RxMode mode) throws Exception {
        NetDeviceConfig config = PciBed.config().disable(dev.vnet.net.NetFeatures.VIRTIO_NET_F_MTU).build();
        try (PciBed bed = PciBed.loopback(config, d -> {
            d.pci().limitQueueSizes(64, 64, 16);
            return featuresFor(mode, true).apply(d).without(VIRTIO_RING_F_INDIRECT_DESC);
        })) {
            assertThat(bed.driver.has(VIRTIO_RING_F_INDIRECT_DESC)).isFalse();
            assertThat(bed.queue(0).size()).isEqualTo(64);
            assertThat(bed.queue(2).size()).isEqualTo(16);
            for (int round = 0; round < 3; round++) {
                for (int i = 0; i < SIZES.length; i++) {
                    if (mode == RxMode.SMALL && SIZES[i] > GOOD_PACKET_LEN) {
                        continue;
                    }
                    byte[] frame = Frames.ethernet(Frames.DEVICE_MAC, Frames.OTHER_MAC, SIZES[i], 100 * round + i);
                    bed.driver.send(0, frame);
                    Received r = bed.driver.receive(0, WAIT);
                    assertThat(r).as("round %d, %d bytes", round, SIZES[i]).isNotNull();
                    assertThat(r.frame()).isEqualTo(frame);
                }
            }
            assertThat(bed.driver.setPromisc(false)).isZero();
            assertThat(bed.driver.rxErrors()).isZero();
            assertThat(bed.needsReset()).isFalse();
        }
    }

    static Stream<Strategy> strategies() {
        return Stream.of(Strategy.values());
    }

    @Test
    void rxDropsNonGsoFramesAboveTheNegotiatedMtu() throws Exception {
        try (PciBed bed = PciBed.loopback(PciBed.config().mtu(1500).build(), NetFeatures.ALL)) {
            byte[] tagged = Frames.vlanTagged(Frames.DEVICE_MAC, Frames.OTHER_MAC, 5, 1518, 1);
            byte[] tooLong = Frames.ethernet(Frames.DEVICE_MAC, Frames.OTHER_MAC, 1519, 2);
            bed.driver.send(0, tooLong);
            bed.driver.send(0, tagged);
            assertThat(bed.driver.receive(0, WAIT).frame()).isEqualTo(tagged);
            assertThat(bed.device.stats().rx(0).getDropsOversized()).isEqualTo(1);
            assertThat(bed.device.stats().tx(0).getPackets()).as("TX does not enforce the MTU").isEqualTo(2);
        }
    }

    @Test
    void mtu9000MakesLinuxUseBigBuffersAndJumboFramesPass() throws Exception {
        var f = featuresFor(RxMode.SMALL, true);
        try (PciBed bed = PciBed.loopback(PciBed.config().mtu(9000).build(), f)) {
            assertThat(bed.driver.mode()).isEqualTo(RxMode.BIG);
            byte[] jumbo = Frames.ethernet(Frames.DEVICE_MAC, Frames.OTHER_MAC, 9014, 3);
            bed.driver.send(0, jumbo);
            assertThat(bed.driver.receive(0, WAIT).frame()).isEqualTo(jumbo);
        }
    }

    static Stream<Boolean> eventIdx() {
        return Stream.of(true, false);
    }

    @ParameterizedTest(name = "rx buffers {0}: no RX buffers stops reading the backend until the guest refills (no loss)")
    @MethodSource("bufferModes")
    void noBuffersIsBackpressureNotLoss(RxMode mode) throws Exception {
        try (PciBed bed = PciBed.loopback(PciBed.config().id(dev.vnet.net.harness.Bed.uniqueId("bp")).build(), featuresFor(mode, true))) {
            VirtioNetDriver d = bed.driver;
            // Consume every posted buffer: the ring is now empty.
            List<byte[]> sent = new ArrayList<>();
            d.refill(false);
            int ring = d.rxOutstanding(0);
            assertThat(ring).isEqualTo(mode == RxMode.BIG ? 16 : bed.queue(0).size());
            int seq = 0;
            for (int i = 0; i < ring; i++) {
                byte[] f = Frames.ethernet(Frames.DEVICE_MAC, Frames.OTHER_MAC, 100, seq++);
                d.send(0, f);
                d.awaitTxDone(0, WAIT);
            }
            for (int i = 0; i < ring; i++) {
                assertThat(d.receive(0, WAIT)).isNotNull();
            }
            for (int i = 0; i < 5; i++) {
                byte[] f = Frames.ethernet(Frames.DEVICE_MAC, Frames.OTHER_MAC, 100, seq++);
                sent.add(f);
                d.send(0, f);
            }
            d.awaitTxDone(0, WAIT);
            assertThat(d.receive(0, Duration.ofMillis(100))).isNull();
            dev.vnet.net.backend.InJvmBackend backend = (dev.vnet.net.backend.InJvmBackend) bed.backend;
            assertThat(backend.pendingFrames()).isEqualTo(5);
            d.fillRx(0);
            for (byte[] f : sent) {
                Received r = d.receive(0, WAIT);
                assertThat(r).isNotNull();
                assertThat(r.frame()).isEqualTo(f);
            }
            assertThat(bed.device.stats().rx(0).getDrops()).isZero();
        }
    }

    static Stream<RxMode> bufferModes() {
        return Stream.of(RxMode.values());
    }

    @Test
    void frameLargerThanBiggestAllowedIsDroppedAsOversizedAndChainReturned() throws Exception {
        try (PciBed bed = PciBed.loopback(PciBed.config().build(), NetFeatures.ALL)) {
            VirtioNetDriver d = bed.driver;
            d.send(0, Frames.ethernet(Frames.DEVICE_MAC, Frames.OTHER_MAC, 65551, 1));
            d.send(0, new byte[12], new byte[13], true);
            d.send(0, new byte[12], new byte[0], false);
            assertThat(d.awaitTxDone(0, WAIT)).containsExactly(0, 0, 0);
            QueueStats tx = bed.device.stats().tx(0);
            assertThat(tx.getDropsOversized()).isEqualTo(1);
            assertThat(tx.getDropsShortFrame()).isEqualTo(2);
            assertThat(tx.getPackets()).isZero();
            assertThat(d.receive(0, Duration.ofMillis(50))).isNull();
            assertThat(bed.needsReset()).isFalse();
        }
    }

    @Test
    void txHeaderAskingForUnnegotiatedOffloadIsDroppedAsBadHeader() throws Exception {
        long f = NetFeatures.ALL & ~NetFeatures.bits(NetFeatures.VIRTIO_NET_F_HOST_TSO4, NetFeatures.VIRTIO_NET_F_HOST_TSO6,
                NetFeatures.VIRTIO_NET_F_HOST_ECN, NetFeatures.VIRTIO_NET_F_HOST_UFO, NetFeatures.VIRTIO_NET_F_HOST_USO);
        try (PciBed bed = PciBed.loopback(PciBed.config().build(), f)) {
            VirtioNetDriver d = bed.driver;
            byte[] frame = Frames.tcp4Partial(Frames.DEVICE_MAC, Frames.OTHER_MAC, 3000, 1);
            d.send(0, Frames.header(1, NetHeader.VIRTIO_NET_HDR_GSO_TCPV4, 54, 1448, 34, 16), frame, true);
            // csum_start + csum_offset beyond the frame
            d.send(0, Frames.header(1, 0, 0, 0, 200, 16), Frames.ethernet(Frames.DEVICE_MAC, Frames.OTHER_MAC, 100, 2),
                    true);
            assertThat(d.awaitTxDone(0, WAIT)).containsExactly(0, 0);
            assertThat(bed.device.stats().tx(0).getDropsBadHeader()).isEqualTo(2);
        }
    }

    @Test
    void txNeedsCsumWithoutCsumNegotiatedIsBadHeader() throws Exception {
        long f = NetFeatures.ALL & ~NetFeatures.bits(NetFeatures.VIRTIO_NET_F_CSUM);
        try (PciBed bed = PciBed.loopback(PciBed.config().build(), f)) {
            assertThat(bed.driver.has(NetFeatures.VIRTIO_NET_F_HOST_TSO4)).isFalse();
            byte[] frame = Frames.udp4Partial(Frames.DEVICE_MAC, Frames.OTHER_MAC, 100, 1);
            bed.driver.send(0, Frames.header(1, 0, 0, 0, 34, 6), frame, true);
            bed.driver.awaitTxDone(0, WAIT);
            assertThat(bed.device.stats().tx(0).getDropsBadHeader()).isEqualTo(1);
        }
    }

    @Test
    void txChecksumOffloadIsCompletedForAGuestWithoutGuestCsum() throws Exception {
        long f = NetFeatures.ALL & ~NetFeatures.GUEST_OFFLOADS;
        try (PciBed bed = PciBed.loopback(PciBed.config().build(), f)) {
            byte[] frame = Frames.udp4Partial(Frames.DEVICE_MAC, Frames.OTHER_MAC, 777, 3);
            assertThat(Frames.l4ChecksumValid(frame)).isFalse();
            bed.driver.send(0, Frames.header(NetHeader.VIRTIO_NET_HDR_F_NEEDS_CSUM, 0, 0, 0, 34, 6), frame, true);
            Received r = bed.driver.receive(0, WAIT);
            assertThat(r).isNotNull();
            assertThat(r.flags()).isZero();
            assertThat(Frames.l4ChecksumValid(r.frame())).isTrue();
        }
    }

    @Test
    void txChecksumOffloadPassesThroughToAGuestWithGuestCsum() throws Exception {
        try (PciBed bed = PciBed.loopback(PciBed.config().build(), NetFeatures.ALL)) {
            byte[] frame = Frames.udp4Partial(Frames.DEVICE_MAC, Frames.OTHER_MAC, 777, 3);
            bed.driver.send(0, Frames.header(NetHeader.VIRTIO_NET_HDR_F_NEEDS_CSUM, 0, 0, 0, 34, 6), frame, true);
            Received r = bed.driver.receive(0, WAIT);
            assertThat(r.flags()).isEqualTo(NetHeader.VIRTIO_NET_HDR_F_NEEDS_CSUM);
            assertThat(r.frame()).isEqualTo(frame);
        }
    }

    @ParameterizedTest(name = "rx buffers {0}: a TSO super-frame of 64 KiB reaches a GUEST_TSO4 guest whole")
    @MethodSource("gsoModes")
    void tsoSuperFrameReachesTsoGuestWhole(RxMode mode) throws Exception {
        try (PciBed bed = PciBed.loopback(PciBed.config().build(), featuresFor(mode, true))) {
            byte[] frame = Frames.tcp4Partial(Frames.DEVICE_MAC, Frames.OTHER_MAC, 65000, 9);
            bed.driver.send(0, Frames.header(1, NetHeader.VIRTIO_NET_HDR_GSO_TCPV4, 54, 1448, 34, 16), frame, false);
            Received r = bed.driver.receive(0, WAIT);
            assertThat(r).isNotNull();
            assertThat(r.gsoType()).isEqualTo(NetHeader.VIRTIO_NET_HDR_GSO_TCPV4);
            assertThat(r.frame()).isEqualTo(frame);
        }
    }

    static Stream<RxMode> gsoModes() {
        return Stream.of(RxMode.MERGEABLE, RxMode.BIG);
    }

    @Test
    void tsoSuperFrameIsSegmentedForAGuestWithoutGuestTso() throws Exception {
        long f = NetFeatures.ALL & ~NetFeatures.GUEST_OFFLOADS;
        try (PciBed bed = PciBed.loopback(PciBed.config().build(), f)) {
            int payload = 10_000;
            byte[] frame = Frames.tcp4Partial(Frames.DEVICE_MAC, Frames.OTHER_MAC, payload, 9);
            bed.driver.send(0, Frames.header(1, NetHeader.VIRTIO_NET_HDR_GSO_TCPV4, 54, 1448, 34, 16), frame, true);
            int got = 0;
            int segments = 0;
            while (got < payload) {
                Received r = bed.driver.receive(0, WAIT);
                assertThat(r).isNotNull();
                assertThat(r.gsoType()).isZero();
                assertThat(r.flags()).isZero();
                assertThat(Frames.ipChecksumValid(r.frame())).isTrue();
                assertThat(Frames.l4ChecksumValid(r.frame())).isTrue();
                int segPayload = r.frame().length - 54;
                assertThat(segPayload).isLessThanOrEqualTo(1448);
                assertThat(java.util.Arrays.copyOfRange(r.frame(), 54, r.frame().length))
                        .isEqualTo(java.util.Arrays.copyOfRange(frame, 54 + got, 54 + got + segPayload));
                got += segPayload;
                segments++;
            }
            assertThat(segments).isEqualTo((payload + 1447) / 1448);
        }
    }
}
