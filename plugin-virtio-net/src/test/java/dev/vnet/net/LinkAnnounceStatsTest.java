package dev.vnet.net;

import static org.assertj.core.api.Assertions.assertThat;

import dev.vnet.net.backend.InJvmBackend;
import dev.vnet.net.harness.Bed;
import dev.vnet.net.harness.Frames;
import java.lang.management.ManagementFactory;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import javax.management.MBeanServer;
import javax.management.ObjectName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Link state, guest announce, statistics and their JMX view. */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class LinkAnnounceStatsTest {

    static final Duration WAIT = Duration.ofSeconds(5);

    @Test
    void linkFlapUpdatesStatusSignalsConfigChangeAndDropsTxWhileDown() throws Exception {
        try (Bed bed = Bed.loopback(Bed.config().build(), NetFeatures.ALL)) {
            int changes = bed.harness.configChanges();
            bed.device.setLinkUp(false);
            assertThat(bed.harness.configChanges()).isEqualTo(changes + 1);
            assertThat(bed.harness.interrupts().configInterrupts()).isEqualTo(changes + 1);
            assertThat(bed.harness.readConfig(6, 2) & 1).isZero();
            bed.device.setLinkUp(false);
            assertThat(bed.harness.configChanges()).as("no change, no notification").isEqualTo(changes + 1);

            byte[] f = Frames.ethernet(Frames.DEVICE_MAC, Frames.OTHER_MAC, 200, 1);
            bed.driver.send(0, f);
            assertThat(bed.driver.awaitTxDone(0, WAIT)).containsExactly(0);
            assertThat(bed.device.stats().tx(0).getDropsLinkDown()).isEqualTo(1);
            assertThat(bed.driver.receive(0, Duration.ofMillis(50))).isNull();

            bed.device.setLinkUp(true);
            assertThat(bed.harness.configChanges()).isEqualTo(changes + 2);
            assertThat(bed.harness.readConfig(6, 2) & 1).isEqualTo(1);
            bed.driver.send(0, f);
            assertThat(bed.driver.receive(0, WAIT).frame()).isEqualTo(f);
        }
    }

    @Test
    void framesArrivingWhileLinkDownAreDroppedAndCounted() throws Exception {
        InJvmBackend[] cable = InJvmBackend.cable("flap", 1, InJvmBackend.DEFAULT_RING_BYTES);
        try (Bed a = Bed.start(cable[0], Bed.config().build(), NetFeatures.ALL, null);
             Bed b = Bed.start(cable[1], Bed.config().mac("52:54:00:00:00:02").build(), NetFeatures.ALL, null)) {
            b.device.setLinkUp(false);
            a.driver.send(0, Frames.ethernet(Frames.PEER_MAC, Frames.DEVICE_MAC, 100, 1));
            assertThat(b.harness.await(() -> b.device.stats().rx(0).getDropsLinkDown() == 1, WAIT)).isTrue();
            assertThat(cable[1].pendingFrames()).isZero();
        }
    }

    @Test
    void announceSetsStatusUntilAckAndNeedsGuestAnnounce() throws Exception {
        try (Bed bed = Bed.loopback(Bed.config().build(), NetFeatures.ALL)) {
            assertThat(bed.device.announce()).isTrue();
            assertThat(bed.device.announcePending()).isTrue();
            assertThat(bed.harness.readConfig(6, 2)).isEqualTo(3);
            assertThat(bed.driver.command(3, 0, new byte[0])).isZero();
            assertThat(bed.harness.readConfig(6, 2)).isEqualTo(1);
        }
        long f = NetFeatures.ALL & ~NetFeatures.bits(NetFeatures.VIRTIO_NET_F_GUEST_ANNOUNCE);
        try (Bed bed = Bed.loopback(Bed.config().build(), f)) {
            assertThat(bed.device.announce()).isFalse();
            assertThat(bed.harness.readConfig(6, 2)).isEqualTo(1);
        }
    }

    @Test
    void resetClearsAPendingAnnounce() throws Exception {
        try (Bed bed = Bed.loopback(Bed.config().build(), NetFeatures.ALL)) {
            bed.device.announce();
            bed.harness.reset();
            assertThat(bed.device.announcePending()).isFalse();
        }
    }

    @Test
    void statsCountPacketsBytesKicksAndInterruptsPerQueue() throws Exception {
        try (Bed bed = Bed.loopback(Bed.config().build(), NetFeatures.ALL)) {
            for (int i = 0; i < 10; i++) {
                bed.driver.send(0, Frames.ethernet(Frames.DEVICE_MAC, Frames.OTHER_MAC, 100, i));
                assertThat(bed.driver.receiveAndRefill(0, WAIT)).isNotNull();
            }
            QueueStats rx = bed.device.stats().rx(0);
            QueueStats tx = bed.device.stats().tx(0);
            assertThat(rx.getPackets()).isEqualTo(10);
            assertThat(rx.getBytes()).isEqualTo(1000);
            assertThat(tx.getPackets()).isEqualTo(10);
            assertThat(tx.getBytes()).isEqualTo(1000);
            assertThat(tx.getKicks()).isPositive();
            assertThat(rx.getInterrupts()).isPositive();
            assertThat(rx.getInterrupts()).isEqualTo(bed.harness.interrupts().queueInterrupts(0));
            assertThat(rx.getKind()).isEqualTo("rx");
            assertThat(bed.device.stats().ctrl().getQueueIndex()).isEqualTo(2);
            assertThat(bed.device.stats().all()).hasSize(3);
        }
    }

    @Test
    void statsAreMxBeansRegisteredPerQueueAndUnregisteredOnClose() throws Exception {
        String id = Bed.uniqueId("jmx");
        MBeanServer server = ManagementFactory.getPlatformMBeanServer();
        ObjectName rx0 = new ObjectName("dev.vnet:type=VirtioNet,id=\"" + id + "\",queue=0");
        try (Bed bed = Bed.loopback(Bed.config().id(id).queuePairs(2).build(), NetFeatures.ALL)) {
            assertThat(server.queryNames(new ObjectName("dev.vnet:type=VirtioNet,id=\"" + id + "\",*"), null))
                    .hasSize(5);
            bed.driver.send(0, Frames.ethernet(Frames.DEVICE_MAC, Frames.OTHER_MAC, 123, 1));
            assertThat(bed.driver.receive(0, WAIT)).isNotNull();
            assertThat(server.getAttribute(rx0, "Packets")).isEqualTo(1L);
            assertThat(server.getAttribute(rx0, "Bytes")).isEqualTo(123L);
            assertThat(server.getAttribute(rx0, "Kind")).isEqualTo("rx");
            assertThat(server.getAttribute(NetStats.objectName(id, 1), "DropsLinkDown")).isEqualTo(0L);
        }
        assertThat(server.isRegistered(rx0)).isFalse();
    }
}
