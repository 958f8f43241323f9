package dev.vnet.spi;

/**
 * Delivers an MSI or MSI-X message (a 32-bit write of {@code data} to {@code address}) to the host's
 * interrupt controller. Called from device worker threads and from the vCPU thread (a vector unmasked
 * with its pending bit set); must be thread-safe and must not block.
 */
public interface MsiSink {

    void send(long address, int data);
}
