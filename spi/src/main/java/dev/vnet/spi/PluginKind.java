package dev.vnet.spi;

/** The three kinds of plugins a host assembles into a NIC. */
public enum PluginKind {
    /** Presents a device to the guest (virtio-pci). */
    TRANSPORT,
    /** A virtio device type (virtio-net). */
    DEVICE,
    /** Where a NIC's frames go (tap, loopback, cable). */
    BACKEND
}
