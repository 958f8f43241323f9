package dev.vnet.spi;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

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

    @ParameterizedTest
    @ValueSource(ints = {1, 7, 8, 9, 55, 56, 57, 63, 64, 65, 76, 119, 120, 127, 128, 129, 300})
    void copiesOfEverySizeMoveExactlyTheirBytes(int n) {
        // Small copies between native segments are split under the JDK's inline-copy size (SegmentList.copy).
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment src = arena.allocate(512);
            for (int i = 0; i < 512; i++) {
                src.set(ValueLayout.JAVA_BYTE, i, (byte) (i * 7 + 3));
            }
            MemorySegment guest = arena.allocate(512);
            SegmentList list = new SegmentList(1);
            list.add(guest, 5, n);
            assertThat(list.copyFrom(src, 3, 0, n)).isEqualTo(n);
            assertThat(guest.get(ValueLayout.JAVA_BYTE, 4)).as("byte before").isZero();
            assertThat(guest.get(ValueLayout.JAVA_BYTE, 5 + n)).as("byte after").isZero();
            assertThat(guest.asSlice(5, n).mismatch(src.asSlice(3, n))).isEqualTo(-1);

            MemorySegment heap = MemorySegment.ofArray(new byte[n + 2]);
            assertThat(list.copyTo(0, heap, 1, n)).isEqualTo(n);
            assertThat(heap.asSlice(1, n).mismatch(src.asSlice(3, n))).isEqualTo(-1);
            assertThat(heap.get(ValueLayout.JAVA_BYTE, n + 1)).isZero();
        }
    }

    @Test
    void overlappingSmallCopiesMoveLikeMemmove() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buffer = arena.allocate(256);
            for (int i = 0; i < 256; i++) {
                buffer.set(ValueLayout.JAVA_BYTE, i, (byte) i);
            }
            SegmentList list = new SegmentList(1);
            list.add(buffer, 10, 100);
            assertThat(list.copyFrom(buffer, 0, 0, 100)).isEqualTo(100); // forwards by 10, overlapping
            for (int i = 0; i < 100; i++) {
                assertThat(buffer.get(ValueLayout.JAVA_BYTE, 10 + i)).isEqualTo((byte) i);
            }
        }
    }

    @Test
    void aSmallCopyFromBeyondTheSourceWritesNothing() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment src = arena.allocate(80);
            src.fill((byte) 1);
            MemorySegment guest = arena.allocate(128);
            SegmentList list = new SegmentList(1);
            list.add(guest, 0, 128);
            assertThatThrownBy(() -> list.copyFrom(src, 8, 0, 76)).isInstanceOf(IndexOutOfBoundsException.class);
            assertThat(guest.asSlice(0, 128).mismatch(arena.allocate(128))).isEqualTo(-1);
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
