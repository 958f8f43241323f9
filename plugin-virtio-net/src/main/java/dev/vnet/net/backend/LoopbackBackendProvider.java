package dev.vnet.net.backend;

import dev.vnet.spi.BackendRequest;
import dev.vnet.spi.NetBackend;
import dev.vnet.spi.NetBackendProvider;

/**
 * {@code type = "loopback"}: what the guest sends comes back to it. Option {@code ring-bytes} (per
 * queue, default {@value InJvmBackend#DEFAULT_RING_BYTES}).
 */
public final class LoopbackBackendProvider implements NetBackendProvider {

    @Override
    public String type() {
        return "loopback";
    }

    @Override
    public String description() {
        return "loopback: transmitted frames are received by the same device";
    }

    @Override
    public NetBackend open(BackendRequest request) {
        return InJvmBackend.loopback(request.deviceId(), request.queuePairs(), ringBytes(request));
    }

    static int ringBytes(BackendRequest request) {
        Object v = request.options().getOrDefault("ring-bytes", InJvmBackend.DEFAULT_RING_BYTES);
        if (!(v instanceof Number n) || n.longValue() < 1 || n.longValue() > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("ring-bytes: expected a positive number, got " + v);
        }
        return n.intValue();
    }
}
