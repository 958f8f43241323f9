package dev.vnet.net.harness;

import dev.vnet.net.NetDeviceConfig;
import dev.vnet.net.NetFeatures;
import dev.vnet.net.VirtioNetDevice;
import dev.vnet.net.backend.InJvmBackend;
import dev.vnet.pci.VirtioPci;
import dev.vnet.pci.VirtioPciFunction;
import dev.vnet.spi.NetBackend;
import dev.vnet.testkit.DriverQueue;
import dev.vnet.testkit.FakeGuestMemory;
import dev.vnet.testkit.net.VirtioNetDriver;
import dev.vnet.testkit.pci.VirtioPciDriver;
import dev.vnet.testkit.pci.VirtioPciDriver.Strategy;
import dev.vnet.virtio.VirtioFeatures;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.function.UnaryOperator;

/**
 * One net device behind the real transport, as a guest sees it: {@link VirtioNetDevice} on a backend,
 * wrapped in a {@link VirtioPciFunction}, plugged into the testkit's fake host, probed and opened by the
 * testkit's Linux {@code virtio_net} model ({@link VirtioNetDriver}) on {@link VirtioPciDriver}. Register
 * accesses, kicks and interrupts (MSI-X per queue, MSI-X shared, or INTx) all cross the transport.
 */
public final class PciBed implements AutoCloseable {

    /** 64 MiB of guest RAM at 1 MiB: rings, 4 pairs of RX buffers and 64 KiB TX buffers fit. */
    public static final long RAM = 64L << 20;

    public final NetBackend backend;
    public final VirtioNetDevice device;
    public final FakeGuestMemory memory;
    public final VirtioPciFunction function;
    public final VirtioPciDriver pci;
    public final VirtioNetDriver driver;

    private PciBed(NetBackend backend, VirtioNetDevice device, FakeGuestMemory memory, VirtioPciFunction function,
                   VirtioPciDriver pci, VirtioNetDriver driver) {
        this.backend = backend;
        this.device = device;
        this.memory = memory;
        this.function = function;
        this.pci = pci;
        this.driver = driver;
    }

    /** A config builder with a unique id (JMX names) and defaults otherwise. */
    public static NetDeviceConfig.Builder config() {
        return Bed.config();
    }

    /**
     * Driver knobs for the two feature axes most tests vary: the driver does not ack MRG_RXBUF unless
     * {@code mrg}, nor EVENT_IDX unless {@code eventIdx}.
     */
    public static UnaryOperator<VirtioNetDriver> knobs(boolean mrg, boolean eventIdx) {
        return d -> {
            if (!mrg) {
                d.without(NetFeatures.VIRTIO_NET_F_MRG_RXBUF);
            }
            if (!eventIdx) {
                d.without(VirtioFeatures.VIRTIO_F_EVENT_IDX);
            }
            return d;
        };
    }

    /** Loopback device, Linux's features, MSI-X per queue, every pair opened. */
    public static PciBed loopback(NetDeviceConfig config) {
        return loopback(config, d -> d);
    }

    /** Loopback device; the driver acks {@code wanted} intersected with the offer. */
    public static PciBed loopback(NetDeviceConfig config, long wanted) {
        return loopback(config, d -> d.wanted(wanted));
    }

    public static PciBed loopback(NetDeviceConfig config, UnaryOperator<VirtioNetDriver> knobs) {
        return start(loopbackBackend(config), config, Strategy.MSIX_PER_VQ, knobs);
    }

    public static InJvmBackend loopbackBackend(NetDeviceConfig config) {
        return InJvmBackend.loopback(config.id(), config.queuePairs(), InJvmBackend.DEFAULT_RING_BYTES);
    }

    /** A device on {@code backend} with Linux's features and MSI-X per queue. */
    public static PciBed start(NetBackend backend, NetDeviceConfig config) {
        return start(backend, config, Strategy.MSIX_PER_VQ, d -> d);
    }

