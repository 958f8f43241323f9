package dev.vnet.it;

import static org.assertj.core.api.Assertions.assertThat;

import dev.vnet.config.Vnet;
import dev.vnet.config.VnetConfig;
import dev.vnet.host.InterruptController;
import dev.vnet.host.ReferenceHost;
import dev.vnet.testkit.Buffer;
import dev.vnet.testkit.DriverQueue;
import dev.vnet.testkit.net.Frames;
import dev.vnet.testkit.pci.VirtioPciDriver;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The whole stack through the reference host: HOCON -> plugins -> a virtio-net function on the root bus,
 * firmware BAR assignment, and a Linux-like guest that reaches the device only through ports
 * 0xCF8/0xCFC, MMIO and MSI-X messages from the interrupt controller.
 */
class ReferenceHostLoopbackTest {

    private static final long VERSION_1 = 1L << 32;

    @Test
    @Timeout(30)
    void guestProbesThroughMechanismOneAndLoopsAFrameBackViaMsix() {
        try (ReferenceHost host = new ReferenceHost(32L << 20);
             Vnet vnet = Vnet.start(VnetConfig.parse("vnet.devices = [ { id = net0, transport.slot = 4 } ]"),
                     host.services())) {
            VirtioPciDriver guest = host.guestDriver(vnet.device("net0").slot(), 0);
            assertThat(guest.probe()).as("virtio device id").isEqualTo(1);
            assertThat(host.pci().function(4, 0)).isSameAs(vnet.device("net0").function());
            assertThat(guest.barAddress(0)).isEqualTo(ReferenceHost.MMIO64_BASE);

            assertThat(guest.initialize(VERSION_1, 2)).isEqualTo(VirtioPciDriver.Strategy.MSIX_PER_VQ);
            long rx = host.ram().alloc(12 + 1514, 8);
            guest.send(0, List.of(), List.of(new Buffer(rx, 12 + 1514)), "rx");
            byte[] frame = Frames.udp(Frames.BROADCAST, new byte[] {0x52, 0, 0, 0, 0, 1}, Frames.ip("10.0.0.1"),
                    Frames.ip("10.0.0.2"), 1, 2, "over the reference host".getBytes(), false);
            long tx = host.ram().alloc(12 + frame.length, 8);
            host.ram().write(tx + 12, frame);
            guest.send(1, List.of(new Buffer(tx, 12 + frame.length)), List.of(), "tx");

            DriverQueue.Used used = guest.awaitUsed(0, Duration.ofSeconds(10));
            assertThat(used.token()).isEqualTo("rx");
            assertThat(used.length()).isEqualTo(12 + frame.length);
            assertThat(Arrays.equals(host.ram().read(rx + 12, frame.length), frame)).isTrue();
            assertThat(guest.awaitUsed(1, Duration.ofSeconds(10)).token()).isEqualTo("tx");
            long vectorsDelivered = 0;
            for (int v = 0; v < InterruptController.VECTORS; v++) {
                vectorsDelivered += host.interrupts().deliveries(v);
            }
            assertThat(vectorsDelivered).as("MSI-X messages through the controller").isGreaterThanOrEqualTo(2);
        }
    }
}
