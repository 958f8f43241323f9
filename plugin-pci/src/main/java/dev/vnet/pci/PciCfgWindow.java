package dev.vnet.pci;

import dev.vnet.spi.MmioHandler;

/**
 * The PCI configuration access capability, {@code struct virtio_pci_cfg_cap} (virtio 1.2, 4.1.4.9): an
 * alternative path to the BAR through configuration space, for firmware that cannot map BARs.
 *
 * <pre>
 *   +0  cap_vndr 0x09, +1 cap_next, +2 cap_len 20, +3 cfg_type 5     (read-only)
 *   +4  bar (RW, u8), +5 id, +6 padding[2]                           (id, padding read-only)
 *   +8  offset (RW, le32)    +12 length (RW, le32)
 *   +16 pci_cfg_data[4] (RW)
 * </pre>
 *
 * <p>An access touching {@code pci_cfg_data} performs a BAR access of {@code length} bytes at
 * {@code offset} in BAR {@code bar} through the same handler the memory bus uses (so it works with memory
 * decoding off): a write sends the first {@code length} bytes of {@code pci_cfg_data} after merging the
 * config write in; a read first loads them from the BAR. The access is performed only when {@code bar}
 * is this function's BAR, {@code length} is 1, 2 or 4, {@code offset} is a multiple of {@code length}
 * (4.1.4.9.1: the driver must align it) and the span lies in the BAR; otherwise {@code pci_cfg_data}
 * behaves as plain storage.
 */
final class PciCfgWindow {

    static final int CAP_LENGTH = 20;
    static final int VIRTIO_PCI_CFG_BAR = 4;
    static final int VIRTIO_PCI_CFG_OFFSET = 8;
    static final int VIRTIO_PCI_CFG_LENGTH = 12;
    static final int VIRTIO_PCI_CFG_DATA = 16;

    private final int next;
    private final MmioHandler bar;
    private final long barSize;
    private int barIndex;
    private int offset;
    private int length;
    private int data;

    PciCfgWindow(int next, MmioHandler bar, long barSize) {
        this.next = next;
        this.bar = bar;
        this.barSize = barSize;
        reset();
    }

    /** PCI power-on state (the window's fields are not virtio state). */
    void reset() {
        barIndex = 0;
        offset = 0;
        length = 0;
        data = 0;
    }

    /** {@code rel} is relative to the capability; the access stays in one dword. */
    int read(int rel, int size) {
        int dwordOffset = rel & ~3;
        if (dwordOffset == VIRTIO_PCI_CFG_DATA && usable()) {
            int m = RegisterBytes.mask(length);
            data = (data & ~m) | ((int) bar.read(Integer.toUnsignedLong(offset), length) & m);
        }
        return RegisterBytes.extract(dword(dwordOffset), rel & 3, size);
    }

    void write(int rel, int size, int value) {
        int dwordOffset = rel & ~3;
        int merged = RegisterBytes.merge(dword(dwordOffset), rel & 3, size, value);
        switch (dwordOffset) {
            case VIRTIO_PCI_CFG_BAR -> barIndex = merged & 0xFF;
            case VIRTIO_PCI_CFG_OFFSET -> offset = merged;
            case VIRTIO_PCI_CFG_LENGTH -> length = merged;
            case VIRTIO_PCI_CFG_DATA -> {
                data = merged;
                if (usable()) {
                    bar.write(Integer.toUnsignedLong(offset), length, Integer.toUnsignedLong(data & RegisterBytes.mask(length)));
                }
            }
            default -> {
                // header dword: read-only
            }
        }
    }

    private int dword(int dwordOffset) {
        return switch (dwordOffset) {
            case 0 -> CapabilityList.PCI_CAP_ID_VNDR | next << 8 | CAP_LENGTH << 16
                    | VirtioPci.VIRTIO_PCI_CAP_PCI_CFG << 24;
            case VIRTIO_PCI_CFG_BAR -> barIndex;
            case VIRTIO_PCI_CFG_OFFSET -> offset;
            case VIRTIO_PCI_CFG_LENGTH -> length;
            case VIRTIO_PCI_CFG_DATA -> data;
            default -> 0;
        };
    }

    private boolean usable() {
        long off = Integer.toUnsignedLong(offset);
        return barIndex == BarLayout.BAR_INDEX && (length == 1 || length == 2 || length == 4) && off % length == 0
                && off + length <= barSize;
    }
}
