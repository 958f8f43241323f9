package dev.vnet.spi;

/**
 * A level-triggered INTx line (PCI INTA#..INTD#) into the host's interrupt controller. The plugin raises
 * it from a device worker thread and lowers it from the vCPU thread (ISR read-to-clear); implementations
 * must be thread-safe and idempotent (setting the same level twice is harmless).
 */
public interface InterruptLine {

    void set(boolean asserted);
}
