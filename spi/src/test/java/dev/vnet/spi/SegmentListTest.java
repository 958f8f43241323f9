package dev.vnet.spi;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.junit.jupiter.api.Test;

class SegmentListTest {

    @Test
    void gatherAndScatterCrossRangeBoundaries() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment a = arena.allocate(4);
            MemorySegment b = arena.allocate(8);
            SegmentList list = new SegmentList(4);
            assertThat(list.add(a, 1, 3)).isTrue();
            assertThat(list.add(b, 0, 0)).as("empty ranges are dropped").isTrue();
            assertThat(list.add(b, 2, 5)).isTrue();
            assertThat(list.count()).isEqualTo(2);
            assertThat(list.totalLength()).isEqualTo(8);

            MemorySegment src = MemorySegment.ofArray(new byte[] {1, 2, 3, 4, 5, 6, 7, 8});
            assertThat(list.copyFrom(src, 0, 0, 8)).isEqualTo(8);
            assertThat(a.get(ValueLayout.JAVA_BYTE, 1)).isEqualTo((byte) 1);
            assertThat(b.get(ValueLayout.JAVA_BYTE, 2)).isEqualTo((byte) 4);
            assertThat(list.byteAt(3)).isEqualTo(4);
            assertThat(list.byteAt(8)).isEqualTo(-1);

            MemorySegment dst = MemorySegment.ofArray(new byte[8]);
            assertThat(list.copyTo(2, dst, 0, 100)).isEqualTo(6);
            assertThat(dst.toArray(ValueLayout.JAVA_BYTE)).startsWith(3, 4, 5, 6, 7, 8);
            assertThat(list.address(1)).isEqualTo(b.address() + 2);
        }
    }

    @Test
    void rangesOutsideTheSegmentOrBeyondCapacityAreRefused() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment a = arena.allocate(4);
            SegmentList list = new SegmentList(1);
            assertThat(list.add(a, 2, 3)).isFalse();
            assertThat(list.add(a, -1, 1)).isFalse();
            assertThat(list.add(a, 0, 4)).isTrue();
            assertThat(list.add(a, 0, 1)).as("full").isFalse();
            list.clear();
            assertThat(list.count()).isZero();
            assertThat(list.totalLength()).isZero();
        }
    }

    @Test
    void offloadNamesArePrintable() {
        assertThat(Offloads.toString(Offloads.CSUM | Offloads.TSO4)).isEqualTo("CSUM|TSO4");
        assertThat(Offloads.toString(0)).isEqualTo("none");
    }
}
