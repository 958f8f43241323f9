package dev.vnet.net;

import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.List;
import javax.management.InstanceAlreadyExistsException;
import javax.management.JMException;
import javax.management.MBeanServer;
import javax.management.ObjectName;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Every queue's {@link QueueStats} for one device, and their JMX registration under
 * {@code dev.vnet:type=VirtioNet,id=<id>,queue=<index>} (standard MXBeans on the platform server).
 */
public final class NetStats implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(NetStats.class);

    private final QueueStats[] queues;
    private final int pairs;
    private final List<ObjectName> registered = new ArrayList<>();

    NetStats(int maxPairs) {
        this.pairs = maxPairs;
        queues = new QueueStats[2 * maxPairs + 1];
        for (int p = 0; p < maxPairs; p++) {
            queues[2 * p] = new QueueStats(2 * p, "rx");
            queues[2 * p + 1] = new QueueStats(2 * p + 1, "tx");
        }
        queues[2 * maxPairs] = new QueueStats(2 * maxPairs, "ctrl");
    }

    public QueueStats rx(int pair) {
        return queues[2 * pair];
    }

    public QueueStats tx(int pair) {
        return queues[2 * pair + 1];
    }

    public QueueStats ctrl() {
        return queues[2 * pairs];
    }

    /** By virtqueue index in the full layout (control = 2 * max pairs). */
    public QueueStats queue(int index) {
        return queues[index];
    }

    public List<QueueStats> all() {
        return List.of(queues);
    }

    /** The object name of queue {@code index} of device {@code id}. */
    public static ObjectName objectName(String id, int index) {
        try {
            return new ObjectName("dev.vnet:type=VirtioNet,id=" + ObjectName.quote(id) + ",queue=" + index);
        } catch (JMException e) {
            throw new IllegalArgumentException("device id " + id + " makes no JMX name", e);
        }
    }

    /** Registers every queue; a name already taken (two devices with one id) is logged and skipped. */
    synchronized void register(String id) {
        MBeanServer server = ManagementFactory.getPlatformMBeanServer();
        for (QueueStats q : queues) {
            ObjectName name = objectName(id, q.getQueueIndex());
            try {
                server.registerMBean(q, name);
                registered.add(name);
            } catch (InstanceAlreadyExistsException e) {
                LOG.warn("JMX name {} is taken; statistics of this queue are not exported", name);
            } catch (JMException e) {
                LOG.warn("cannot register {}", name, e);
            }
        }
    }

    /** Unregisters what {@link #register} registered; idempotent. */
    @Override
    public synchronized void close() {
        MBeanServer server = ManagementFactory.getPlatformMBeanServer();
        for (ObjectName name : registered) {
            try {
                server.unregisterMBean(name);
            } catch (JMException e) {
                LOG.debug("unregister {}", name, e);
            }
        }
        registered.clear();
    }
}
