package dev.vnet.virtio;

/**
 * How a device signals the driver; the transport maps it to an MSI-X vector or to the ISR bits plus
 * INTx. Called from device worker threads; thread-safe, never blocks, never throws.
 */
public interface VirtioInterrupt {

    /** A used-buffer notification for queue {@code index}. */
    void queue(int index);

    /** A configuration-change notification (virtio 1.2, 2.5.1). */
    void config();
}
