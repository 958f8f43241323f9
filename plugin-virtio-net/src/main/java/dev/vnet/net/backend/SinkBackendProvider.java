package dev.vnet.net.backend;

import dev.vnet.spi.BackendRequest;
import dev.vnet.spi.NetBackend;
import dev.vnet.spi.NetBackendProvider;

/**
 * {@code type = "sink"}: a {@link SinkBackend}, for measuring the device and its driver (like DPDK's
 * {@code net_null}). Option {@code rx-frame-size}: 0 (default) leaves RX idle; {@value SinkBackend#MIN_FRAME}
 * to {@value SinkBackend#MAX_FRAME} makes RX an endless source of broadcast UDP frames of that size.
 */
public final class SinkBackendProvider implements NetBackendProvider {

    @Override
    public String type() {
        return "sink";
    }

    @Override
    public String description() {
        return "sink: transmitted frames are counted and discarded; with rx-frame-size, RX is an endless source of frames";
    }

    @Override
    public NetBackend open(BackendRequest request) {
        Object v = request.options().getOrDefault("rx-frame-size", 0);
        if (!(v instanceof Number n) || n.longValue() != 0
                && (n.longValue() < SinkBackend.MIN_FRAME || n.longValue() > SinkBackend.MAX_FRAME)) {
            throw new IllegalArgumentException("rx-frame-size: expected 0 (RX idle) or " + SinkBackend.MIN_FRAME
                    + ".." + SinkBackend.MAX_FRAME + ", got " + v);
        }
        int size = n.intValue();
        return size == 0 ? SinkBackend.sink(request.queuePairs())
                : SinkBackend.source(request.queuePairs(), SinkBackend.udpBroadcast(size));
    }
}
