package dev.vnet.pci;

import java.util.function.BooleanSupplier;

/**
 * The type-0 configuration header, bytes 0x00..0x3F (PCI Local Bus 3.0, 6.1; virtio 1.2, 4.1.2):
 *
 * <pre>
 *   0x00 vendor 0x1AF4, device 0x1040 + virtio id        RO
 *   0x04 command (memory, bus master, INTx disable RW)   status (capabilities list, interrupt status; RO)
 *   0x08 revision 1, class code                          RO
 *   0x0C cache line, latency, header type 0, BIST        RO 0
 *   0x10 BAR0 low: 64-bit non-prefetchable memory; 0x14 BAR0 high
 *   0x18..0x24 BAR2..BAR5, 0x28 CardBus CIS, 0x30 expansion ROM: not implemented, read 0
 *   0x2C subsystem vendor id, subsystem id               RO
 *   0x34 capabilities pointer                            RO
 *   0x3C interrupt line (RW), interrupt pin 1 = INTA#    RO
 * </pre>
 *
 * <p>BAR sizing: the address bits below the BAR size are hard-wired to 0, so writing all ones and reading
 * back gives the size mask ({@code ~(size - 1) | type bits}); the high dword is fully writable. The bus
 * master bit is stored but not enforced (the device's DMA goes through {@code GuestMemory}). The status
 * register has no RW1C bits in use, so writes to it are ignored. Accesses of 1, 2 or 4 bytes inside a
 * dword are merged into the dword and only writable bits change.
 */
final class PciConfigHeader {

    static final int PCI_VENDOR_ID = 0x00;
    static final int PCI_DEVICE_ID = 0x02;
    static final int PCI_COMMAND = 0x04;
    static final int PCI_STATUS = 0x06;
    static final int PCI_REVISION_ID = 0x08;
    static final int PCI_CACHE_LINE_SIZE = 0x0C;
    static final int PCI_BASE_ADDRESS_0 = 0x10;
    static final int PCI_BASE_ADDRESS_1 = 0x14;
    static final int PCI_SUBSYSTEM_VENDOR_ID = 0x2C;
    static final int PCI_CAPABILITY_LIST = 0x34;
    static final int PCI_INTERRUPT_LINE = 0x3C;
    static final int HEADER_SIZE = 0x40;

    static final int PCI_COMMAND_IO = 0x1;
    static final int PCI_COMMAND_MEMORY = 0x2;
    static final int PCI_COMMAND_MASTER = 0x4;
    static final int PCI_COMMAND_INTX_DISABLE = 0x400;
    static final int PCI_STATUS_INTERRUPT = 0x08;
    static final int PCI_STATUS_CAP_LIST = 0x10;
    static final int PCI_BASE_ADDRESS_MEM_TYPE_64 = 0x04;
    static final int PCI_INTERRUPT_PIN_INTA = 1;

    private static final int COMMAND_WRITABLE = PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | PCI_COMMAND_INTX_DISABLE;

    private final int vendorDevice;
    private final int revisionClass;
    private final int subsystem;
    private final long barSize;
    private final int capabilityPointer;
    private final BooleanSupplier interruptPending;

    private int command;
    private long barAddress;
    private int interruptLine;

    PciConfigHeader(int deviceId, PciIdentity identity, long barSize, int capabilityPointer,
                    BooleanSupplier interruptPending) {
        this.vendorDevice = VirtioPci.PCI_VENDOR_ID_REDHAT_QUMRANET | deviceId << 16;
        this.revisionClass = VirtioPci.VIRTIO_PCI_REVISION | identity.classCode() << 8;
        this.subsystem = identity.subsystemVendorId() | identity.subsystemId() << 16;
        this.barSize = barSize;
        this.capabilityPointer = capabilityPointer;
        this.interruptPending = interruptPending;
        reset();
    }

    /** PCI power-on state: decoding off, BAR at 0, interrupt line 0. */
    void reset() {
        command = 0;
        barAddress = 0;
        interruptLine = 0;
    }

    int command() {
        return command;
    }

    boolean memoryEnabled() {
        return (command & PCI_COMMAND_MEMORY) != 0;
    }

    boolean busMaster() {
        return (command & PCI_COMMAND_MASTER) != 0;
    }

    boolean intxDisabled() {
        return (command & PCI_COMMAND_INTX_DISABLE) != 0;
    }

    /** The BAR's address as programmed (possibly the sizing pattern). */
    long barAddress() {
        return barAddress;
    }

    /** {@code offset} below 0x40, a valid config access (one dword). */
    int read(int offset, int size) {
        return RegisterBytes.extract(dword(offset & ~3), offset & 3, size);
    }

    void write(int offset, int size, int value) {
        int aligned = offset & ~3;
        int merged = RegisterBytes.merge(dword(aligned), offset & 3, size, value);
        switch (aligned) {
            case PCI_COMMAND -> {
                if ((offset & 3) < 2) {
                    command = merged & COMMAND_WRITABLE;
                }
            }
            case PCI_BASE_ADDRESS_0 -> barAddress = (barAddress & 0xFFFF_FFFF_0000_0000L)
                    | (Integer.toUnsignedLong(merged) & ~(barSize - 1) & 0xFFFF_FFF0L);
            case PCI_BASE_ADDRESS_1 -> barAddress = (barAddress & 0xFFFF_FFFFL)
                    | ((Integer.toUnsignedLong(merged) << 32) & ~(barSize - 1));
            case PCI_INTERRUPT_LINE -> interruptLine = merged & 0xFF;
            default -> {
                // read-only
            }
        }
    }

    private int dword(int aligned) {
        return switch (aligned) {
            case PCI_VENDOR_ID -> vendorDevice;
            case PCI_COMMAND -> command | status() << 16;
            case PCI_REVISION_ID -> revisionClass;
            case PCI_BASE_ADDRESS_0 -> (int) barAddress | PCI_BASE_ADDRESS_MEM_TYPE_64;
            case PCI_BASE_ADDRESS_1 -> (int) (barAddress >>> 32);
            case PCI_SUBSYSTEM_VENDOR_ID -> subsystem;
            case PCI_CAPABILITY_LIST -> capabilityPointer;
            case PCI_INTERRUPT_LINE -> interruptLine | PCI_INTERRUPT_PIN_INTA << 8;
            default -> 0;
        };
    }

    private int status() {
        return PCI_STATUS_CAP_LIST | (interruptPending.getAsBoolean() ? PCI_STATUS_INTERRUPT : 0);
    }
}
