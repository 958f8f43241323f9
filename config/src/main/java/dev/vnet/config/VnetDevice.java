package dev.vnet.config;

import com.google.inject.Injector;
import dev.vnet.spi.PciFunction;
import dev.vnet.virtio.VirtioDevice;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One running NIC: its validated spec, its transport (where it sits on the bus, or the socket it
 * serves), the device, and its child injector for plugin-specific services (for example the net
 * device's link control).
 */
public final class VnetDevice implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(VnetDevice.class);

    private final DeviceSpec spec;
    private final Injector injector;
    private final VirtioDevice device;
    private final DeviceTransport transport;

    VnetDevice(DeviceSpec spec, Injector injector) {
        this.spec = spec;
        this.injector = injector;
        this.device = injector.getInstance(VirtioDevice.class);
        this.transport = injector.getInstance(DeviceTransport.class);
    }

    public String id() {
        return spec.id();
    }

    public DeviceSpec spec() {
        return spec;
    }

    /** The PCI slot on bus 0, or -1 before it is plugged or when the transport is not pci. */
    public int slot() {
        return transport instanceof PciSlotTransport pci ? pci.slot() : -1;
    }

    public VirtioDevice device() {
        return device;
    }

    /** The PCI function the host's bus sees, or null when the transport is not pci. */
    public PciFunction function() {
        return transport instanceof PciSlotTransport pci ? pci.function() : null;
    }

    /** What the transport plugin bound: {@link PciSlotTransport} for pci, the socket server for vhost-user. */
    public DeviceTransport transport() {
        return transport;
    }

    /** A service bound in this device's injector, such as the device's own class. */
    public <T> T instance(Class<T> type) {
        return injector.getInstance(type);
    }

    void start(HostServices host) {
        transport.start(host);
    }

    /**
     * Stops the transport (unplugs the function, closes the socket), resets the device and releases its
     * backend; idempotent.
     */
    @Override
    public synchronized void close() {
        closeQuietly(transport);
        if (device instanceof AutoCloseable c) {
            closeQuietly(c);
        }
    }

    private void closeQuietly(AutoCloseable c) {
        try {
            c.close();
        } catch (Exception e) {
            LOG.warn("closing {} of device {} failed", c.getClass().getSimpleName(), spec.id(), e);
        }
    }
}
