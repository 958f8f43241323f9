package dev.vnet.spi;

/**
 * Where a virtio-net device's frames go: a Linux TAP device, an in-JVM loopback or cable, a vhost-user
 * peer. Created by a {@link NetBackendProvider}; owned by one device.
 *
 * <p>The device calls {@link #setOffloads} and {@link #setActiveQueues} from the vCPU thread (feature
 * negotiation, control-queue commands) or a worker thread, and each {@link BackendQueue} from that
 * queue pair's worker. {@link #close} is called once, from the thread that stops the device.
 */
public interface NetBackend extends AutoCloseable {

    /** Whether frames carry the 12-byte {@code virtio_net_hdr_v1} in front (TAP with IFF_VNET_HDR). */
    boolean vnetHeader();

    /**
     * The {@link Offloads} bits this backend can honour: frames with NEEDS_CSUM/GSO headers it accepts on
     * TX, and that it may produce on RX once enabled with {@link #setOffloads}. Zero for a backend
     * without vnet headers.
     */
    int supportedOffloads();

    /** What the guest accepts on RX (a subset of {@link #supportedOffloads}); TAP: {@code TUNSETOFFLOAD}. */
    void setOffloads(int offloads);

    /** How many queue pairs the backend can serve (a multiqueue TAP has one fd per pair). */
    int maxQueuePairs();

    /** Uses queues {@code 0..pairs-1} only (TAP: {@code TUNSETQUEUE} attach/detach). */
    void setActiveQueues(int pairs);

    /** Queue pair {@code index}, {@code 0 <= index < maxQueuePairs()}. */
    BackendQueue queue(int index);

    /** Where readiness wakeups for every queue go; set by the device before its first read or write. */
    void setReadinessListener(ReadinessListener listener);

    /** Stops backend threads and releases native resources; idempotent. */
    @Override
    void close();
}
