package dev.vnet.testkit.pci;

import dev.vnet.spi.PciFunction;

/**
 * How the guest driver model reaches one function's configuration space: directly (a unit test), or
 * through a host's configuration mechanism (ports 0xCF8/0xCFC in the reference host).
 */
public interface ConfigAccess {

    int read(int offset, int size);

    void write(int offset, int size, int value);

    /** Direct access to {@code function}, as a host's config cycle would deliver it. */
    static ConfigAccess of(PciFunction function) {
        return new ConfigAccess() {
            @Override
            public int read(int offset, int size) {
                return function.configRead(offset, size);
            }

            @Override
            public void write(int offset, int size, int value) {
                function.configWrite(offset, size, value);
            }
        };
    }
}
