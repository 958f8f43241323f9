package dev.vnet.config;

import dev.vnet.spi.MacAddress;
import java.util.Map;

/**
 * One NIC, validated: every field within the bounds {@code reference.conf} documents.
 *
 * @param id            unique name
 * @param path          HOCON path of this device, e.g. {@code vnet.devices[0]}
 * @param type          device plugin type
 * @param transport     where it sits
 * @param queuePairs    queue pairs offered, 1..256
 * @param rxQueueSize   power of two
 * @param txQueueSize   power of two
 * @param ctrlQueueSize power of two
 * @param mac           explicit or derived from the id
 * @param mtu           68..65535
 * @param speed         Mbit/s, or -1 unknown
 * @param duplex        link duplex
 * @param busyPollMicros how long queue-pair workers busy-poll before parking, 0 = off
 * @param features      every feature switch by its HOCON name (see {@link FeatureSwitches#NAMES})
 * @param backend       where frames go
 */
public record DeviceSpec(String id, String path, String type, TransportSpec transport, int queuePairs, int rxQueueSize,
                         int txQueueSize, int ctrlQueueSize, MacAddress mac, int mtu, int speed, Duplex duplex,
                         int busyPollMicros, Map<String, Boolean> features, BackendSpec backend) {

    public DeviceSpec {
        features = Map.copyOf(features);
    }

    public boolean feature(String name) {
        Boolean on = features.get(name);
        if (on == null) {
            throw new IllegalArgumentException("unknown feature switch " + name);
        }
        return on;
    }
}
