package dev.vnet.spi;

/**
 * What the host hands a {@link PciFunction} when it plugs it into a slot: the buses its BARs are mapped
 * on and its interrupt outputs. Every service must be thread-safe.
 *
 * @param mmio      memory bus for memory BARs
 * @param pio       I/O port bus for I/O BARs (may be {@code null} on hosts without port I/O)
 * @param intx      the function's INTx pin
 * @param msi       where MSI/MSI-X messages go
 */
public record PciFunctionContext(MmioBus mmio, PioBus pio, InterruptLine intx, MsiSink msi) {
}
