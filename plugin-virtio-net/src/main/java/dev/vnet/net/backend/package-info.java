/**
 * In-JVM backends: {@code loopback} and {@code cable} ({@link dev.vnet.net.backend.InJvmBackend}),
 * found through {@code META-INF/services/dev.vnet.spi.NetBackendProvider}.
 */
package dev.vnet.net.backend;
