package dev.vnet.config;

import com.google.inject.Injector;
import dev.vnet.spi.PciFunction;
import dev.vnet.virtio.VirtioDevice;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One running NIC: its validated spec, where it sits on the bus, the device and transport objects, and
 * its child injector for plugin-specific services (for example the net device's link control).
 */
public final class VnetDevice implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(VnetDevice.class);

    private final DeviceSpec spec;
    private final Injector injector;
    private final VirtioDevice device;
    private final PciFunction function;
    private volatile int slot = -1;
    private HostServices pluggedInto;

    VnetDevice(DeviceSpec spec, Injector injector) {
        this.spec = spec;
        this.injector = injector;
        this.device = injector.getInstance(VirtioDevice.class);
        this.function = injector.getInstance(PciFunction.class);
    }

    public String id() {
        return spec.id();
    }

    public DeviceSpec spec() {
        return spec;
    }

    /** The PCI slot on bus 0, or -1 before it is plugged. */
    public int slot() {
        return slot;
    }

    public VirtioDevice device() {
        return device;
    }

    public PciFunction function() {
        return function;
    }

    /** A service bound in this device's injector, such as the device's own class. */
    public <T> T instance(Class<T> type) {
        return injector.getInstance(type);
    }

    void plug(HostServices host) {
        slot = host.pci().plug(spec.transport().slot(), spec.transport().function(), function);
        pluggedInto = host;
    }

    /** Unplugs the function, resets the device and releases its backend; idempotent. */
    @Override
    public synchronized void close() {
        if (pluggedInto != null) {
            pluggedInto.pci().unplug(slot, spec.transport().function());
            pluggedInto = null;
        }
        closeQuietly(function);
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
