package dev.vnet.vhostuser;

import dev.vnet.linux.Errno;
import dev.vnet.linux.ErrnoException;
import dev.vnet.virtio.MemoryFault;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Serves a {@link VhostUserBackend} on a Unix socket, one front-end at a time, on its own platform
 * thread. Server mode binds and listens at the path (QEMU {@code -chardev socket,path=...} without
 * {@code server=on}, DPDK {@code net_virtio_user} with {@code server=0}); client mode connects to a
 * front-end listening there (QEMU {@code server=on}), retrying until it answers. When a connection
 * ends, cleanly or because the front-end broke the protocol, the back-end is reset and the next
 * front-end is served. A fault on the front-end's memory ({@link VhostUserBackend#memoryFaults}) ends
 * the connection the same way, from whichever thread found it.
 */
public final class VhostUserServer implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(VhostUserServer.class);
    private static final long RECONNECT_MILLIS = 500;
    /** inode(7): the file type bits of {@code st_mode}, and the type of a socket. */
    private static final int S_IFMT = 0170000;
    private static final int S_IFSOCK = 0140000;

    private final Path path;
    private final boolean client;
    private final VhostUserBackend backend;
    private final Thread thread;
    private final Object lock = new Object();
    private volatile boolean stopping;
    private int listenFd = -1;
    private MessageChannel current;
    private int connections;
    private int protocolErrors;

    public VhostUserServer(Path path, boolean client, VhostUserBackend backend) {
        this.path = path;
        this.client = client;
        this.backend = backend;
        this.thread = Thread.ofPlatform().name("vhost-user-" + path.getFileName()).unstarted(this::run);
        backend.onMemoryFault(this::dropConnection);
    }

    /** Ends the current connection from any thread; the server thread then resets the back-end. */
    private void dropConnection() {
        synchronized (lock) {
            if (current != null) {
                current.shutdown();
            }
        }
    }

    /**
     * In server mode binds and listens before returning, so a front-end may connect right away; a socket
     * file left at the path by an earlier run is replaced, any other file there is refused.
     *
     * @throws IllegalStateException the path holds something else, or the stale socket cannot be removed
     * @throws ErrnoException        bind or listen failed (no such directory, permission, ...)
     */
    public VhostUserServer start() {
        if (!client) {
            removeStaleSocket(path);
            int fd = Native.socket();
            try {
                Native.bind(fd, path.toString());
                Native.listen(fd, 1);
            } catch (RuntimeException e) {
                Native.close(fd);
                throw e;
            }
            listenFd = fd;
        }
        thread.start();
        return this;
    }

    private static void removeStaleSocket(Path path) {
        try {
            int mode = (Integer) Files.getAttribute(path, "unix:mode", LinkOption.NOFOLLOW_LINKS);
            if ((mode & S_IFMT) != S_IFSOCK) {
                throw new IllegalStateException(path + " exists and is not a socket; not replacing it");
            }
            Files.delete(path);
        } catch (NoSuchFileException e) {
            // nothing stale
        } catch (IOException e) {
            throw new IllegalStateException("cannot remove stale socket " + path + ": " + e.getMessage(), e);
        }
    }

    /** Connections served so far (ended or current). */
    public synchronized int connections() {
        return connections;
    }

    /** Connections closed because the front-end broke the protocol. */
    public synchronized int protocolErrors() {
        return protocolErrors;
    }

    private void run() {
        while (!stopping) {
            int fd;
            try {
                fd = client ? connect() : Native.accept(listenFd);
            } catch (ErrnoException e) {
                if (!stopping) {
                    LOG.warn("vhost-user {}: {}", path, e.getMessage());
                    sleep(RECONNECT_MILLIS);
                }
                continue;
            }
            if (fd < 0) {
                continue;
            }
            MessageChannel ch = new MessageChannel(fd);
            synchronized (lock) {
                if (stopping) {
                    ch.close();
                    break;
                }
                current = ch;
            }
            synchronized (this) {
                connections++;
            }
            LOG.info("vhost-user {}: front-end connected", path);
            serve(ch);
            synchronized (lock) {
                current = null;
            }
            ch.close();
            backend.disconnect();
            LOG.info("vhost-user {}: front-end disconnected", path);
            if (client && !stopping) {
                sleep(RECONNECT_MILLIS);
            }
        }
    }

    private int connect() {
        while (!stopping) {
            int fd = Native.socket();
            try {
                Native.connect(fd, path.toString());
                return fd;
            } catch (ErrnoException e) {
                Native.close(fd);
                if (e.errno() != Errno.ENOENT && e.errno() != Errno.ECONNREFUSED) {
                    throw e;
                }
                sleep(RECONNECT_MILLIS);
            }
        }
        return -1;
    }

    private void serve(MessageChannel ch) {
        try {
            Message m;
            while ((m = ch.read()) != null) {
                LOG.debug("vhost-user {}: {}", path, m);
                VhostUserBackend.Result r = backend.handle(m);
                if (r.payload() != null) {
                    ch.reply(m.request(), r.payload());
                } else if (m.needsReply() && backend.replyAck()) {
                    ch.reply(m.request(), Message.u64Payload(r.status()));
                } else if (r.status() != 0) {
                    LOG.warn("vhost-user {}: {} failed (no REPLY_ACK to report it)", path, m);
                }
            }
        } catch (ProtocolException e) {
            synchronized (this) {
                protocolErrors++;
            }
            LOG.warn("vhost-user {}: closing the connection: {}", path, e.getMessage());
        } catch (RuntimeException | InternalError e) {
            // InternalError: a fault in a mapped access (the front-end's memory shrank under us); the
            // connection ends, the server thread must not.
            if (MemoryFault.is(e)) {
                backend.memoryFault("connection thread: " + e.getMessage());
            } else if (!stopping) {
                LOG.warn("vhost-user {}: connection failed: {}", path, e.toString());
            }
        }
    }

    /** Waits before retrying; {@link #close} cuts it short (no interrupt, which would abort a ring stop). */
    private void sleep(long millis) {
        synchronized (lock) {
            if (stopping) {
                return;
            }
            try {
                lock.wait(millis);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /** Stops serving: closes the connection and the listening socket, waits for the thread. */
    @Override
    public void close() {
        stopping = true;
        synchronized (lock) {
            if (current != null) {
                current.shutdown();
            }
            lock.notifyAll();
        }
        if (listenFd >= 0) {
            Native.shutdown(listenFd);
        }
        try {
            thread.join(10_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (listenFd >= 0) {
            Native.close(listenFd);
            listenFd = -1;
            if (!client) {
                Native.unlink(path.toString());
            }
        }
    }
}
