package dev.vnet.spi;

/** The host's I/O port bus; the port-space twin of {@link MmioBus}, with the same threading rules. */
public interface PioBus {

    MmioBus.Mapping map(int basePort, int size, PioHandler handler);
}
