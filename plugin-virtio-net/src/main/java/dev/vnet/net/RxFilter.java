package dev.vnet.net;

import dev.vnet.spi.MacAddress;
import dev.vnet.spi.SegmentList;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * The receive filter the control queue programs (virtio 1.2, 5.1.6.5.1 and 5.1.6.5.3), with QEMU's
 * {@code receive_filter} semantics: promiscuous accepts everything; a VLAN-tagged frame needs its VID in
 * the 4096-bit filter; broadcast passes unless NOBCAST; other multicast fails with NOMULTI, passes with
 * ALLMULTI or a multicast table that overflowed, else needs a table entry; unicast fails with NOUNI,
 * passes with ALLUNI or an overflowed unicast table, else must be the device MAC or in the table.
 *
 * <p>State is an immutable snapshot behind a volatile reference: the control worker publishes a new one
 * (allocation is fine there), RX workers read it per frame without locking or allocating.
 */
final class RxFilter {

    /** QEMU's MAC_TABLE_ENTRIES: unicast and multicast entries share 64 slots. */
    static final int MAC_TABLE_ENTRIES = 64;
    static final int MAX_VLAN = 4096;
    private static final long BROADCAST = 0xFFFF_FFFF_FFFFL;
    /** 802.1Q TPID (IEEE 802.1Q). */
    private static final int ETH_P_8021Q = 0x8100;
    /** Destination, source, TPID and TCI: the bytes the filter may look at. */
    private static final int TAGGED_HEADER = 16;
    private static final ValueLayout.OfInt BE32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);
    private static final ValueLayout.OfShort BE16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);

    /** One published filter configuration. */
    record State(boolean promisc, boolean allmulti, boolean alluni, boolean nomulti, boolean nouni, boolean nobcast,
                 long mac, long[] uni, long[] multi, boolean uniOverflow, boolean multiOverflow, long[] vlans) {
    }

    private volatile State state;

    RxFilter(MacAddress mac, boolean vlanFiltering) {
        reset(mac, vlanFiltering);
    }

    /**
     * Power-on state as QEMU's reset: promiscuous (a driver without CTRL_RX gets everything), empty
     * tables; the VLAN filter passes everything unless the driver negotiated CTRL_VLAN.
     */
    void reset(MacAddress mac, boolean vlanFiltering) {
        long[] vlans = new long[MAX_VLAN / 64];
        if (!vlanFiltering) {
            Arrays.fill(vlans, -1L);
        }
        state = new State(true, false, false, false, false, false, mac.value(), new long[0], new long[0], false,
                false, vlans);
    }

    State state() {
        return state;
    }

    /** RX mode commands (VIRTIO_NET_CTRL_RX_*). */
    synchronized void setMode(int command, boolean on) {
        State s = state;
        state = switch (command) {
            case ControlQueue.VIRTIO_NET_CTRL_RX_PROMISC -> new State(on, s.allmulti, s.alluni, s.nomulti, s.nouni,
                    s.nobcast, s.mac, s.uni, s.multi, s.uniOverflow, s.multiOverflow, s.vlans);
            case ControlQueue.VIRTIO_NET_CTRL_RX_ALLMULTI -> new State(s.promisc, on, s.alluni, s.nomulti, s.nouni,
                    s.nobcast, s.mac, s.uni, s.multi, s.uniOverflow, s.multiOverflow, s.vlans);
            case ControlQueue.VIRTIO_NET_CTRL_RX_ALLUNI -> new State(s.promisc, s.allmulti, on, s.nomulti, s.nouni,
                    s.nobcast, s.mac, s.uni, s.multi, s.uniOverflow, s.multiOverflow, s.vlans);
            case ControlQueue.VIRTIO_NET_CTRL_RX_NOMULTI -> new State(s.promisc, s.allmulti, s.alluni, on, s.nouni,
                    s.nobcast, s.mac, s.uni, s.multi, s.uniOverflow, s.multiOverflow, s.vlans);
            case ControlQueue.VIRTIO_NET_CTRL_RX_NOUNI -> new State(s.promisc, s.allmulti, s.alluni, s.nomulti, on,
                    s.nobcast, s.mac, s.uni, s.multi, s.uniOverflow, s.multiOverflow, s.vlans);
            case ControlQueue.VIRTIO_NET_CTRL_RX_NOBCAST -> new State(s.promisc, s.allmulti, s.alluni, s.nomulti,
                    s.nouni, on, s.mac, s.uni, s.multi, s.uniOverflow, s.multiOverflow, s.vlans);
            default -> throw new IllegalArgumentException("rx command " + command);
        };
    }

    /** MAC_TABLE_SET, already parsed; an overflowing list is passed as null. */
    synchronized void setTables(long[] uni, long[] multi) {
        State s = state;
        state = new State(s.promisc, s.allmulti, s.alluni, s.nomulti, s.nouni, s.nobcast, s.mac,
                uni == null ? new long[0] : uni, multi == null ? new long[0] : multi, uni == null, multi == null,
                s.vlans);
    }

    synchronized void setMac(MacAddress mac) {
        State s = state;
        state = new State(s.promisc, s.allmulti, s.alluni, s.nomulti, s.nouni, s.nobcast, mac.value(), s.uni, s.multi,
                s.uniOverflow, s.multiOverflow, s.vlans);
    }

    synchronized void setVlan(int vid, boolean on) {
        State s = state;
        long[] vlans = s.vlans.clone();
        if (on) {
            vlans[vid >>> 6] |= 1L << (vid & 63);
        } else {
            vlans[vid >>> 6] &= ~(1L << (vid & 63));
        }
        state = new State(s.promisc, s.allmulti, s.alluni, s.nomulti, s.nouni, s.nobcast, s.mac, s.uni, s.multi,
                s.uniOverflow, s.multiOverflow, vlans);
    }

    /**
     * Whether the frame starting {@code at} bytes into {@code frame} passes. Reads the destination MAC and
     * the ethertype/TCI only; allocates nothing.
     */
    boolean accept(SegmentList frame, long at) {
        State s = state;
        if (s.promisc) {
            return true;
        }
        if (frame.count() == 0 || frame.length(0) < at + TAGGED_HEADER) {
            return acceptSplit(s, frame, at);
        }
        // The usual case, the Ethernet header inside the first range. The destination is read as 4 + 2
        // bytes, not as one 8-byte load: behind a 12-byte vnet header, one load would span two of the
        // 8-byte stores that just copied the frame in, and a load that no single store covers waits until
        // the stores reach the cache, which for a line the driver's core holds is a cross-core round trip.
        MemorySegment first = frame.segment(0);
        long off = frame.offset(0) + at;
        long dst = (Integer.toUnsignedLong(first.get(BE32, off)) << 16) | Short.toUnsignedInt(first.get(BE16, off + 4));
        return passes(s, dst, Short.toUnsignedInt(first.get(BE16, off + 12)),
                Short.toUnsignedInt(first.get(BE16, off + 14)));
    }

    /** {@link #accept} for an Ethernet header spread over ranges, read byte by byte. */
    private static boolean acceptSplit(State s, SegmentList frame, long at) {
        long dst = 0;
        for (int i = 0; i < 6; i++) {
            dst = (dst << 8) | (frame.byteAt(at + i) & 0xFF);
        }
        int type = (frame.byteAt(at + 12) << 8) | frame.byteAt(at + 13);
        int tci = (frame.byteAt(at + 14) << 8) | frame.byteAt(at + 15);
        return passes(s, dst, type, tci);
    }

    /** The filter's decision for destination {@code dst}, ethertype {@code type} and VLAN {@code tci}. */
    private static boolean passes(State s, long dst, int type, int tci) {
        if (type == ETH_P_8021Q) {
            int vid = tci & 0xFFF;
            if ((s.vlans[vid >>> 6] & (1L << (vid & 63))) == 0) {
                return false;
            }
        }
        if ((dst & (1L << 40)) != 0) {
            if (dst == BROADCAST) {
                return !s.nobcast;
            }
            if (s.nomulti) {
                return false;
            }
            if (s.allmulti || s.multiOverflow) {
                return true;
            }
            return contains(s.multi, dst);
        }
        if (s.nouni) {
            return false;
        }
        if (s.alluni || s.uniOverflow || dst == s.mac) {
            return true;
        }
        return contains(s.uni, dst);
    }

    private static boolean contains(long[] table, long mac) {
        for (long m : table) {
            if (m == mac) {
                return true;
            }
        }
        return false;
    }
}
