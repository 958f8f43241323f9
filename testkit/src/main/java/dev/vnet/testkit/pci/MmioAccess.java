package dev.vnet.testkit.pci;

/** How the guest driver model performs MMIO: loads and stores at guest-physical addresses. */
public interface MmioAccess {

    long read(long address, int size);

    void write(long address, int size, long value);
}
