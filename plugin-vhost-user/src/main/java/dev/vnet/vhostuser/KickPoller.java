package dev.vnet.vhostuser;

import dev.vnet.linux.Libc;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.function.IntConsumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One platform thread that waits on every started ring's kick eventfd with {@code poll} and forwards
 * each kick to the device ({@code queueNotify}), which only wakes the queue's worker. Rings started
 * without a kick descriptor ({@code VHOST_USER_VRING_NOFD_MASK}) are polled: the poller then wakes
 * every millisecond and notifies them.
 *
 * <p>{@link #update} replaces the watched set and returns only once the thread no longer polls the old
 * descriptors, so the caller may close them right after.
 */
final class KickPoller implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(KickPoller.class);
    private static final int POLLING_INTERVAL_MS = 1;

    /** What to watch: {@code fds[i]} is the kick of queue {@code queues[i]}; {@code polled} have no fd. */
    record Watch(int[] fds, int[] queues, int[] polled) {
        static final Watch NONE = new Watch(new int[0], new int[0], new int[0]);
    }

    private final IntConsumer notify;
    private final int wakeFd = Native.eventfd(true);
    private final Thread thread;
    private final Object lock = new Object();
    private Watch pending;
    private long requested;
    private long applied;
    private volatile boolean stopping;

    KickPoller(String name, IntConsumer notify) {
        this.notify = notify;
        this.thread = Thread.ofPlatform().name(name).daemon(true).unstarted(this::loop);
        thread.start();
    }

    /** Watches {@code watch} from now on; returns when the old set is no longer polled. */
    void update(Watch watch) {
        synchronized (lock) {
            pending = watch;
            long ticket = ++requested;
            Native.signal(wakeFd);
            while (applied < ticket && thread.isAlive() && Thread.currentThread() != thread) {
                try {
                    lock.wait(100);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return;
                }
            }
        }
    }

    private void loop() {
        Arena arena = Arena.ofConfined();
        Watch watch = Watch.NONE;
        MemorySegment pollfds = arena.allocate(Libc.POLLFD_SIZE, 8);
        try {
            while (!stopping) {
                int n = 1 + watch.fds().length;
                for (int i = 0; i < n; i++) {
                    int fd = i == 0 ? wakeFd : watch.fds()[i - 1];
                    Libc.setPollFd(pollfds, i, fd, Libc.POLLIN);
                }
                int ready = Native.poll(pollfds, n, watch.polled().length > 0 ? POLLING_INTERVAL_MS : -1);
                if (stopping) {
                    break;
                }
                for (int q : watch.polled()) {
                    notify.accept(q);
                }
                if (ready > 0) {
                    for (int i = 1; i < n; i++) {
                        short rev = Libc.revents(pollfds, i);
                        if ((rev & Libc.POLLIN) != 0) {
                            Native.drain(watch.fds()[i - 1]);
                            notify.accept(watch.queues()[i - 1]);
                        } else if ((rev & (Libc.POLLERR | Libc.POLLHUP | Libc.POLLNVAL)) != 0) {
                            // A dead kick fd would spin the loop: drop it until the front-end sends a new one.
                            LOG.warn("kick descriptor of queue {} failed (revents 0x{}); ignoring it",
                                    watch.queues()[i - 1], Integer.toHexString(rev));
                            watch = without(watch, i - 1);
                            break;
                        }
                    }
                }
                if ((Libc.revents(pollfds, 0) & Libc.POLLIN) != 0 || ready == 0) {
                    Native.drain(wakeFd);
                }
                synchronized (lock) {
                    if (applied != requested) {
                        watch = pending;
                        if (pollfds.byteSize() < Libc.POLLFD_SIZE * (1 + watch.fds().length)) {
                            pollfds = arena.allocate(Libc.POLLFD_SIZE * (1 + watch.fds().length), 8);
                        }
                        applied = requested;
                        lock.notifyAll();
                    }
                }
            }
        } catch (RuntimeException e) {
            LOG.error("kick poller failed", e);
        } finally {
            synchronized (lock) {
                applied = Long.MAX_VALUE;
                lock.notifyAll();
            }
            arena.close();
        }
    }

    private static Watch without(Watch w, int index) {
        int[] fds = new int[w.fds().length - 1];
        int[] queues = new int[fds.length];
        for (int i = 0, j = 0; i < w.fds().length; i++) {
            if (i != index) {
                fds[j] = w.fds()[i];
                queues[j++] = w.queues()[i];
            }
        }
        return new Watch(fds, queues, w.polled());
    }

    @Override
    public void close() {
        stopping = true;
        Native.signal(wakeFd);
        try {
            thread.join(5000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        Native.close(wakeFd);
    }
}
