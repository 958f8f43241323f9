package dev.vnet.config;

/**
 * Where the device sits.
 *
 * @param type     transport plugin type (pci)
 * @param slot     PCI slot 1..31, or {@link #AUTO_SLOT}
 * @param function PCI function 0..7
 */
public record TransportSpec(String type, int slot, int function) {

    public static final int AUTO_SLOT = -1;
}
