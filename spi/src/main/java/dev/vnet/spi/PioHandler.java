package dev.vnet.spi;

/**
 * Port I/O accesses to a range of x86 I/O ports, implemented by a plugin and called on the vCPU thread.
 * Same rules as {@link MmioHandler}: {@code size} is 1, 2 or 4; never throws, never blocks.
 */
public interface PioHandler {

    int in(int offset, int size);

    void out(int offset, int size, int value);
}
