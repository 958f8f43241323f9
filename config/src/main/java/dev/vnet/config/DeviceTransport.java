package dev.vnet.config;

/**
 * How a device's driver reaches it: what a {@link TransportPlugin} binds for each device (a PCI function
 * plugged into the host's bus, a vhost-user socket). {@link Vnet} starts every device's transport once
 * all devices are built, and closes it when it stops, before the device itself is closed.
 */
public interface DeviceTransport extends AutoCloseable {

    /**
     * Makes the device reachable. Called once, on the thread that starts vnet.
     *
     * @throws VnetConfigException when the configured place cannot be used (a taken PCI slot, a socket
     *                             path that cannot be bound), naming the HOCON path
     */
    void start(HostServices host);

    /** Stops serving the driver and releases what {@link #start} took; idempotent, also before start. */
    @Override
    void close();
}
