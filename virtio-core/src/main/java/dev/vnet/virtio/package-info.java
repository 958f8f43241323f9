/**
 * Transport-neutral virtio (spec 1.2): feature negotiation, the device status machine, the
 * {@link dev.vnet.virtio.VirtioDevice} contract and the split virtqueue engine
 * ({@link dev.vnet.virtio.Virtqueue}, {@link dev.vnet.virtio.DescriptorChain}).
 *
 * <p>Guest-error policy: everything the guest writes is untrusted. A violation found by the engine
 * marks the queue broken and is reported once through {@link dev.vnet.virtio.GuestErrorListener}; the
 * transport then sets {@code DEVICE_NEEDS_RESET} and raises a configuration interrupt. Nothing is
 * thrown into the caller's thread. A fault in an access to guest memory whose backing shrank
 * ({@link dev.vnet.virtio.MemoryFault}) stops the worker that hit it and is reported the same way.
 */
package dev.vnet.virtio;
