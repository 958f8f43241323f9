package dev.vnet.spi;

/**
 * A plugin a host finds with {@link java.util.ServiceLoader}. Each plugin jar lists its providers in
 * {@code META-INF/services} under the provider interface's name (for example {@link NetBackendProvider});
 * the configuration layer picks a provider by {@link #type()}. Providers are stateless factories: the
 * host may call them from any thread, once per device.
 */
public interface VnetPlugin {

    /** The name configuration files use, such as {@code "tap"} or {@code "pci"}; unique per kind. */
    String type();

    PluginKind kind();

    /** One line for error messages that list what is available. */
    default String description() {
        return type();
    }
}
