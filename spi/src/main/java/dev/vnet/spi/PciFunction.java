package dev.vnet.spi;

import java.util.List;

/**
 * One PCI function as a host's PCI bus sees it: a 4 KiB configuration space and BARs. Implemented by a
 * transport plugin. The host calls {@link #attach} once when plugging it in, then {@link #configRead}
 * and {@link #configWrite} on the vCPU thread that performs the configuration access (mechanism #1,
 * ECAM, or a firmware shortcut). The function maps its BARs itself through the attached
 * {@link MmioBus} when the guest enables decoding. Never throws on guest-chosen offsets or sizes.
 */
public interface PciFunction extends AutoCloseable {

    /** Connects the function to the host's buses and interrupt controller. */
    void attach(PciFunctionContext context);

    /** Reads {@code size} (1, 2 or 4) bytes at {@code offset} (0..4095), little-endian, zero-extended. */
    int configRead(int offset, int size);

    /** Writes {@code size} (1, 2 or 4) bytes at {@code offset}; read-only bits are kept. */
    void configWrite(int offset, int size, int value);

    /** The BARs this function decodes, for a host or firmware that pre-allocates addresses. */
    List<PciBar> bars();

    /** Unmaps BARs, stops the device and releases its resources; idempotent. */
    @Override
    void close();
}
