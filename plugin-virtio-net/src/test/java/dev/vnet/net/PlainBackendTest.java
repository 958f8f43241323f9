package dev.vnet.net;

import static org.assertj.core.api.Assertions.assertThat;

import dev.vnet.net.harness.PciBed;
import dev.vnet.testkit.net.VirtioNetDriver;
import java.util.function.UnaryOperator;
import dev.vnet.net.harness.Frames;
import dev.vnet.testkit.net.VirtioNetDriver.Received;
import dev.vnet.net.harness.PlainBackend;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** A backend without vnet headers (header stripped/added, checksum completed) and one that cannot peek (TAP). */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class PlainBackendTest {

    static final Duration WAIT = Duration.ofSeconds(5);

    @ParameterizedTest(name = "header in its own sg {0}: TX strips the virtio header for a plain backend")
    @CsvSource({"true", "false"})
    void txStripsTheHeader(boolean split) throws Exception {
        PlainBackend backend = new PlainBackend(1, true);
        try (PciBed bed = PciBed.start(backend, PciBed.config().build(), NetFeatures.ALL)) {
            byte[] frame = Frames.ethernet(Frames.OTHER_MAC, Frames.DEVICE_MAC, 1514, 1);
            bed.driver.send(0, new byte[12], frame, split);
            bed.driver.awaitTxDone(0, WAIT);
            assertThat(backend.sent(0)).singleElement().isEqualTo(frame);
        }
    }

    @Test
    void txChecksumIsCompletedInSoftwareWithoutCopyingTheFrame() throws Exception {
        PlainBackend backend = new PlainBackend(1, true);
        try (PciBed bed = PciBed.start(backend, PciBed.config().build(), NetFeatures.ALL)) {
            assertThat(bed.driver.has(NetFeatures.VIRTIO_NET_F_CSUM)).isTrue();
            assertThat(bed.driver.has(NetFeatures.VIRTIO_NET_F_HOST_TSO4)).isFalse();
            byte[] frame = Frames.udp4Partial(Frames.OTHER_MAC, Frames.DEVICE_MAC, 1001, 4);
            byte[] before = frame.clone();
            bed.driver.send(0, Frames.header(1, 0, 0, 0, 34, 6), frame, true);
            bed.driver.awaitTxDone(0, WAIT);
            byte[] out = backend.sent(0).getFirst();
            assertThat(Frames.l4ChecksumValid(out)).isTrue();
            assertThat(java.util.Arrays.copyOfRange(out, 42, out.length))
                    .isEqualTo(java.util.Arrays.copyOfRange(before, 42, before.length));
        }
    }

    @ParameterizedTest(name = "MRG_RXBUF {0}, EVENT_IDX {1}, peek known {2}: RX adds a zero header with num_buffers")
    @CsvSource({"true, true, true", "true, false, false", "false, true, true", "false, false, false"})
    void rxAddsTheHeader(boolean mrg, boolean eventIdx, boolean peekKnown) throws Exception {
        PlainBackend backend = new PlainBackend(1, peekKnown);
        try (PciBed bed = PciBed.start(backend, PciBed.config().build(), PciBed.knobs(mrg, eventIdx))) {
            for (int size : new int[] {60, 1514}) {
                byte[] frame = Frames.ethernet(Frames.DEVICE_MAC, Frames.OTHER_MAC, size, size);
                backend.inject(0, frame);
                Received r = bed.driver.receive(0, WAIT);
                assertThat(r).isNotNull();
                assertThat(r.frame()).isEqualTo(frame);
                assertThat(r.header()).containsExactly(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, r.buffers(), 0);
            }
        }
    }

    @Test
    void unknownLengthGathersForTheLargestFrameAndReturnsUnusedBuffers() throws Exception {
        PlainBackend backend = new PlainBackend(1, false);
        try (PciBed bed = PciBed.start(backend, PciBed.config().mtu(9000).build(), PciBed.knobs(true, true))) {
            int ring = bed.queue(0).size();
            byte[] frame = Frames.ethernet(Frames.DEVICE_MAC, Frames.OTHER_MAC, 3000, 7);
            backend.inject(0, frame);
            Received r = bed.driver.receive(0, WAIT);
            assertThat(r.buffers()).isEqualTo(2);
            assertThat(r.frame()).isEqualTo(frame);
            assertThat(bed.queue(0).numFree()).as("only the two used buffers came back").isEqualTo(2);
            assertThat(ring).isEqualTo(256);
            assertThat(bed.device.stats().rx(0).getDrops()).isZero();
        }
    }

    @Test
    void frameTooBigForASmallBufferIsDroppedAndTheBufferKept() throws Exception {
        PlainBackend backend = new PlainBackend(1, false);
        UnaryOperator<VirtioNetDriver> f = d -> PciBed.knobs(false, true).apply(d).without(
                NetFeatures.VIRTIO_NET_F_GUEST_CSUM); // its dependents go with it
        try (PciBed bed = PciBed.start(backend, PciBed.config().disable(NetFeatures.VIRTIO_NET_F_MTU).build(), f)) {
            assertThat(bed.driver.mode()).isEqualTo(VirtioNetDriver.RxMode.SMALL);
            backend.inject(0, Frames.ethernet(Frames.DEVICE_MAC, Frames.OTHER_MAC, 4000, 1));
            byte[] small = Frames.ethernet(Frames.DEVICE_MAC, Frames.OTHER_MAC, 100, 2);
            backend.inject(0, small);
            Received r = bed.driver.receive(0, WAIT);
            assertThat(r.frame()).isEqualTo(small);
            assertThat(bed.device.stats().rx(0).getDropsTooBig()).isEqualTo(1);
        }
    }

    @Test
    void fullBackendHoldsTxUntilWritable() throws Exception {
        PlainBackend backend = new PlainBackend(1, true);
        try (PciBed bed = PciBed.start(backend, PciBed.config().build(), NetFeatures.ALL)) {
            backend.setFull(true);
            byte[] frame = Frames.ethernet(Frames.OTHER_MAC, Frames.DEVICE_MAC, 100, 1);
            bed.driver.send(0, frame);
            Thread.sleep(50);
            assertThat(bed.driver.reclaimTx(0)).as("chain held while the backend is full").isEmpty();
            backend.setFull(false);
            assertThat(bed.driver.awaitTxDone(0, WAIT)).containsExactly(0);
            assertThat(backend.sent(0)).singleElement().isEqualTo(frame);
        }
    }
}
