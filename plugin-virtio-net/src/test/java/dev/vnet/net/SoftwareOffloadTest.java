package dev.vnet.net;

import static org.assertj.core.api.Assertions.assertThat;

import dev.vnet.net.harness.Frames;
import dev.vnet.spi.SegmentList;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Checksum sums over scattered ranges and TSO/USO segmentation, checked with an independent checksum. */
class SoftwareOffloadTest {

    @ParameterizedTest(name = "ranges cut at {0} and {1}: scattered sum equals contiguous sum")
    @CsvSource({"1, 2", "3, 7", "10, 11", "0, 33", "5, 5"})
    void scatteredSumMatchesContiguousSum(int cut1, int cut2) {
        byte[] data = Frames.ethernet(Frames.DEVICE_MAC, Frames.OTHER_MAC, 101, 4);
        MemorySegment seg = Arena.ofAuto().allocate(data.length);
        MemorySegment.copy(data, 0, seg, ValueLayout.JAVA_BYTE, 0, data.length);
        SegmentList list = new SegmentList(4);
        list.add(seg, 0, cut1);
        list.add(seg, cut1, cut2 - cut1);
        list.add(seg, cut2, data.length - cut2);
        for (int from : new int[] {0, 1, 14, 33}) {
            assertThat(SoftwareOffload.fold(SoftwareOffload.sum(list, from, data.length - from)))
                    .isEqualTo(Frames.fold(Frames.sum(data, from, data.length - from)));
        }
    }

    @Test
    void completeChecksumMakesAPartialUdpChecksumValid() {
        byte[] f = Frames.udp4Partial(Frames.DEVICE_MAC, Frames.OTHER_MAC, 333, 1);
        MemorySegment s = MemorySegment.ofArray(f);
        assertThat(SoftwareOffload.completeChecksum(s, 0, f.length, 34, 6)).isTrue();
        assertThat(Frames.l4ChecksumValid(f)).isTrue();
        assertThat(SoftwareOffload.completeChecksum(s, 0, f.length, f.length - 1, 0)).as("field past the end").isFalse();
    }

    @Test
    void usoSplitsAUdpSuperFrameIntoDatagrams() {
        byte[] f = Frames.udp4Partial(Frames.DEVICE_MAC, Frames.OTHER_MAC, 2500, 2);
        List<byte[]> out = segment(f, NetHeader.VIRTIO_NET_HDR_GSO_UDP_L4, 1000);
        assertThat(out).hasSize(3);
        int at = 42;
        for (byte[] seg : out) {
            assertThat(Frames.ipChecksumValid(seg)).isTrue();
            assertThat(Frames.l4ChecksumValid(seg)).isTrue();
            int udpLen = ((seg[38] & 0xFF) << 8) | (seg[39] & 0xFF);
            assertThat(udpLen).isEqualTo(seg.length - 34);
            assertThat(Arrays.copyOfRange(seg, 42, seg.length)).isEqualTo(Arrays.copyOfRange(f, at, at + seg.length - 42));
            at += seg.length - 42;
        }
        assertThat(at).isEqualTo(f.length);
    }

    @Test
    void tsoAdvancesSequenceNumbersAndKeepsPshOnTheLastSegmentOnly() {
        byte[] f = Frames.tcp4Partial(Frames.DEVICE_MAC, Frames.OTHER_MAC, 3000, 3);
        List<byte[]> out = segment(f, NetHeader.VIRTIO_NET_HDR_GSO_TCPV4, 1448);
        assertThat(out).hasSize(3);
        for (int i = 0; i < out.size(); i++) {
            byte[] seg = out.get(i);
            int seq = ((seg[38] & 0xFF) << 24) | ((seg[39] & 0xFF) << 16) | ((seg[40] & 0xFF) << 8) | (seg[41] & 0xFF);
            assertThat(seq).isEqualTo(1000 + 1448 * i);
            assertThat((seg[47] & 0x08) != 0).as("PSH on segment %d", i).isEqualTo(i == 2);
            assertThat(Frames.l4ChecksumValid(seg)).isTrue();
            int id = ((seg[18] & 0xFF) << 8) | (seg[19] & 0xFF);
            assertThat(id).isEqualTo(7 + i);
        }
    }

    @Test
    void ufoAndMismatchedTypesAreRefused() {
        byte[] udp = Frames.udp4Partial(Frames.DEVICE_MAC, Frames.OTHER_MAC, 2500, 2);
        assertThat(segmentCount(udp, NetHeader.VIRTIO_NET_HDR_GSO_UDP, 1000)).isEqualTo(-1);
        assertThat(segmentCount(udp, NetHeader.VIRTIO_NET_HDR_GSO_TCPV4, 1000)).isEqualTo(-1);
        assertThat(segmentCount(udp, NetHeader.VIRTIO_NET_HDR_GSO_UDP_L4, 0)).isEqualTo(-1);
        byte[] tcp = Frames.tcp4Partial(Frames.DEVICE_MAC, Frames.OTHER_MAC, 100, 2);
        assertThat(segmentCount(tcp, NetHeader.VIRTIO_NET_HDR_GSO_TCPV6, 50)).isEqualTo(-1);
    }

    private static List<byte[]> segment(byte[] f, int type, int size) {
        List<byte[]> out = new ArrayList<>();
        MemorySegment scratch = MemorySegment.ofArray(new byte[NetHeader.MAX_BUFFER_LEN]);
        int n = SoftwareOffload.segment(MemorySegment.ofArray(f), 0, f.length, type, size, scratch, (b, o, l) -> {
            out.add(b.asSlice(o + NetHeader.SIZE, l - NetHeader.SIZE).toArray(ValueLayout.JAVA_BYTE));
            return true;
        });
        assertThat(n).isEqualTo(out.size());
        return out;
    }

    private static int segmentCount(byte[] f, int type, int size) {
        MemorySegment scratch = MemorySegment.ofArray(new byte[NetHeader.MAX_BUFFER_LEN]);
        return SoftwareOffload.segment(MemorySegment.ofArray(f), 0, f.length, type, size, scratch, (b, o, l) -> true);
    }
}
