package dev.vnet.net;

import static org.assertj.core.api.Assertions.assertThat;

import dev.vnet.net.harness.Frames;
import dev.vnet.spi.MacAddress;
import dev.vnet.spi.SegmentList;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;

/**
 * The receive filter reads the Ethernet header with wide loads when it lies in the first range and byte by
 * byte otherwise: both must decide alike, for every way the driver's buffers can cut the header.
 */
class RxFilterLayoutTest {

    private static final long MULTICAST_LISTED = MacAddress.of(Frames.MULTICAST).value();

    @Test
    void wideAndBytewiseHeaderReadsDecideAlikeForEveryCut() {
        Map<String, byte[]> frames = new LinkedHashMap<>();
        frames.put("own unicast", Frames.ethernet(Frames.DEVICE_MAC, Frames.OTHER_MAC, 60, 1));
        frames.put("other unicast", Frames.ethernet(Frames.OTHER_MAC, Frames.PEER_MAC, 60, 2));
        frames.put("broadcast", Frames.ethernet(Frames.BROADCAST, Frames.OTHER_MAC, 60, 3));
        frames.put("listed multicast", Frames.ethernet(Frames.MULTICAST, Frames.OTHER_MAC, 60, 4));
        frames.put("other multicast", Frames.ethernet(new byte[] {0x33, 0x33, 0, 0, 0, 1}, Frames.OTHER_MAC, 60, 5));
        frames.put("vlan 100", Frames.vlanTagged(Frames.DEVICE_MAC, Frames.OTHER_MAC, 100, 60, 6));
        frames.put("vlan 101", Frames.vlanTagged(Frames.DEVICE_MAC, Frames.OTHER_MAC, 101, 60, 7));
        byte[] bare = new byte[14]; // header only: a TPID without the TCI bytes
        System.arraycopy(Frames.DEVICE_MAC, 0, bare, 0, 6);
        bare[12] = (byte) 0x81;
        frames.put("bare tagged header", bare);

        Map<String, Consumer<RxFilter>> states = new LinkedHashMap<>();
        states.put("linux default", f -> f.setMode(ControlQueue.VIRTIO_NET_CTRL_RX_PROMISC, false));
        states.put("vlan filter with 100", f -> {
            f.reset(MacAddress.of(Frames.DEVICE_MAC), true);
            f.setMode(ControlQueue.VIRTIO_NET_CTRL_RX_PROMISC, false);
            f.setVlan(100, true);
        });
        states.put("multicast table, nobcast", f -> {
            f.setMode(ControlQueue.VIRTIO_NET_CTRL_RX_PROMISC, false);
            f.setMode(ControlQueue.VIRTIO_NET_CTRL_RX_NOBCAST, true);
            f.setTables(new long[0], new long[] {MULTICAST_LISTED});
        });
        states.put("nouni", f -> {
            f.setMode(ControlQueue.VIRTIO_NET_CTRL_RX_PROMISC, false);
            f.setMode(ControlQueue.VIRTIO_NET_CTRL_RX_NOUNI, true);
        });

        for (var state : states.entrySet()) {
            RxFilter filter = new RxFilter(MacAddress.of(Frames.DEVICE_MAC), false);
            state.getValue().accept(filter);
            for (var frame : frames.entrySet()) {
                MemorySegment buffer = withHeader(frame.getValue());
                boolean whole = filter.accept(ranges(buffer, buffer.byteSize()), NetHeader.SIZE);
                for (long cut = 1; cut < buffer.byteSize(); cut++) {
                    assertThat(filter.accept(ranges(buffer, cut), NetHeader.SIZE))
                            .as("%s, %s, first range %d bytes", state.getKey(), frame.getKey(), cut).isEqualTo(whole);
                }
            }
        }

        RxFilter linux = new RxFilter(MacAddress.of(Frames.DEVICE_MAC), false);
        linux.setMode(ControlQueue.VIRTIO_NET_CTRL_RX_PROMISC, false);
        assertThat(accepts(linux, frames.get("own unicast"))).isTrue();
        assertThat(accepts(linux, frames.get("other unicast"))).isFalse();
        assertThat(accepts(linux, frames.get("broadcast"))).isTrue();
        assertThat(accepts(linux, frames.get("other multicast"))).isFalse();
        RxFilter vlans = new RxFilter(MacAddress.of(Frames.DEVICE_MAC), true);
        vlans.setMode(ControlQueue.VIRTIO_NET_CTRL_RX_PROMISC, false);
        vlans.setVlan(100, true);
        assertThat(accepts(vlans, frames.get("vlan 100"))).isTrue();
        assertThat(accepts(vlans, frames.get("vlan 101"))).isFalse();
    }

    private static boolean accepts(RxFilter filter, byte[] frame) {
        MemorySegment buffer = withHeader(frame);
        return filter.accept(ranges(buffer, buffer.byteSize()), NetHeader.SIZE);
    }

    private static MemorySegment withHeader(byte[] frame) {
        MemorySegment s = Arena.ofAuto().allocate(NetHeader.SIZE + frame.length);
        MemorySegment.copy(frame, 0, s, ValueLayout.JAVA_BYTE, NetHeader.SIZE, frame.length);
        return s;
    }

    /** The buffer as a first range of {@code cut} bytes and the rest split once more. */
    private static SegmentList ranges(MemorySegment buffer, long cut) {
        SegmentList list = new SegmentList(3);
        long size = buffer.byteSize();
        long second = Math.min(size, cut + 3);
        list.add(buffer, 0, cut);
        list.add(buffer, cut, second - cut);
        list.add(buffer, second, size - second);
        return list;
    }
}
