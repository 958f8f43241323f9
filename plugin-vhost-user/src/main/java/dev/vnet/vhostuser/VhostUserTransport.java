package dev.vnet.vhostuser;

import dev.vnet.config.ConfigProblem;
import dev.vnet.config.DeviceSpec;
import dev.vnet.config.DeviceTransport;
import dev.vnet.config.HostServices;
import dev.vnet.config.TransportSpec.SocketMode;
import dev.vnet.config.VnetConfigException;
import dev.vnet.net.VirtioNetDevice;
import java.nio.file.Path;
import java.util.List;

/**
 * One device's vhost-user side: its {@link VhostUserBackend} and, once started, the
 * {@link VhostUserServer} on {@code transport.socket} (listening in server mode, connecting in client
 * mode). Closing stops the server (the listening socket file is removed) and the back-end; the device
 * itself is closed by {@link dev.vnet.config.Vnet}.
 */
public final class VhostUserTransport implements DeviceTransport {

    private final Path socket;
    private final SocketMode mode;
    private final String socketPath;
    private final VhostUserBackend backend;
    private VhostUserServer server;
    private boolean closed;

    VhostUserTransport(VirtioNetDevice device, DeviceSpec spec) {
        this.socket = Path.of(spec.transport().socket());
        this.mode = spec.transport().mode();
        this.socketPath = spec.path() + ".transport.socket";
        this.backend = new VhostUserBackend(device);
    }

    public Path socket() {
        return socket;
    }

    public SocketMode mode() {
        return mode;
    }

    public VhostUserBackend backend() {
        return backend;
    }

    /** The server, or null before {@link #start}. */
    public synchronized VhostUserServer server() {
        return server;
    }

    /** In server mode the socket listens when this returns, so a front-end may connect right away. */
    @Override
    public synchronized void start(HostServices host) {
        if (server != null || closed) {
            return;
        }
        try {
            server = new VhostUserServer(socket, mode == SocketMode.CLIENT, backend).start();
        } catch (RuntimeException e) {
            throw new VnetConfigException(List.of(new ConfigProblem(socketPath, "\"" + socket + "\"",
                    "a path where this process can listen: " + e.getMessage())));
        }
    }

    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        if (server != null) {
            server.close();
        }
        backend.close();
    }
}
