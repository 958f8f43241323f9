package dev.vnet.config;

import java.util.Map;

/**
 * The backend of one device.
 *
 * @param type    backend plugin type (loopback, cable, tap, ...)
 * @param path    HOCON path of the backend object, for errors the plugin reports
 * @param options every key beside {@code type}, as plain JDK values (String, Number, Boolean, List, Map)
 */
public record BackendSpec(String type, String path, Map<String, Object> options) {

    public BackendSpec {
        options = Map.copyOf(options);
    }
}
