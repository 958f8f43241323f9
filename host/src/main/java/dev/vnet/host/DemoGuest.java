package dev.vnet.host;

import dev.vnet.config.VnetDevice;
import dev.vnet.net.NetStats;
import dev.vnet.net.QueueStats;
import dev.vnet.net.VirtioNetDevice;
import dev.vnet.net.VirtioNetPlugin;
import dev.vnet.testkit.net.GuestResponder;
import dev.vnet.testkit.net.VirtioNetDriver;
import dev.vnet.testkit.pci.VirtioPciDriver;
import java.io.PrintStream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * The demo's guest for one NIC: the testkit's Linux driver model bound to the device through the
 * reference host (probe, negotiation, queues and vectors), then either an exchange of test frames or
 * an ARP/ICMP responder.
 */
final class DemoGuest {

    private final VnetDevice vnetDevice;
    private final VirtioNetDevice nic;
    private final VirtioPciDriver pci;
    private final VirtioNetDriver net;
    private long sentFrames;
    private long sentBytes;
    private long receivedFrames;
    private long receivedBytes;

    DemoGuest(ReferenceHost host, VnetDevice device) {
        this.vnetDevice = device;
        this.nic = device.instance(VirtioNetDevice.class);
        this.pci = host.guestDriver(device.slot(), device.spec().transport().function());
        this.net = new VirtioNetDriver(pci);
    }

    /** virtnet_probe + virtnet_open with every pair. */
    void boot() {
        net.probe().open();
    }

    String id() {
        return vnetDevice.id();
    }

    VirtioNetDriver driver() {
        return net;
    }

    int pairs() {
        return nic.activeQueuePairs();
    }

    /** Sends {@code frame} on {@code pair}, counting it. */
    boolean send(int pair, byte[] frame) {
        if (net.send(pair, frame) < 0) {
            return false;
        }
        sentFrames++;
        sentBytes += frame.length;
        return true;
    }

    /** The next frame received on {@code pair}, or null. */
    byte[] receive(int pair, Duration timeout) {
        VirtioNetDriver.Received r = net.receive(pair, timeout);
        if (r == null) {
            return null;
        }
        receivedFrames++;
        receivedBytes += r.frame().length;
        return r.frame();
    }

    /** Answers ARP and ICMP echo on every pair for one poll round; returns the number answered. */
    int respond(GuestResponder responder, Duration poll) {
        int answered = 0;
        for (int p = 0; p < pairs(); p++) {
            byte[] frame;
            while ((frame = receive(p, answered == 0 && p == 0 ? poll : Duration.ZERO)) != null) {
                byte[] reply = responder.answer(frame);
                if (reply != null && send(p, reply)) {
                    answered++;
                }
            }
        }
        return answered;
    }

    void describe(PrintStream out) {
        int slot = vnetDevice.slot();
        out.printf("%s: virtio-net at PCI 00:%02x.%d, backend %s, MAC %s, link %s%n", id(), slot,
                vnetDevice.spec().transport().function(), vnetDevice.spec().backend().type(), nic.mac(),
                nic.isLinkUp() ? "up" : "down");
        long negotiated = nic.negotiatedFeatures();
        List<String> names = new ArrayList<>();
        for (int bit = 0; bit < 64; bit++) {
            if ((negotiated & (1L << bit)) != 0) {
                names.add(VirtioNetPlugin.featureName(bit));
            }
        }
        out.printf("  negotiated features (%d of %d offered): %s%n", names.size(),
                Long.bitCount(nic.offeredFeatures()), String.join(" ", names));
        out.printf("  queue pairs: %d in use of %d; interrupts: %s%n", pairs(), vnetDevice.spec().queuePairs(),
                interrupts());
    }

    private String interrupts() {
        return switch (pci.strategy()) {
            case MSIX_PER_VQ -> "MSI-X, one vector per queue (" + pci.queueCount() + " queue vectors + config, table of "
                    + pci.msixTableSize() + ")";
            case MSIX_SHARED -> "MSI-X, one vector shared by all " + pci.queueCount() + " queues + config";
            case INTX -> "INTx with the ISR register";
        };
    }

    void traffic(PrintStream out) {
        out.printf("  guest: sent %d frames (%d bytes), received %d frames (%d bytes)%n", sentFrames, sentBytes,
                receivedFrames, receivedBytes);
        NetStats stats = nic.stats();
        long txPackets = 0;
        long txBytes = 0;
        long rxPackets = 0;
        long rxBytes = 0;
        long drops = 0;
        for (int p = 0; p < vnetDevice.spec().queuePairs(); p++) {
            QueueStats tx = stats.tx(p);
            QueueStats rx = stats.rx(p);
            txPackets += tx.getPackets();
            txBytes += tx.getBytes();
            rxPackets += rx.getPackets();
            rxBytes += rx.getBytes();
            drops += tx.getDrops() + rx.getDrops();
        }
        out.printf("  device: TX %d packets (%d bytes), RX %d packets (%d bytes), %d dropped%n", txPackets, txBytes,
                rxPackets, rxBytes, drops);
    }

    long receivedFrames() {
        return receivedFrames;
    }
}
