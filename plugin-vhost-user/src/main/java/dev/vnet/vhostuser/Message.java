package dev.vnet.vhostuser;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * One vhost-user message: the 12-byte header fields, the payload (little-endian, as the host's byte
 * order on the platforms supported) and the descriptors that came with it. The receiver owns the
 * descriptors: a handler either keeps each one or closes it.
 */
public record Message(int request, int flags, byte[] payload, int[] fds) {

    public Message {
        payload = payload.clone();
        fds = fds.clone();
    }

    public static Message of(int request, int flags, byte[] payload, int... fds) {
        return new Message(request, flags, payload, fds);
    }

    public boolean needsReply() {
        return (flags & VhostUser.FLAG_NEED_REPLY) != 0;
    }

    public int size() {
        return payload.length;
    }

    public ByteBuffer buffer() {
        return ByteBuffer.wrap(payload).order(ByteOrder.LITTLE_ENDIAN);
    }

    /** The u64 payload, after checking the size. */
    public long u64() throws ProtocolException {
        expectSize(8);
        return buffer().getLong(0);
    }

    public void expectSize(int size) throws ProtocolException {
        if (payload.length != size) {
            throw new ProtocolException(VhostUser.requestName(request) + ": payload of " + payload.length
                    + " bytes, expected " + size);
        }
    }

    public void expectFds(int count) throws ProtocolException {
        if (fds.length != count) {
            throw new ProtocolException(VhostUser.requestName(request) + ": " + fds.length + " file descriptors, expected "
                    + count);
        }
    }

    public static byte[] u64Payload(long value) {
        return ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(value).array();
    }

    /** {@code struct vhost_vring_state { unsigned int index; unsigned int num; }}. */
    public static byte[] vringStatePayload(int index, int num) {
        return ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putInt(index).putInt(num).array();
    }

    @Override
    public String toString() {
        return VhostUser.requestName(request) + "(flags 0x" + Integer.toHexString(flags) + ", " + payload.length
                + " bytes, fds " + Arrays.toString(fds) + ")";
    }
}
