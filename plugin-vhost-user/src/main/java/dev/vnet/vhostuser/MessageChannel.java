package dev.vnet.vhostuser;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * Frames vhost-user messages on a connected Unix stream socket: a 12-byte header, then {@code size}
 * payload bytes, with descriptors passed as {@code SCM_RIGHTS} ancillary data. Reading checks the
 * header (version 1, not a reply, size at most {@link VhostUser#MAX_PAYLOAD}) and that no descriptor
 * was lost to truncation; anything else is a {@link ProtocolException}, after which the caller closes
 * the connection. Descriptors of a rejected message are closed here.
 *
 * <p>One thread reads and writes a channel; {@link #close} may come from another thread (it shuts the
 * socket down so a blocked read returns).
 */
public final class MessageChannel implements AutoCloseable {

    private static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final int fd;
    // Freed by the GC: closing a shared arena could race a read blocked in another thread.
    private final Arena arena = Arena.ofAuto();
    private final MemorySegment buf = arena.allocate(VhostUser.HEADER_SIZE + VhostUser.MAX_PAYLOAD, 8);
    private final Native.FdBuffer fds = new Native.FdBuffer();
    private volatile boolean closed;

    /** Takes ownership of the connected socket {@code fd}. */
    public MessageChannel(int fd) {
        this.fd = fd;
    }

    public int fd() {
        return fd;
    }

    /**
     * Reads the next message.
     *
     * @return null at a clean end of stream (the front-end disconnected between messages)
     * @throws ProtocolException for a malformed message or one cut short
     */
    public Message read() throws ProtocolException {
        try {
            long got = fill(0, VhostUser.HEADER_SIZE);
            if (got == 0) {
                return null;
            }
            if (got < VhostUser.HEADER_SIZE) {
                throw new ProtocolException("connection closed inside a message header (" + got + " bytes)");
            }
            int request = buf.get(U32, 0);
            int flags = buf.get(U32, 4);
            int size = buf.get(U32, 8);
            if ((flags & VhostUser.VERSION_MASK) != VhostUser.VERSION) {
                throw new ProtocolException("header version " + (flags & VhostUser.VERSION_MASK) + " in "
                        + VhostUser.requestName(request) + ", expected 1");
            }
            if ((flags & VhostUser.FLAG_REPLY) != 0) {
                throw new ProtocolException("front-end sent a reply flag on " + VhostUser.requestName(request));
            }
            if (size < 0 || size > VhostUser.MAX_PAYLOAD) {
                throw new ProtocolException(VhostUser.requestName(request) + ": payload size "
                        + Integer.toUnsignedString(size) + " above " + VhostUser.MAX_PAYLOAD);
            }
            if (size > 0 && fill(VhostUser.HEADER_SIZE, size) < size) {
                throw new ProtocolException(VhostUser.requestName(request) + ": connection closed inside the payload");
            }
            if (fds.truncated) {
                throw new ProtocolException(VhostUser.requestName(request) + ": more descriptors than "
                        + Native.FdBuffer.MAX_PER_RECV + " (some were dropped)");
            }
            byte[] payload = buf.asSlice(VhostUser.HEADER_SIZE, size).toArray(ValueLayout.JAVA_BYTE);
            return new Message(request, flags, payload, fds.take());
        } catch (ProtocolException | RuntimeException e) {
            fds.closeAll();
            throw e;
        }
    }

    /** Reads until {@code length} bytes are at {@code offset} or the stream ends; returns bytes read. */
    private long fill(long offset, long length) {
        long done = 0;
        while (done < length) {
            long n = Native.recvmsg(fd, buf.asSlice(offset + done), length - done, fds);
            if (n == 0) {
                break;
            }
            done += n;
        }
        return done;
    }

    /** Sends a reply: {@code request}, version 1 with the reply flag, and {@code payload}. */
    public void reply(int request, byte[] payload) {
        send(request, VhostUser.VERSION | VhostUser.FLAG_REPLY, payload, new int[0]);
    }

    /** Sends a message as a front-end would (tests, fake front-ends). */
    public void send(int request, int flags, byte[] payload, int[] passFds) {
        if (payload.length > VhostUser.MAX_PAYLOAD) {
            throw new IllegalArgumentException("payload of " + payload.length + " bytes");
        }
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(VhostUser.HEADER_SIZE + payload.length, 8);
            out.set(U32, 0, request);
            out.set(U32, 4, flags);
            out.set(U32, 8, payload.length);
            MemorySegment.copy(payload, 0, out, ValueLayout.JAVA_BYTE, VhostUser.HEADER_SIZE, payload.length);
            Native.sendmsg(fd, out, out.byteSize(), passFds);
        }
    }

    /** Sends raw bytes (tests of malformed input). */
    void sendRaw(byte[] bytes, int[] passFds) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocateFrom(ValueLayout.JAVA_BYTE, bytes);
            Native.sendmsg(fd, out, out.byteSize(), passFds);
        }
    }

    /** Reads a reply (front-end side, for tests): header then payload; null at end of stream. */
    Message readReply() {
        long got = fill(0, VhostUser.HEADER_SIZE);
        if (got < VhostUser.HEADER_SIZE) {
            return null;
        }
        int request = buf.get(U32, 0);
        int flags = buf.get(U32, 4);
        int size = buf.get(U32, 8);
        if (size < 0 || size > VhostUser.MAX_PAYLOAD || fill(VhostUser.HEADER_SIZE, size) < size) {
            return null;
        }
        return new Message(request, flags, buf.asSlice(VhostUser.HEADER_SIZE, size).toArray(ValueLayout.JAVA_BYTE),
                fds.take());
    }

    /** Wakes a blocked read (from another thread); the owner still calls {@link #close}. */
    public void shutdown() {
        if (!closed) {
            Native.shutdown(fd);
        }
    }

    @Override
    public synchronized void close() {
        if (!closed) {
            closed = true;
            Native.shutdown(fd);
            Native.close(fd);
            fds.closeAll();
        }
    }
}
