package dev.vnet.pci;

/**
 * The identification a virtio-pci function presents beside its vendor and device id (which follow from
 * the virtio device id, 4.1.2).
 *
 * @param classCode         24-bit class code: class, subclass, programming interface
 *                          ({@link VirtioPci#PCI_CLASS_NETWORK_ETHERNET} for net)
 * @param subsystemVendorId 16-bit subsystem vendor id
 * @param subsystemId       16-bit subsystem id
 */
public record PciIdentity(int classCode, int subsystemVendorId, int subsystemId) {

    public PciIdentity {
        if ((classCode & ~0xFF_FFFF) != 0 || (subsystemVendorId & ~0xFFFF) != 0 || (subsystemId & ~0xFFFF) != 0) {
            throw new IllegalArgumentException(String.format("bad PCI identity class=0x%x subsystem=%x:%x",
                    classCode, subsystemVendorId, subsystemId));
        }
    }

    /** {@code classCode} with QEMU's subsystem ids (0x1AF4:0x1100). */
    public static PciIdentity of(int classCode) {
        return new PciIdentity(classCode, VirtioPci.PCI_VENDOR_ID_REDHAT_QUMRANET, VirtioPci.PCI_SUBDEVICE_ID_QEMU);
    }
}
