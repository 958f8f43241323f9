package dev.vnet.testkit.net;

import java.util.Arrays;

/**
 * The demo guest's whole network stack: one IPv4 address on one MAC, answering ARP requests for it
 * (RFC 826) and ICMP echo requests to it (RFC 792). Everything else is ignored. Stateless and
 * thread-safe; counts what it answered.
 */
public final class GuestResponder {

    private final byte[] mac;
    private final byte[] ip;
    private volatile long arpReplies;
    private volatile long echoReplies;

    public GuestResponder(byte[] mac, byte[] ip) {
        this.mac = mac.clone();
        this.ip = ip.clone();
    }

    /** The reply to {@code frame}, or null if it is not an ARP request or echo request for us. */
    public byte[] answer(byte[] frame) {
        int type = Frames.ethertype(frame);
        if (type == Frames.ETHERTYPE_ARP) {
            return arp(frame);
        }
        if (type == Frames.ETHERTYPE_IPV4) {
            return echo(frame);
        }
        return null;
    }

    private byte[] arp(byte[] f) {
        int a = Frames.ETH_HLEN;
        if (f.length < a + 28 || Frames.u16(f, a) != 1 || Frames.u16(f, a + 2) != Frames.ETHERTYPE_IPV4
                || f[a + 4] != 6 || f[a + 5] != 4 || Frames.u16(f, a + 6) != 1
                || !Arrays.equals(f, a + 24, a + 28, ip, 0, 4)) {
            return null;
        }
        byte[] senderMac = Arrays.copyOfRange(f, a + 8, a + 14);
        byte[] senderIp = Arrays.copyOfRange(f, a + 14, a + 18);
        byte[] reply = new byte[Frames.ETH_HLEN + 28];
        System.arraycopy(senderMac, 0, reply, 0, 6);
        System.arraycopy(mac, 0, reply, 6, 6);
        Frames.putU16(reply, 12, Frames.ETHERTYPE_ARP);
        System.arraycopy(f, a, reply, a, 6); // htype, ptype, hlen, plen
        Frames.putU16(reply, a + 6, 2);
        System.arraycopy(mac, 0, reply, a + 8, 6);
        System.arraycopy(ip, 0, reply, a + 14, 4);
        System.arraycopy(senderMac, 0, reply, a + 18, 6);
        System.arraycopy(senderIp, 0, reply, a + 24, 4);
        arpReplies++;
        return reply;
    }

    private byte[] echo(byte[] f) {
        int i = Frames.ETH_HLEN;
        if (f.length < i + 20 || (f[i] & 0xF0) != 0x40) {
            return null;
        }
        int ihl = (f[i] & 0xF) * 4;
        int total = Frames.u16(f, i + 2);
        if (ihl < 20 || total < ihl + 8 || i + total > f.length || f[i + 9] != Frames.IPPROTO_ICMP
                || !Arrays.equals(f, i + 16, i + 20, ip, 0, 4) || f[i + ihl] != 8
                || InetChecksum.of(f, i, ihl) != 0 || (Frames.u16(f, i + 6) & 0x3FFF) != 0) {
            return null;
        }
        byte[] icmp = Arrays.copyOfRange(f, i + ihl, i + total);
        if (InetChecksum.of(icmp, 0, icmp.length) != 0) {
            return null;
        }
        icmp[0] = 0; // echo reply
        Frames.putU16(icmp, 2, 0);
        Frames.putU16(icmp, 2, InetChecksum.of(icmp, 0, icmp.length));
        byte[] src = Arrays.copyOfRange(f, i + 12, i + 16);
        echoReplies++;
        return Frames.ethernet(Frames.source(f), mac, Frames.ETHERTYPE_IPV4,
                Frames.ipv4(ip, src, Frames.IPPROTO_ICMP, icmp, Frames.u16(f, i + 4)));
    }

    public long arpReplies() {
        return arpReplies;
    }

    public long echoReplies() {
        return echoReplies;
    }
}
