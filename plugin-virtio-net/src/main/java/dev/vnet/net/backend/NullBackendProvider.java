package dev.vnet.net.backend;

import dev.vnet.spi.BackendRequest;
import dev.vnet.spi.NetBackend;
import dev.vnet.spi.NetBackendProvider;

/**
 * {@code type = "null"}: a {@link NullBackend}, for measuring the device and its driver (like DPDK's
 * {@code net_null}). Option {@code rx-frame-size}: 0 (default) leaves RX idle; {@value NullBackend#MIN_FRAME}
 * to {@value NullBackend#MAX_FRAME} makes RX an endless source of broadcast UDP frames of that size.
 */
public final class NullBackendProvider implements NetBackendProvider {

    @Override
    public String type() {
        return "null";
    }

    @Override
    public String description() {
        return "null: transmitted frames are discarded; rx-frame-size > 0 receives an endless stream of frames";
    }

    @Override
    public NetBackend open(BackendRequest request) {
        Object v = request.options().getOrDefault("rx-frame-size", 0);
        if (!(v instanceof Number n) || n.longValue() != 0
                && (n.longValue() < NullBackend.MIN_FRAME || n.longValue() > NullBackend.MAX_FRAME)) {
            throw new IllegalArgumentException("rx-frame-size: expected 0 (RX idle) or " + NullBackend.MIN_FRAME
                    + ".." + NullBackend.MAX_FRAME + ", got " + v);
        }
        int size = n.intValue();
        return size == 0 ? NullBackend.sink(request.queuePairs())
                : NullBackend.source(request.queuePairs(), NullBackend.udpBroadcast(size));
    }
}
