package dev.vnet.pci;

import dev.vnet.virtio.VirtioDevice;

/**
 * The device-specific configuration structure (virtio 1.2, 4.1.4.6), forwarded to
 * {@link VirtioDevice#readConfig}/{@link VirtioDevice#writeConfig}.
 *
 * <p>Accesses of 1, 2 or 4 bytes at any offset inside the window are forwarded as they are (the device
 * decides what its fields accept; Linux uses the fields' natural widths). An 8-byte access is split into
 * two 4-byte accesses, low half first (4.1.3.1 lets the driver access 64-bit fields as two halves). An
 * access that does not fit in the window reads 0 and is ignored. {@code config_generation} lives in
 * {@link CommonConfig}; it is bumped by the device's change listener, not by driver writes.
 */
final class DeviceConfigWindow {

    private final VirtioDevice device;
    private final int length;

    DeviceConfigWindow(VirtioDevice device, int length) {
        this.device = device;
        this.length = length;
        reset();
    }

    void reset() {
        // the contents belong to the device, which resets itself
    }

    long read(long offset, int size) {
        if (!fits(offset, size)) {
            return 0;
        }
        int o = (int) offset;
        if (size == 8) {
            return Integer.toUnsignedLong(device.readConfig(o, 4))
                    | (Integer.toUnsignedLong(device.readConfig(o + 4, 4)) << 32);
        }
        return Integer.toUnsignedLong(device.readConfig(o, size)) & (0xFFFF_FFFFL >>> (32 - 8 * size));
    }

    void write(long offset, int size, long value) {
        if (!fits(offset, size)) {
            return;
        }
        int o = (int) offset;
        if (size == 8) {
            device.writeConfig(o, 4, (int) value);
            device.writeConfig(o + 4, 4, (int) (value >>> 32));
        } else {
            device.writeConfig(o, size, (int) value & RegisterBytes.mask(size));
        }
    }

    private boolean fits(long offset, int size) {
        return (size == 1 || size == 2 || size == 4 || size == 8) && offset >= 0 && offset + size <= length;
    }
}
