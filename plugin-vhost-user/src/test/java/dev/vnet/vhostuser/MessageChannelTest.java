package dev.vnet.vhostuser;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Framing over a real socketpair: header checks, sizes, descriptors passed with SCM_RIGHTS. */
class MessageChannelTest {

    private MessageChannel frontEnd;
    private MessageChannel backEnd;

    @BeforeEach
    void pair() {
        int[] fds = Native.socketpair();
        frontEnd = new MessageChannel(fds[0]);
        backEnd = new MessageChannel(fds[1]);
    }

    @AfterEach
    void close() {
        frontEnd.close();
        backEnd.close();
    }

    private static byte[] header(int request, int flags, int size) {
        return ByteBuffer.allocate(12).order(ByteOrder.LITTLE_ENDIAN).putInt(request).putInt(flags).putInt(size).array();
    }

    @Test
    void readsPayloadAndDescriptors() throws Exception {
        int efd = Native.eventfd(false);
        frontEnd.send(VhostUser.SET_VRING_CALL, VhostUser.VERSION | VhostUser.FLAG_NEED_REPLY, Message.u64Payload(3),
                new int[] {efd});
        Native.close(efd);
        Message m = backEnd.read();
        assertThat(m.request()).isEqualTo(VhostUser.SET_VRING_CALL);
        assertThat(m.needsReply()).isTrue();
        assertThat(m.u64()).isEqualTo(3);
        assertThat(m.fds()).hasSize(1);
        // The received descriptor is a live eventfd of our own.
        assertThat(Native.signal(m.fds()[0])).isTrue();
        assertThat(Native.drain(m.fds()[0])).isEqualTo(1);
        Native.close(m.fds()[0]);
    }

    @Test
    void passesSeveralDescriptorsInOrder() throws Exception {
        int[] efds = {Native.eventfd(false), Native.eventfd(false), Native.eventfd(false)};
        frontEnd.send(VhostUser.SET_MEM_TABLE, VhostUser.VERSION, new byte[8], efds);
        Message m = backEnd.read();
        assertThat(m.fds()).hasSize(3);
        for (int i = 0; i < 3; i++) {
            Native.signal(efds[i]);
            assertThat(Native.drain(m.fds()[i])).isEqualTo(1);
            Native.close(efds[i]);
            Native.close(m.fds()[i]);
        }
    }

    @Test
    void endOfStreamBetweenMessagesIsNull() throws Exception {
        frontEnd.close();
        assertThat(backEnd.read()).isNull();
    }

    @Test
    void rejectsWrongVersion() {
        frontEnd.sendRaw(header(VhostUser.GET_FEATURES, 0x2, 0), new int[0]);
        assertThatThrownBy(backEnd::read).isInstanceOf(ProtocolException.class).hasMessageContaining("version");
    }

    @Test
    void rejectsReplyFlagFromFrontEnd() {
        frontEnd.sendRaw(header(VhostUser.GET_FEATURES, VhostUser.VERSION | VhostUser.FLAG_REPLY, 0), new int[0]);
        assertThatThrownBy(backEnd::read).isInstanceOf(ProtocolException.class).hasMessageContaining("reply");
    }

    @Test
    void rejectsOversizedPayload() {
        frontEnd.sendRaw(header(VhostUser.SET_MEM_TABLE, VhostUser.VERSION, VhostUser.MAX_PAYLOAD + 1), new int[0]);
        assertThatThrownBy(backEnd::read).isInstanceOf(ProtocolException.class).hasMessageContaining("payload size");
        frontEnd.sendRaw(header(VhostUser.SET_MEM_TABLE, VhostUser.VERSION, -1), new int[0]);
        assertThatThrownBy(backEnd::read).isInstanceOf(ProtocolException.class);
    }

    @Test
    void rejectsPayloadCutShortAndClosesItsDescriptors() throws Exception {
        int efd = Native.eventfd(false);
        frontEnd.sendRaw(header(VhostUser.SET_VRING_KICK, VhostUser.VERSION, 8), new int[] {efd});
        Native.close(efd);
        frontEnd.sendRaw(new byte[3], new int[0]);
        frontEnd.close();
        int before = openFds();
        assertThatThrownBy(backEnd::read).isInstanceOf(ProtocolException.class).hasMessageContaining("payload");
        assertThat(openFds()).isLessThanOrEqualTo(before); // the in-flight descriptor was closed, not kept
    }

    @Test
    void rejectsHeaderCutShort() {
        frontEnd.sendRaw(new byte[5], new int[0]);
        frontEnd.close();
        assertThatThrownBy(backEnd::read).isInstanceOf(ProtocolException.class).hasMessageContaining("header");
    }

    @Test
    void replySetsTheReplyFlag() {
        backEnd.reply(VhostUser.GET_FEATURES, Message.u64Payload(42));
        Message r = frontEnd.readReply();
        assertThat(r.request()).isEqualTo(VhostUser.GET_FEATURES);
        assertThat(r.flags()).isEqualTo(VhostUser.VERSION | VhostUser.FLAG_REPLY);
        assertThat(r.buffer().getLong(0)).isEqualTo(42);
    }

    static int openFds() throws Exception {
        try (var s = Files.list(Path.of("/proc/self/fd"))) {
            return (int) s.count();
        }
    }
}
