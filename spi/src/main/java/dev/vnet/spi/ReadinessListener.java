package dev.vnet.spi;

/**
 * How a {@link BackendQueue} wakes the device worker that found it empty or full. Called from the
 * backend's own thread (a poll thread, or the peer's worker for in-JVM backends); implementations only
 * wake the worker and return.
 */
public interface ReadinessListener {

    /** A frame can be read from queue {@code queue} again after {@link BackendQueue#read} returned 0. */
    void readable(int queue);

    /** A frame can be written again after {@link BackendQueue#write} returned false. */
    void writable(int queue);
}
