/**
 * Contracts between a host emulator and the vnet plugins. JDK types only: no Guice, no Typesafe Config.
 *
 * <p>The host implements {@link dev.vnet.spi.GuestMemory}, {@link dev.vnet.spi.MmioBus},
 * {@link dev.vnet.spi.PioBus}, {@link dev.vnet.spi.InterruptLine} and {@link dev.vnet.spi.MsiSink};
 * the plugins implement {@link dev.vnet.spi.PciFunction}, {@link dev.vnet.spi.MmioHandler},
 * {@link dev.vnet.spi.NetBackend} and the {@link dev.vnet.spi.VnetPlugin} providers found with
 * {@link java.util.ServiceLoader}.
 */
package dev.vnet.spi;
