package dev.vnet.spi;

/**
 * The host's memory bus. A plugin calls {@link #map} when the guest places a BAR at an address with
 * decoding enabled, and closes the returned {@link Mapping} when the guest moves it or turns decoding
 * off. Called on the vCPU thread performing the config write that caused it.
 */
public interface MmioBus {

    /**
     * Routes guest accesses in {@code [base, base + size)} to {@code handler} until the mapping is closed.
     *
     * @throws IllegalArgumentException if the host cannot map that range (overlap, outside the window);
     *                                  the plugin then leaves the BAR unmapped
     */
    Mapping map(long base, long size, MmioHandler handler);

    /** A live routing of an address range; closing it is idempotent. */
    interface Mapping extends AutoCloseable {
        @Override
        void close();
    }
}
