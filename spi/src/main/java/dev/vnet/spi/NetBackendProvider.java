package dev.vnet.spi;

/**
 * A factory for one kind of {@link NetBackend}, found with {@link java.util.ServiceLoader}. Called by
 * the configuration layer on the thread that builds the device.
 */
public interface NetBackendProvider extends VnetPlugin {

    @Override
    default PluginKind kind() {
        return PluginKind.BACKEND;
    }

    /**
     * Opens a backend.
     *
     * @throws BackendException when the host cannot provide it (no {@code /dev/net/tun}, permission
     *                          denied); the message says what to fix
     */
    NetBackend open(BackendRequest request);
}
