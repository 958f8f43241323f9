package dev.vnet.net;

import static org.assertj.core.api.Assertions.assertThat;

import dev.vnet.net.backend.InJvmBackend;
import dev.vnet.net.harness.Bed;
import dev.vnet.net.harness.Frames;
import dev.vnet.testkit.net.VirtioNetDriver.Received;
import dev.vnet.spi.BackendQueue;
import dev.vnet.spi.NetBackend;
import dev.vnet.spi.ReadinessListener;
import dev.vnet.spi.SegmentList;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * RX from a vnet-header backend that cannot tell frame lengths (TAP): with MRG_RXBUF the device offers
 * buffers for the recent frame size plus a bounce tail, pops more buffers when a frame is bigger, and
 * keeps a frame it could not place until the driver posts buffers (nothing is lost or truncated).
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class UnknownLengthRxTest {

    @Test
    void smallThenSuperFrameWithTooFewBuffersIsKeptUntilRefill() throws Exception {
        NetDeviceConfig config = Bed.config().queueSizes(64, 256).build();
        InJvmBackend inner = InJvmBackend.loopback(config.id(), 1, InJvmBackend.DEFAULT_RING_BYTES);
        try (Bed bed = Bed.start(new NoPeek(inner), config, NetFeatures.ALL, null)) {
            byte[] small = Frames.ethernet(Frames.DEVICE_MAC, Frames.OTHER_MAC, 100, 1);
            for (int i = 0; i < 30; i++) {
                bed.driver.send(0, small);
                Received r = bed.driver.receive(0, Duration.ofSeconds(5)); // not re-posted: 34 buffers left
                assertThat(r.frame()).isEqualTo(small);
            }
            // Offered one buffer (recent frames were small), read 65 KiB: 42 more needed, 33 posted.
            byte[] big = Frames.tcp4Partial(Frames.DEVICE_MAC, Frames.OTHER_MAC, 65000, 2);
            bed.driver.send(0, Frames.header(1, NetHeader.VIRTIO_NET_HDR_GSO_TCPV4, 54, 1448, 34, 16), big, false);
            assertThat(bed.driver.receive(0, Duration.ofMillis(300))).as("no room for it yet").isNull();
            bed.driver.fillRx(0);
            Received r = bed.driver.receive(0, Duration.ofSeconds(5));
            assertThat(r).isNotNull();
            assertThat(r.gsoType()).isEqualTo(NetHeader.VIRTIO_NET_HDR_GSO_TCPV4);
            assertThat(r.frame()).isEqualTo(big);
            // And a second super-frame, now expected: straight into the refilled buffers.
            bed.driver.fillRx(0);
            bed.driver.send(0, Frames.header(1, NetHeader.VIRTIO_NET_HDR_GSO_TCPV4, 54, 1448, 34, 16), big, false);
            assertThat(bed.driver.receive(0, Duration.ofSeconds(5)).frame()).isEqualTo(big);
            assertThat(bed.device.stats().rx(0).getDrops()).isZero();
        }
    }

    /** The loopback backend with {@code peekLength() = -1}, as TAP reports. */
    private record NoPeek(InJvmBackend inner) implements NetBackend {
        @Override
        public boolean vnetHeader() {
            return true;
        }

        @Override
        public int supportedOffloads() {
            return inner.supportedOffloads();
        }

        @Override
        public void setOffloads(int offloads) {
            inner.setOffloads(offloads);
        }

        @Override
        public int maxQueuePairs() {
            return inner.maxQueuePairs();
        }

        @Override
        public void setActiveQueues(int pairs) {
            inner.setActiveQueues(pairs);
        }

        @Override
        public BackendQueue queue(int index) {
            BackendQueue q = inner.queue(index);
            return new BackendQueue() {
                @Override
                public boolean write(SegmentList frame) {
                    return q.write(frame);
                }

                @Override
                public int read(SegmentList buffers) {
                    return q.read(buffers);
                }

                @Override
                public int peekLength() {
                    return q.peekLength() == 0 ? 0 : -1;
                }
            };
        }

        @Override
        public void setReadinessListener(ReadinessListener listener) {
            inner.setReadinessListener(listener);
        }

        @Override
        public void close() {
            inner.close();
        }
    }
}
