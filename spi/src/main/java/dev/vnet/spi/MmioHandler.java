package dev.vnet.spi;

/**
 * Register accesses to a memory-mapped range (a BAR), implemented by a plugin and called by the host's
 * bus on the vCPU thread that performed the access. Offsets are relative to the range base; {@code size}
 * is 1, 2, 4 or 8 bytes; values are little-endian and zero-extended. Implementations must return
 * quickly, must not block on I/O and must never throw: bad accesses read as zero or all-ones and are
 * otherwise ignored, as on real hardware.
 */
public interface MmioHandler {

    long read(long offset, int size);

    void write(long offset, int size, long value);
}
