package dev.vnet.pci;

import java.util.ArrayList;
import java.util.List;
import java.util.function.IntFunction;

/**
 * The capability list in configuration space from {@link #CAP_START} (virtio 1.2, 4.1.4): the virtio
 * vendor-specific capabilities {@code struct virtio_pci_cap}
 *
 * <pre>
 *   +0 cap_vndr 0x09  +1 cap_next  +2 cap_len  +3 cfg_type  +4 bar  +5 id  +6 padding[2]
 *   +8 le32 offset    +12 le32 length          (+16 le32 notify_off_multiplier for NOTIFY)
 * </pre>
 *
 * in the order COMMON (1), NOTIFY (2), ISR (3), DEVICE (4, omitted when the device has no configuration
 * space), PCI_CFG (5, {@link PciCfgWindow}), followed by the MSI-X capability (PCI 3.0, 6.8.2:
 * +0 id 0x11, +1 next, +2 Message Control, +4 Table Offset/BIR, +8 PBA Offset/BIR), whose Message
 * Control is the only writable part here and belongs to {@link MsixTable}.
 *
 * <p>Everything but Message Control and the PCI_CFG window is read-only; writes are ignored. Bytes of the
 * 0x40..0xFF range outside any capability read 0.
 */
final class CapabilityList {

    static final int PCI_CAP_ID_VNDR = 0x09;
    static final int CAP_START = 0x40;
    static final int CAP_END = 0x100;
    static final int VIRTIO_PCI_CAP_LEN = 16;
    static final int VIRTIO_PCI_NOTIFY_CAP_LEN = 20;
    static final int MSIX_CAP_LEN = 12;
    static final int PCI_MSIX_FLAGS = 2;
    static final int PCI_MSIX_TABLE = 4;
    static final int PCI_MSIX_PBA = 8;

    private final byte[] image = new byte[CAP_END];
    private final int pciCfgPos;
    private final int msixPos;
    private final MsixTable msix;
    private final PciCfgWindow window;

    /** Builds the list; {@code windowFactory} gets the PCI_CFG capability's next pointer. */
    CapabilityList(BarLayout layout, MsixTable msix, IntFunction<PciCfgWindow> windowFactory) {
        this.msix = msix;
        List<int[]> vendorCaps = new ArrayList<>(); // {cfg_type, offset, length}
        vendorCaps.add(new int[] {VirtioPci.VIRTIO_PCI_CAP_COMMON_CFG, BarLayout.COMMON_CFG_OFFSET,
            BarLayout.COMMON_CFG_LENGTH});
        vendorCaps.add(new int[] {VirtioPci.VIRTIO_PCI_CAP_NOTIFY_CFG, BarLayout.NOTIFY_CFG_OFFSET,
            layout.notifyLength()});
        vendorCaps.add(new int[] {VirtioPci.VIRTIO_PCI_CAP_ISR_CFG, BarLayout.ISR_CFG_OFFSET,
            BarLayout.ISR_CFG_LENGTH});
        if (layout.deviceCfgLength() > 0) {
            vendorCaps.add(new int[] {VirtioPci.VIRTIO_PCI_CAP_DEVICE_CFG, BarLayout.DEVICE_CFG_OFFSET,
                layout.deviceCfgLength()});
        }
        int pos = CAP_START;
        for (int[] cap : vendorCaps) {
            int len = cap[0] == VirtioPci.VIRTIO_PCI_CAP_NOTIFY_CFG ? VIRTIO_PCI_NOTIFY_CAP_LEN : VIRTIO_PCI_CAP_LEN;
            int next = pos + len;
            image[pos] = PCI_CAP_ID_VNDR;
            image[pos + 1] = (byte) next;
            image[pos + 2] = (byte) len;
            image[pos + 3] = (byte) cap[0];
            image[pos + 4] = BarLayout.BAR_INDEX;
            putLe32(pos + 8, cap[1]);
            putLe32(pos + 12, cap[2]);
            if (len == VIRTIO_PCI_NOTIFY_CAP_LEN) {
                putLe32(pos + 16, BarLayout.NOTIFY_OFF_MULTIPLIER);
            }
            pos = next;
        }
        pciCfgPos = pos;
        msixPos = pciCfgPos + PciCfgWindow.CAP_LENGTH;
        window = windowFactory.apply(msixPos);
        image[msixPos] = MsixTable.PCI_CAP_ID_MSIX;
        image[msixPos + 1] = 0;
        putLe32(msixPos + PCI_MSIX_TABLE, layout.msixTableOffset() | BarLayout.BAR_INDEX);
        putLe32(msixPos + PCI_MSIX_PBA, layout.pbaOffset() | BarLayout.BAR_INDEX);
        reset();
    }

    void reset() {
        window.reset();
    }

    private void putLe32(int at, int value) {
        for (int i = 0; i < 4; i++) {
            image[at + i] = (byte) (value >>> (8 * i));
        }
    }

    /** The first capability's offset, for the header's capabilities pointer. */
    int first() {
        return CAP_START;
    }

    int msixPosition() {
        return msixPos;
    }

    int pciCfgPosition() {
        return pciCfgPos;
    }

    PciCfgWindow window() {
        return window;
    }

    /** {@code offset} in [0x40, 0x100), a valid config access (one dword). */
    int read(int offset, int size) {
        if (offset >= pciCfgPos && offset < pciCfgPos + PciCfgWindow.CAP_LENGTH) {
            return window.read(offset - pciCfgPos, size);
        }
        int aligned = offset & ~3;
        int dword;
        if (aligned == msixPos) {
            dword = MsixTable.PCI_CAP_ID_MSIX | (image[msixPos + 1] & 0xFF) << 8 | msix.messageControl() << 16;
        } else {
            dword = (image[aligned] & 0xFF) | (image[aligned + 1] & 0xFF) << 8 | (image[aligned + 2] & 0xFF) << 16
                    | (image[aligned + 3] & 0xFF) << 24;
        }
        return RegisterBytes.extract(dword, offset & 3, size);
    }

    void write(int offset, int size, int value) {
        if (offset >= pciCfgPos && offset < pciCfgPos + PciCfgWindow.CAP_LENGTH) {
            window.write(offset - pciCfgPos, size, value);
            return;
        }
        if ((offset & ~3) == msixPos) {
            int dword = MsixTable.PCI_CAP_ID_MSIX | msix.messageControl() << 16;
            int merged = RegisterBytes.merge(dword, offset & 3, size, value);
            if (offset + size > msixPos + PCI_MSIX_FLAGS) {
                msix.writeMessageControl(merged >>> 16);
            }
        }
        // everything else is read-only
    }
}
