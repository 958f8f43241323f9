package dev.vnet.config;

/** Link duplex as advertised in the virtio-net config space (5.1.4: 0x00 half, 0x01 full, 0xff unknown). */
public enum Duplex {
    HALF(0x00),
    FULL(0x01),
    UNKNOWN(0xFF);

    private final int wire;

    Duplex(int wire) {
        this.wire = wire;
    }

    /** The config-space byte. */
    public int wire() {
        return wire;
    }
}
