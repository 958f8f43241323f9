package dev.vnet.net;

import static org.assertj.core.api.Assertions.assertThat;

import dev.vnet.net.harness.Bed;
import dev.vnet.net.harness.Frames;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Keeps the transport stand-in ({@code NetHarness} + {@code NetDriver}) honest for tests that use it; the
 * behaviour tests run through the PCI transport ({@code PciBed}).
 */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class NetHarnessSmokeTest {

    @Test
    void aFrameLoopsBackThroughTheStandIn() throws Exception {
        try (Bed bed = Bed.loopback(Bed.config().queuePairs(2).build(), Bed.linuxFeatures())) {
            byte[] frame = Frames.ethernet(Frames.DEVICE_MAC, Frames.OTHER_MAC, 1514, 1);
            bed.driver.send(1, frame);
            assertThat(bed.driver.receiveAndRefill(1, Duration.ofSeconds(5)).frame()).isEqualTo(frame);
            assertThat(bed.driver.command(0, 0, new byte[] {0})).isZero();
            assertThat(bed.harness.interrupts().needsReset()).isFalse();
        }
    }
}
