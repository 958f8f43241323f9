package dev.vnet.config;

/**
 * Where the device sits: on the host's PCI bus ({@value #PCI}) or behind a vhost-user socket
 * ({@value #VHOST_USER}). The fields of the other transport keep their defaults.
 *
 * @param type     transport plugin type
 * @param slot     pci: slot 1..31, or {@link #AUTO_SLOT}
 * @param function pci: function 0..7
 * @param socket   vhost-user: the Unix socket path (1..{@value #SUN_PATH_MAX} bytes), null otherwise
 * @param mode     vhost-user: listen at or connect to {@code socket}, null otherwise
 */
public record TransportSpec(String type, int slot, int function, String socket, SocketMode mode) {

    public static final int AUTO_SLOT = -1;
    /** The virtio-pci modern transport (plugin-pci). */
    public static final String PCI = "pci";
    /** The vhost-user back-end transport (plugin-vhost-user). */
    public static final String VHOST_USER = "vhost-user";
    /** {@code sun_path} of {@code struct sockaddr_un} (unix(7)) holds 108 bytes including the NUL. */
    public static final int SUN_PATH_MAX = 107;

    /** Who opens the vhost-user connection. */
    public enum SocketMode {
        /** Listen at the path; the front-end connects (QEMU {@code -chardev socket} without {@code server=on}). */
        SERVER,
        /** Connect to a front-end listening at the path (QEMU {@code server=on}), retrying until it answers. */
        CLIENT
    }

    /** A pci transport at {@code slot}.{@code function}. */
    public TransportSpec(String type, int slot, int function) {
        this(type, slot, function, null, null);
    }

    /** A vhost-user transport on {@code socket}. */
    public static TransportSpec vhostUser(String socket, SocketMode mode) {
        return new TransportSpec(VHOST_USER, AUTO_SLOT, 0, socket, mode);
    }
}
