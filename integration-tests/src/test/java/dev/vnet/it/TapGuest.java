package dev.vnet.it;

import dev.vnet.testkit.netns.NetNs;
import dev.vnet.net.NetDeviceConfig;
import dev.vnet.net.VirtioNetDevice;
import dev.vnet.pci.VirtioPci;
import dev.vnet.pci.VirtioPciFunction;
import dev.vnet.spi.BackendRequest;
import dev.vnet.tap.TapBackend;
import dev.vnet.tap.TapBackendProvider;
import dev.vnet.testkit.FakeGuestMemory;
import dev.vnet.testkit.net.Frames;
import dev.vnet.testkit.net.VirtioNetDriver;
import dev.vnet.testkit.net.VirtioNetDriver.Received;
import dev.vnet.testkit.pci.VirtioPciDriver;
import java.time.Duration;
import java.util.Map;
import java.util.function.Predicate;
import java.util.function.UnaryOperator;

/**
 * A guest with one NIC on a real TAP: {@link VirtioNetDevice} on a {@link TapBackend}, behind a
 * {@link VirtioPciFunction}, driven by the testkit's Linux {@code virtio_net} model. The TAP is created in
 * the root namespace, then moved into the test's namespace (the fds keep working) where it gets
 * {@value #NS_MAC} and {@value #NS_IP}/24; the guest is {@value #GUEST_IP} on {@value #GUEST_MAC}.
 */
final class TapGuest implements AutoCloseable {

    static final String NS_MAC = "02:00:00:00:00:01";
    static final String GUEST_MAC = "02:00:00:00:00:02";
    static final String NS_IP = "10.210.0.1";
    static final String GUEST_IP = "10.210.0.2";
    static final byte[] GUEST_MAC_BYTES = {2, 0, 0, 0, 0, 2};
    static final byte[] NS_MAC_BYTES = {2, 0, 0, 0, 0, 1};
    static final byte[] GUEST_IP_BYTES = Frames.ip(GUEST_IP);
    static final byte[] NS_IP_BYTES = Frames.ip(NS_IP);

    final TapBackend tap;
    final VirtioNetDevice device;
    final FakeGuestMemory memory;
    final VirtioPciFunction function;
    final VirtioPciDriver pci;
    final VirtioNetDriver driver;

    private TapGuest(TapBackend tap, VirtioNetDevice device, FakeGuestMemory memory, VirtioPciFunction function,
                     VirtioPciDriver pci, VirtioNetDriver driver) {
        this.tap = tap;
        this.device = device;
        this.memory = memory;
        this.function = function;
        this.pci = pci;
        this.driver = driver;
    }

    /**
     * Creates the TAP ({@code pairs} queues), moves it into {@code ns}, builds the device and lets the driver
     * probe and open it.
     */
    static TapGuest start(NetNs ns, int pairs, UnaryOperator<VirtioNetDriver> knobs) {
        String ifname = NetNs.randomIfname();
        NetDeviceConfig config = NetDeviceConfig.builder().id("it-" + ifname).mac(GUEST_MAC).queuePairs(pairs).build();
        TapBackend tap = (TapBackend) new TapBackendProvider()
                .open(new BackendRequest(config.id(), pairs, Map.of("ifname", ifname, "mode", "create")));
        VirtioNetDevice device;
        try {
            ns.adopt(tap.ifname(), NS_MAC, NS_IP + "/24");
            device = new VirtioNetDevice(config, tap);
        } catch (RuntimeException | Error e) {
            tap.close();
            throw e;
        }
        FakeGuestMemory memory = new FakeGuestMemory(0x10_0000L, 64L << 20);
        VirtioPciFunction function = new VirtioPciFunction(device, memory.memory(), VirtioPci.PCI_CLASS_NETWORK_ETHERNET);
        try {
            VirtioPciDriver pci = VirtioPciDriver.plug(function, memory);
            VirtioNetDriver driver = knobs.apply(new VirtioNetDriver(pci)).probe().open();
            return new TapGuest(tap, device, memory, function, pci, driver);
        } catch (RuntimeException | Error e) {
            function.close();
            device.close();
            memory.close();
            throw e;
        }
    }

    /**
     * Receives on any pair in use until a packet matches {@code wanted}, answering ARP and echo requests
     * for the guest on the way (the demo guest's stack); null after {@code timeout}.
     */
    Received receive(Predicate<Received> wanted, Duration timeout) {
        return receive(wanted, timeout, new int[1]);
    }

    /** Like {@link #receive(Predicate, Duration)}, reporting in {@code pairOut[0]} the pair it came on. */
    Received receive(Predicate<Received> wanted, Duration timeout, int[] pairOut) {
        dev.vnet.testkit.net.GuestResponder responder = new dev.vnet.testkit.net.GuestResponder(GUEST_MAC_BYTES,
                GUEST_IP_BYTES);
        long deadline = System.nanoTime() + timeout.toNanos();
        int pairs = driver.queuePairs();
        while (System.nanoTime() < deadline) {
            for (int p = 0; p < pairs; p++) {
                Received r = driver.receive(p, pairs == 1 ? Duration.ofMillis(20) : Duration.ofMillis(2));
                if (r == null) {
                    continue;
                }
                if (wanted.test(r)) {
                    pairOut[0] = p;
                    return r;
                }
                byte[] answer = responder.answer(r.frame());
                if (answer != null) {
                    driver.send(p, answer);
                }
            }
        }
        return null;
    }

    @Override
    public void close() {
        try {
            function.close();
            device.close(); // closes the TAP: the interface goes away with its last fd
        } finally {
            memory.close();
        }
    }
}
