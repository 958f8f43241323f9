package dev.vnet.net.harness;

import dev.vnet.net.NetDeviceConfig;
import dev.vnet.net.NetFeatures;
import dev.vnet.net.VirtioNetDevice;
import dev.vnet.net.backend.InJvmBackend;
import dev.vnet.spi.NetBackend;
import dev.vnet.testkit.FakeGuestMemory;
import java.util.concurrent.atomic.AtomicInteger;

/** One device on a backend with its harness and driver, started the way Linux probes it. */
public final class Bed implements AutoCloseable {

    private static final AtomicInteger IDS = new AtomicInteger();

    public final NetBackend backend;
    public final VirtioNetDevice device;
    public final NetHarness harness;
    public final NetDriver driver;

    private Bed(NetBackend backend, VirtioNetDevice device, NetHarness harness, NetDriver driver) {
        this.backend = backend;
        this.device = device;
        this.harness = harness;
        this.driver = driver;
    }

    public static String uniqueId(String prefix) {
        return prefix + "-" + IDS.incrementAndGet();
    }

    /** A config builder with a unique id (JMX names) and defaults otherwise. */
    public static NetDeviceConfig.Builder config() {
        return NetDeviceConfig.builder().id(uniqueId("net"));
    }

    public static Bed loopback(NetDeviceConfig config, long wanted) throws InterruptedException {
        return start(InJvmBackend.loopback(config.id(), config.queuePairs(), InJvmBackend.DEFAULT_RING_BYTES), config,
                wanted, null);
    }

    /** Starts a device on {@code backend}: negotiate {@code wanted}, DRIVER_OK, fill RX, set pairs. */
    public static Bed start(NetBackend backend, NetDeviceConfig config, long wanted, FakeGuestMemory memory)
            throws InterruptedException {
        VirtioNetDevice device = new VirtioNetDevice(config, backend);
        NetHarness h = memory == null ? new NetHarness(device) : new NetHarness(device, memory, false);
        // A Linux driver fails probe on an inconsistent set; tests that switch one feature off drop its
        // dependents the same way the device's offer does.
        h.negotiate(NetFeatures.rules(wanted).closeOverDependencies(wanted));
        h.start();
        NetDriver d = new NetDriver(h);
        d.open(h.layoutPairs());
        return new Bed(backend, device, h, d);
    }

    /** Features a Linux guest asks for: everything it knows. */
    public static long linuxFeatures() {
        return NetFeatures.ALL;
    }

    @Override
    public void close() {
        harness.close();
    }
}
