package dev.vnet.pci;

/**
 * Constants of the virtio-pci transport shared by several register blocks (virtio 1.2, 4.1), under the
 * names Linux's {@code include/uapi/linux/virtio_pci.h} gives them.
 */
public final class VirtioPci {

    /** 4.1.2: the PCI vendor id of every virtio device (Red Hat / Qumranet). */
    public static final int PCI_VENDOR_ID_REDHAT_QUMRANET = 0x1AF4;
    /** 4.1.2: a modern (non-transitional) device has PCI device id 0x1040 + virtio device id. */
    public static final int VIRTIO_PCI_MODERN_DEVICE_ID_BASE = 0x1040;
    /** 4.1.2.1: non-transitional devices SHOULD have a revision id of 1 or higher. */
    public static final int VIRTIO_PCI_REVISION = 1;
    /** The class code a virtio-net function presents (network controller, Ethernet). */
    public static final int PCI_CLASS_NETWORK_ETHERNET = 0x020000;
    /** Class code for device types without a more specific one (unclassified, "other"). */
    public static final int PCI_CLASS_OTHERS = 0xFF0000;
    /** QEMU's subsystem id for its virtio devices; our default. */
    public static final int PCI_SUBDEVICE_ID_QEMU = 0x1100;

    /** 4.1.4: {@code cfg_type} of the virtio vendor-specific capabilities. */
    public static final int VIRTIO_PCI_CAP_COMMON_CFG = 1;
    public static final int VIRTIO_PCI_CAP_NOTIFY_CFG = 2;
    public static final int VIRTIO_PCI_CAP_ISR_CFG = 3;
    public static final int VIRTIO_PCI_CAP_DEVICE_CFG = 4;
    public static final int VIRTIO_PCI_CAP_PCI_CFG = 5;

    /** 4.1.4.3: "no MSI-X vector" in {@code config_msix_vector} and {@code queue_msix_vector}. */
    public static final int VIRTIO_MSI_NO_VECTOR = 0xFFFF;

    /** 4.1.4.5: ISR status bit 0, a used-buffer notification. */
    public static final int VIRTIO_PCI_ISR_QUEUE = 0x1;
    /** 4.1.4.5: ISR status bit 1, a configuration change notification. */
    public static final int VIRTIO_PCI_ISR_CONFIG = 0x2;

    private VirtioPci() {
    }

    /** The class code a modern virtio function of device type {@code deviceId} presents, as QEMU picks it. */
    public static int classCodeFor(int deviceId) {
        return switch (deviceId) {
            case 1 -> PCI_CLASS_NETWORK_ETHERNET;
            case 2 -> 0x010000; // block: mass storage, SCSI
            case 3 -> 0x078000; // console: communication, other
            default -> PCI_CLASS_OTHERS;
        };
    }
}
