package dev.vnet.spi;

import java.util.Map;

/**
 * What a device asks of a {@link NetBackendProvider}.
 *
 * @param deviceId   the device's configured id, for names and logs
 * @param queuePairs the most queue pairs the device may use
 * @param options    the backend's own settings, already parsed by the configuration layer (JDK types:
 *                   String, Number, Boolean, List, Map)
 */
public record BackendRequest(String deviceId, int queuePairs, Map<String, Object> options) {

    public BackendRequest {
        options = Map.copyOf(options);
    }
}
