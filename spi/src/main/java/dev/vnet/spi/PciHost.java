package dev.vnet.spi;

/**
 * The host's PCI bus as the vnet entry point uses it: a place to plug functions. Implemented by the
 * host; called on the thread that starts or stops vnet devices. Plugging attaches the function
 * ({@link PciFunction#attach}) with the host's buses and interrupt wiring for that slot.
 */
public interface PciHost {

    /** Slot number meaning "the first free slot". */
    int ANY_SLOT = -1;

    /**
     * Plugs {@code function} at {@code slot}.{@code fn} on bus 0.
     *
     * @param slot 0..31, or {@link #ANY_SLOT}
     * @return the slot used
     * @throws IllegalArgumentException when the slot is taken or out of range, or no slot is free
     */
    int plug(int slot, int fn, PciFunction function);

    /** Detaches whatever is at {@code slot}.{@code fn} (the caller closes the function). */
    void unplug(int slot, int fn);
}
