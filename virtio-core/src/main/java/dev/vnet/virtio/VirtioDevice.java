package dev.vnet.virtio;

/**
 * A virtio device type (net, blk, ...) as a transport sees it. The transport owns the registers and the
 * status machine; the device owns its configuration space, its queues' meaning and its workers.
 *
 * <p>Threads: the transport calls every method from the vCPU thread performing a register access, except
 * {@link #reset} which may also come from the host's thread tearing the device down. Calls are
 * serialized by the transport. Implementations never throw on guest-chosen values.
 */
public interface VirtioDevice {

    /** Virtio device id (virtio 1.2, 5): 1 for net. */
    int deviceId();

    /** The feature bits offered to the driver, including VIRTIO_F_VERSION_1. */
    long offeredFeatures();

    /** Rules the acked set must meet (offered bits and dependencies). */
    FeatureRules featureRules();

    /** Number of virtqueues the device exposes (the transport's {@code num_queues}). */
    int queueCount();

    /** Largest size the driver may give queue {@code index}: a power of two, at most 32768. */
    int queueMaxSize(int index);

    /** Size in bytes of the device-specific configuration space for the features offered. */
    int configSize();

    /**
     * Reads {@code size} (1, 2 or 4) bytes at {@code offset} of the device configuration space,
     * little-endian. Offsets at or past {@link #configSize()} read as 0.
     */
    int readConfig(int offset, int size);

    /** Writes the device configuration space; read-only fields ignore it. */
    void writeConfig(int offset, int size, int value);

    /**
     * Registers the transport's hook for device-initiated configuration changes (link status,
     * announce). The transport bumps {@code config_generation} and, once DRIVER_OK is set, sends a
     * configuration interrupt. Called once, before any other call.
     */
    void setConfigChangeListener(Runnable listener);

    /** Starts the datapath with the queues the driver enabled (DRIVER_OK). */
    void activate(ActivationContext context);

    /** The driver kicked queue {@code index}: wake its worker; never process inline on the vCPU thread. */
    void queueNotify(int index);

    /**
     * Returns to the power-on state: stops and joins the workers, forgets queues and negotiated state.
     * Idempotent; returns only when no worker touches guest memory any more.
     */
    void reset();

    /**
     * Whether single queues can be reset and re-enabled while the device runs
     * ({@code VIRTIO_F_RING_RESET}). When true, the transport calls {@link #stopQueue} and
     * {@link #restartQueue}.
     */
    default boolean supportsQueueReset() {
        return false;
    }

    /** Stops using queue {@code index} (its worker no longer touches it when this returns). */
    default void stopQueue(int index) {
        throw new UnsupportedOperationException("queue reset");
    }

    /** Uses a newly configured queue {@code index} after {@link #stopQueue}. */
    default void restartQueue(int index, Virtqueue queue) {
        throw new UnsupportedOperationException("queue reset");
    }
}
