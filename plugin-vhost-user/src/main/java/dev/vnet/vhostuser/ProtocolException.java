package dev.vnet.vhostuser;

/**
 * The front-end broke the vhost-user protocol (bad header, size, field or descriptor count, unknown
 * request): the connection is closed and the back-end waits for the next one.
 */
public final class ProtocolException extends Exception {

    private static final long serialVersionUID = 1L;

    public ProtocolException(String message) {
        super(message);
    }
}
