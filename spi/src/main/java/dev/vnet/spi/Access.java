package dev.vnet.spi;

/** How the device means to use a span of guest memory; a host may refuse writes to ROM regions. */
public enum Access {
    READ,
    WRITE
}
