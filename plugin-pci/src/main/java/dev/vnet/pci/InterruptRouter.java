package dev.vnet.pci;

import static dev.vnet.pci.VirtioPci.VIRTIO_MSI_NO_VECTOR;

import dev.vnet.virtio.VirtioInterrupt;

/**
 * Maps the device's notifications to PCI interrupts (virtio 1.2, 4.1.5.4): with MSI-X enabled, to the
 * vector in {@code queue_msix_vector} / {@code config_msix_vector} (nothing is sent for
 * {@link VirtioPci#VIRTIO_MSI_NO_VECTOR}); with MSI-X disabled, to the ISR bits and INTx.
 *
 * <p>The MSI-X path is what device workers run per interrupt: two volatile reads, an atomic array read and
 * {@link MsixTable#notify}; no lock, no allocation. The ISR is only touched in INTx mode (a driver using
 * MSI-X must not read it, 4.1.4.5).
 */
final class InterruptRouter implements VirtioInterrupt {

    private final CommonConfig common;
    private final MsixTable msix;
    private final IsrRegion isr;
    private final int queueCount;

    InterruptRouter(CommonConfig common, MsixTable msix, IsrRegion isr, int queueCount) {
        this.common = common;
        this.msix = msix;
        this.isr = isr;
        this.queueCount = queueCount;
    }

    @Override
    public void queue(int index) {
        if (index < 0 || index >= queueCount) {
            return;
        }
        if (msix.isEnabled()) {
            int vector = common.queueVector(index);
            if (vector != VIRTIO_MSI_NO_VECTOR) {
                msix.notify(vector);
            }
        } else {
            isr.raise(VirtioPci.VIRTIO_PCI_ISR_QUEUE);
        }
    }

    @Override
    public void config() {
        if (msix.isEnabled()) {
            int vector = common.configVector();
            if (vector != VIRTIO_MSI_NO_VECTOR) {
                msix.notify(vector);
            }
        } else {
            isr.raise(VirtioPci.VIRTIO_PCI_ISR_CONFIG);
        }
    }
}
