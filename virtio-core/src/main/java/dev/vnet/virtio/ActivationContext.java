package dev.vnet.virtio;

import dev.vnet.spi.GuestMemory;

/**
 * Everything a device needs to start its datapath, handed over by the transport at DRIVER_OK.
 *
 * @param memory    guest RAM
 * @param features  the features the driver acked (already validated)
 * @param queues    one entry per device queue; {@code null} where the driver did not enable that queue
 * @param interrupt used-buffer and configuration notifications
 * @param errors    where guest errors go (sets DEVICE_NEEDS_RESET)
 */
public record ActivationContext(GuestMemory memory, long features, Virtqueue[] queues, VirtioInterrupt interrupt,
                                GuestErrorListener errors) {

    public boolean has(int feature) {
        return VirtioFeatures.has(features, feature);
    }
}
