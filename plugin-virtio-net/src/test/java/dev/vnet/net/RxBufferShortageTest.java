package dev.vnet.net;

import static org.assertj.core.api.Assertions.assertThat;

import dev.vnet.net.harness.Bed;
import dev.vnet.net.harness.Frames;
import dev.vnet.testkit.net.VirtioNetDriver;
import dev.vnet.testkit.net.VirtioNetDriver.Received;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Mergeable RX when the posted buffers cover one super-frame but not two: the device must publish what
 * it filled and wait for new buffers (a kick), not spin on the too-few buffers it has already seen with
 * the filled ones unpublished (which left the guest waiting for ever).
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class RxBufferShortageTest {

    @Test
    void superFramesNeedingMoreBuffersThanPostedArriveOneRefillAtATime() throws Exception {
        NetDeviceConfig config = Bed.config().id(Bed.uniqueId("short")).queueSizes(64, 256).build();
        try (Bed bed = Bed.loopback(config, NetFeatures.ALL)) {
            assertThat(bed.driver.mode()).isEqualTo(VirtioNetDriver.RxMode.MERGEABLE);
            byte[] header = Frames.header(1, NetHeader.VIRTIO_NET_HDR_GSO_TCPV4, 54, 1448, 34, 16);
            byte[][] frames = new byte[3][];
            for (int i = 0; i < frames.length; i++) {
                frames[i] = Frames.tcp4Partial(Frames.DEVICE_MAC, Frames.OTHER_MAC, 65000, i);
                bed.driver.send(0, header, frames[i], false); // 43 buffers of 1536 B each; 64 posted
            }
            for (byte[] frame : frames) {
                Received r = bed.driver.receiveAndRefill(0, Duration.ofSeconds(5));
                assertThat(r).as("frame delivered once buffers were refilled").isNotNull();
                assertThat(r.frame()).isEqualTo(frame);
            }
        }
    }
}
