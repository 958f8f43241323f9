package dev.vnet.net.backend;

import dev.vnet.spi.BackendRequest;
import dev.vnet.spi.NetBackend;
import dev.vnet.spi.NetBackendProvider;
import java.util.HashMap;
import java.util.Map;

/**
 * {@code type = "cable"}: joins two devices of this JVM. The first device opening cable {@code name}
 * gets one end, the second the other; a third open of the same name starts a new cable. Options:
 * {@code name} (required), {@code ring-bytes}.
 */
public final class CableBackendProvider implements NetBackendProvider {

    /** Cables with one end handed out, waiting for the second device. */
    private static final Map<String, InJvmBackend> WAITING = new HashMap<>();

    @Override
    public String type() {
        return "cable";
    }

    @Override
    public String description() {
        return "cable: an in-JVM link between two devices opened with the same name";
    }

    @Override
    public NetBackend open(BackendRequest request) {
        Object name = request.options().get("name");
        if (!(name instanceof String cable) || cable.isBlank()) {
            throw new IllegalArgumentException("name: a cable needs a name shared by its two devices");
        }
        synchronized (WAITING) {
            InJvmBackend other = WAITING.remove(cable);
            if (other != null) {
                if (other.maxQueuePairs() != request.queuePairs()) {
                    WAITING.put(cable, other);
                    throw new IllegalArgumentException("cable " + cable + ": " + request.queuePairs()
                            + " queue pairs, but its other end has " + other.maxQueuePairs());
                }
                return other;
            }
            InJvmBackend[] ends = InJvmBackend.cable(cable, request.queuePairs(),
                    LoopbackBackendProvider.ringBytes(request));
            WAITING.put(cable, ends[1]);
            return ends[0];
        }
    }
}
