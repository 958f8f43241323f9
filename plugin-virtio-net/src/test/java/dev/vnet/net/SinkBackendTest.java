package dev.vnet.net;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.vnet.net.backend.SinkBackend;
import dev.vnet.net.backend.SinkBackendProvider;
import dev.vnet.net.harness.Frames;
import dev.vnet.net.harness.PciBed;
import dev.vnet.spi.BackendRequest;
import dev.vnet.spi.NetBackend;
import dev.vnet.testkit.net.VirtioNetDriver;
import dev.vnet.testkit.net.VirtioNetDriver.Received;
import java.time.Duration;
import java.util.Arrays;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The {@code null} backend through the PCI transport and the Linux driver model. */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class SinkBackendTest {

    static final Duration WAIT = Duration.ofSeconds(5);

    static NetBackend open(Map<String, Object> options) {
        return new SinkBackendProvider().open(new BackendRequest("net0", 1, options));
    }

    @ParameterizedTest(name = "rx-frame-size {0}: the guest receives an endless stream of that frame")
    @ValueSource(ints = {60, 64, 1514})
    void sourceFillsEveryBufferTheGuestPosts(int size) throws Exception {
        NetDeviceConfig config = PciBed.config().build();
        try (PciBed bed = PciBed.start(open(Map.of("rx-frame-size", size)), config)) {
            VirtioNetDriver d = bed.driver;
            byte[] expected = Arrays.copyOfRange(SinkBackend.udpBroadcast(size), 12, 12 + size);
            for (int i = 0; i < 600; i++) {
                Received r = d.receive(0, WAIT);
                assertThat(r).as("frame %d", i).isNotNull();
                assertThat(r.frame()).isEqualTo(expected);
                assertThat(r.flags()).isZero();
            }
            assertThat(Arrays.copyOfRange(expected, 0, 6)).isEqualTo(Frames.BROADCAST);
            assertThat(d.rxErrors()).isZero();
            assertThat(bed.needsReset()).isFalse();
        }
    }

    @Test
    void sinkTakesEveryFrameAndRxStaysIdle() throws Exception {
        NetDeviceConfig config = PciBed.config().build();
        SinkBackend backend = (SinkBackend) open(Map.of());
        try (PciBed bed = PciBed.start(backend, config)) {
            VirtioNetDriver d = bed.driver;
            byte[] frame = Frames.ethernet(Frames.OTHER_MAC, Frames.DEVICE_MAC, 1514, 7);
            for (int i = 0; i < 1000; i++) {
                while (d.send(0, new byte[12], frame) < 0) {
                    d.awaitTxDone(0, WAIT);
                }
            }
            assertThat(bed.await(() -> backend.sunkFrames(0) == 1000, WAIT)).isTrue();
            assertThat(backend.sunkBytes(0)).isEqualTo(1000L * (12 + 1514));
            assertThat(d.receive(0, Duration.ofMillis(200))).isNull();
            assertThat(bed.device.stats().tx(0).getPackets()).isEqualTo(1000);
        }
    }

    @Test
    void rejectsFrameSizesOutsideTheRange() {
        for (Object bad : new Object[] {1, 59, SinkBackend.MAX_FRAME + 1, "64", -5}) {
            assertThatThrownBy(() -> open(Map.of("rx-frame-size", bad)))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("rx-frame-size").hasMessageContaining("60.." + SinkBackend.MAX_FRAME);
        }
    }

    @Test
    void generatedFrameHasAValidIpv4HeaderChecksum() {
        byte[] f = SinkBackend.udpBroadcast(64);
        int sum = 0;
        for (int i = 0; i < 20; i += 2) {
            sum += ((f[12 + 14 + i] & 0xFF) << 8) | (f[12 + 14 + i + 1] & 0xFF);
        }
        sum = (sum & 0xFFFF) + (sum >>> 16);
        assertThat(sum).isEqualTo(0xFFFF);
        assertThat(f).hasSize(12 + 64);
    }
}