    public static PciBed start(NetBackend backend, NetDeviceConfig config, UnaryOperator<VirtioNetDriver> knobs) {
        return start(backend, config, Strategy.MSIX_PER_VQ, knobs);
    }

    public static PciBed start(NetBackend backend, NetDeviceConfig config, long wanted) {
        return start(backend, config, Strategy.MSIX_PER_VQ, d -> d.wanted(wanted));
    }

    /**
     * Builds the device on {@code backend}, plugs it, lets the driver start with {@code strategy}
     * ({@code vp_find_vqs} falls back from there), applies {@code knobs} and probes and opens it.
     */
    public static PciBed start(NetBackend backend, NetDeviceConfig config, Strategy strategy,
                               UnaryOperator<VirtioNetDriver> knobs) {
        return start(backend, config, strategy, knobs, new FakeGuestMemory(0x10_0000L, RAM));
    }

    /** As {@link #start(NetBackend, NetDeviceConfig)}, on guest RAM the test provides (closed with the bed). */
    public static PciBed start(NetBackend backend, NetDeviceConfig config, FakeGuestMemory memory) {
        return start(backend, config, Strategy.MSIX_PER_VQ, d -> d, memory);
    }

    private static PciBed start(NetBackend backend, NetDeviceConfig config, Strategy strategy,
                                UnaryOperator<VirtioNetDriver> knobs, FakeGuestMemory memory) {
        VirtioNetDevice device = new VirtioNetDevice(config, backend);
        VirtioPciFunction function = new VirtioPciFunction(device, memory.memory(),
                VirtioPci.PCI_CLASS_NETWORK_ETHERNET);
        try {
            VirtioPciDriver pci = VirtioPciDriver.plug(function, memory).startWith(strategy);
            VirtioNetDriver driver = knobs.apply(new VirtioNetDriver(pci)).probe().open();
            if (pci.strategy() != strategy) {
                throw new IllegalStateException("asked for " + strategy + " but the driver fell back to "
                        + pci.strategy());
            }
            return new PciBed(backend, device, memory, function, pci, driver);
        } catch (RuntimeException | Error e) {
            function.close();
            device.close();
            memory.close();
            throw e;
        }
    }

    /** Waits for {@code condition}, waking on any interrupt or every 2 ms; false on timeout. */
    public boolean await(BooleanSupplier condition, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        try {
            while (!condition.getAsBoolean()) {
                if (System.nanoTime() > deadline) {
                    return false;
                }
                pci.interrupts().awaitChange(2, TimeUnit.MILLISECONDS);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
        return true;
    }

    /** The driver's ring of queue {@code index}. */
    public DriverQueue queue(int index) {
        return pci.queue(index);
    }

    /** {@code virtqueue_kick}: notifies through the notify area when the ring asks for it. */
    public void kick(int index) {
        if (pci.queue(index).kickPrepare()) {
            pci.kick(index);
        }
    }

    /** A device config read through the BAR. */
    public int readConfig(int offset, int size) {
        return (int) pci.readDeviceConfig(offset, size);
    }

    /** DEVICE_NEEDS_RESET as the driver reads it from {@code device_status}. */
    public boolean needsReset() {
        return driver.needsReset();
    }

    /** Waits for DEVICE_NEEDS_RESET and a configuration interrupt announcing it. */
    public boolean awaitNeedsReset(long configCallbacksBefore, Duration timeout) {
        return await(this::needsReset, timeout) && pci.awaitConfigInterrupts(configCallbacksBefore + 1, timeout);
    }

    /** Why the transport set DEVICE_NEEDS_RESET. */
    public String needsResetReason() {
        return function.needsResetReason();
    }

    /** Configuration callbacks the driver's interrupt handler ran. */
    public long configCallbacks() {
        return pci.interrupts().configCallbacks();
    }

    @Override
    public void close() {
        try {
            function.close();
            device.close();
        } finally {
            memory.close();
        }
    }
}
