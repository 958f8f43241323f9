package dev.vnet.config;

import dev.vnet.spi.PciFunction;
import dev.vnet.spi.PciHost;

/**
 * The {@link DeviceTransport} of a PCI function: plugged into the host's PCI bus at
 * {@code transport.slot}.{@code transport.function} on start, unplugged and closed on close.
 */
public final class PciSlotTransport implements DeviceTransport {

    private final PciFunction function;
    private final TransportSpec spec;
    private PciHost pluggedInto;
    private volatile int slot = -1;

    public PciSlotTransport(PciFunction function, TransportSpec spec) {
        this.function = function;
        this.spec = spec;
    }

    public PciFunction function() {
        return function;
    }

    /** The slot on bus 0, or -1 while not plugged. */
    public int slot() {
        return slot;
    }

    @Override
    public synchronized void start(HostServices host) {
        slot = host.pci().plug(spec.slot(), spec.function(), function);
        pluggedInto = host.pci();
    }

    @Override
    public synchronized void close() {
        if (pluggedInto != null) {
            pluggedInto.unplug(slot, spec.function());
            pluggedInto = null;
        }
        function.close();
    }
}
