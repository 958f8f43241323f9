package dev.vnet.testkit.net;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Arrays;
import org.junit.jupiter.api.Test;

class GuestResponderTest {

    private static final byte[] GUEST_MAC = {0x52, 0x54, 0, 0x12, 0x34, 0x56};
    private static final byte[] HOST_MAC = {0x02, 0, 0, 0, 0, 1};
    private static final byte[] GUEST_IP = Frames.ip("10.77.0.2");
    private static final byte[] HOST_IP = Frames.ip("10.77.0.1");
    private final GuestResponder guest = new GuestResponder(GUEST_MAC, GUEST_IP);

    @Test
    void arpRequestForOurAddressGetsAReplyWithOurMac() {
        byte[] reply = guest.answer(Frames.arpRequest(HOST_MAC, HOST_IP, GUEST_IP));
        assertThat(reply).isNotNull();
        assertThat(Frames.destination(reply)).isEqualTo(HOST_MAC);
        assertThat(Frames.ethertype(reply)).isEqualTo(Frames.ETHERTYPE_ARP);
        assertThat(Frames.u16(reply, 14 + 6)).isEqualTo(2);
        assertThat(Arrays.copyOfRange(reply, 14 + 8, 14 + 14)).isEqualTo(GUEST_MAC);
        assertThat(Arrays.copyOfRange(reply, 14 + 24, 14 + 28)).isEqualTo(HOST_IP);
        assertThat(guest.arpReplies()).isEqualTo(1);
    }

    @Test
    void arpForAnotherAddressIsIgnored() {
        assertThat(guest.answer(Frames.arpRequest(HOST_MAC, HOST_IP, Frames.ip("10.77.0.9")))).isNull();
    }

    @Test
    void echoRequestGetsAnEchoReplyWithValidChecksums() {
        byte[] req = Frames.icmpEcho(GUEST_MAC, HOST_MAC, HOST_IP, GUEST_IP, 0x1234, 7, "ping!".getBytes());
        byte[] reply = guest.answer(req);
        assertThat(reply).isNotNull();
        assertThat(Frames.destination(reply)).isEqualTo(HOST_MAC);
        assertThat(InetChecksum.of(reply, 14, 20)).isZero();
        assertThat(reply[14 + 20]).isZero();
        assertThat(InetChecksum.of(reply, 34, reply.length - 34)).isZero();
        assertThat(Arrays.copyOfRange(reply, 14 + 16, 14 + 20)).isEqualTo(HOST_IP);
        assertThat(Arrays.copyOfRange(reply, reply.length - 5, reply.length)).isEqualTo("ping!".getBytes());
    }

    @Test
    void corruptedEchoRequestIsIgnored() {
        byte[] req = Frames.icmpEcho(GUEST_MAC, HOST_MAC, HOST_IP, GUEST_IP, 1, 1, new byte[8]);
        req[req.length - 1] ^= 1;
        assertThat(guest.answer(req)).isNull();
        assertThat(guest.answer(new byte[10])).isNull();
    }

    @Test
    void udpFramesCarryCompleteOrPartialChecksums() {
        byte[] full = Frames.udp(GUEST_MAC, HOST_MAC, HOST_IP, GUEST_IP, 1000, 2000, "data".getBytes(), false);
        assertThat(Frames.udpChecksumValid(full)).isTrue();
        byte[] partial = Frames.udp(GUEST_MAC, HOST_MAC, HOST_IP, GUEST_IP, 1000, 2000, "data".getBytes(), true);
        assertThat(Frames.udpChecksumValid(partial)).isFalse();
    }
}
