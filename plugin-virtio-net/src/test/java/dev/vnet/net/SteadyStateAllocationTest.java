package dev.vnet.net;

import static org.assertj.core.api.Assertions.assertThat;

import dev.vnet.net.harness.PciBed;
import dev.vnet.net.harness.Frames;
import dev.vnet.virtio.VirtioFeatures;
import java.lang.management.ManagementFactory;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The worker allocates nothing per packet once warm (TX, RX, loopback backend, filter, stats, and the
 * transport's MSI-X interrupt path it runs).
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class SteadyStateAllocationTest {

    @ParameterizedTest(name = "MRG_RXBUF {0}, checksum offload {1}: no allocation per packet on the worker")
    @CsvSource({"true, false", "false, false", "true, true"})
    void workerDoesNotAllocatePerPacket(boolean mrg, boolean csum) throws Exception {
        var threads = ManagementFactory.getThreadMXBean();
        Assumptions.assumeTrue(threads instanceof com.sun.management.ThreadMXBean);
        var mx = (com.sun.management.ThreadMXBean) threads;
        long f = NetFeatures.ALL;
        if (!mrg) {
            f &= ~VirtioFeatures.bit(NetFeatures.VIRTIO_NET_F_MRG_RXBUF);
        }
        if (csum) {
            f &= ~NetFeatures.GUEST_OFFLOADS; // loopback completes the checksum on the way
        }
        String id = dev.vnet.net.harness.Bed.uniqueId("alloc");
        try (PciBed bed = PciBed.loopback(PciBed.config().id(id).build(), f)) {
            bed.driver.setPromisc(false); // the filter runs per frame
            byte[] frame = csum ? Frames.udp4Partial(Frames.DEVICE_MAC, Frames.OTHER_MAC, 1400, 1)
                    : Frames.ethernet(Frames.DEVICE_MAC, Frames.OTHER_MAC, 1514, 1);
            byte[] header = csum ? Frames.header(1, 0, 0, 0, 34, 6) : new byte[12];
            Thread worker = Thread.getAllStackTraces().keySet().stream()
                    .filter(t -> t.getName().equals(id + "-pair0")).findFirst().orElseThrow();
            for (int i = 0; i < 3000; i++) {
                bed.driver.send(0, header, frame, true);
                assertThat(bed.driver.receive(0, Duration.ofSeconds(5))).isNotNull();
            }
            long before = mx.getThreadAllocatedBytes(worker.threadId());
            for (int i = 0; i < 2000; i++) {
                bed.driver.send(0, header, frame, true);
                assertThat(bed.driver.receive(0, Duration.ofSeconds(5))).isNotNull();
            }
            long allocated = mx.getThreadAllocatedBytes(worker.threadId()) - before;
            assertThat(allocated).as("bytes allocated by the worker for 2000 frames").isLessThan(2000);
        }
    }
}
