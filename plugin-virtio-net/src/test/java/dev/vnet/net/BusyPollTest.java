package dev.vnet.net;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.vnet.net.harness.Bed;
import dev.vnet.net.harness.Frames;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The optional busy-poll mode: same traffic, fewer kicks; config bounds. */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class BusyPollTest {

    @Test
    void busyPollingWorkerCarriesTrafficBothWaysAndParksWhenIdle() throws Exception {
        NetDeviceConfig config = Bed.config().id(Bed.uniqueId("poll")).busyPollMicros(500).build();
        try (Bed bed = Bed.loopback(config, NetFeatures.ALL)) {
            byte[] frame = Frames.ethernet(Frames.DEVICE_MAC, Frames.OTHER_MAC, 600, 1);
            for (int i = 0; i < 500; i++) {
                bed.driver.send(0, frame);
                var r = bed.driver.receiveAndRefill(0, Duration.ofSeconds(5));
                assertThat(r).isNotNull();
                assertThat(r.frame()).isEqualTo(frame);
            }
            assertThat(bed.device.stats().tx(0).getPackets()).isEqualTo(500);
            assertThat(bed.device.stats().rx(0).getPackets()).isEqualTo(500);
            // After the poll time the worker re-arms notifications and parks: a later kick still wakes it.
            Thread.sleep(20);
            bed.driver.send(0, frame);
            assertThat(bed.driver.receiveAndRefill(0, Duration.ofSeconds(5))).isNotNull();
        }
    }

    @Test
    void busyPollTimeIsBounded() {
        assertThat(Bed.config().build().busyPollMicros()).isZero();
        assertThatThrownBy(() -> Bed.config().busyPollMicros(-1).build())
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("busy-poll-micros");
        assertThatThrownBy(() -> Bed.config().busyPollMicros(NetDeviceConfig.MAX_BUSY_POLL_MICROS + 1).build())
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("busy-poll-micros");
    }
}
