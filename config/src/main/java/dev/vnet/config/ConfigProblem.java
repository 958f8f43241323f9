package dev.vnet.config;

/**
 * One thing wrong with a configuration file.
 *
 * @param path    the HOCON path, e.g. {@code vnet.devices[0].queue-pairs}
 * @param value   the offending value as written, or {@code "(missing)"}
 * @param allowed what would be accepted
 */
public record ConfigProblem(String path, String value, String allowed) {

    @Override
    public String toString() {
        return path + ": " + value + " is not allowed; expected " + allowed;
    }
}
