package dev.vnet.spi;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class GuestMemoryMapTest {

    private final Arena arena = Arena.ofConfined();
    private final GuestRegion low = new GuestRegion(0x1000, arena.allocate(0x1000), false);
    private final GuestRegion high = new GuestRegion(0x2000, arena.allocate(0x1000), false);
    private final GuestRegion rom = new GuestRegion(0x10_0000, arena.allocate(0x1000), true);
    private final GuestMemoryMap map = new GuestMemoryMap(List.of(rom, high, low));

    @AfterEach
    void close() {
        arena.close();
    }

    @Test
    void spanInsideARegionResolvesToThatRegion() {
        assertThat(map.region(0x1800, 0x800, Access.WRITE)).isSameAs(low);
        assertThat(map.region(0x2000, 1, Access.READ)).isSameAs(high);
        assertThat(map.contains(0x1000, 0x1000)).isTrue();
    }

    @Test
    void sliceIsAViewOfTheRightBytes() {
        high.segment().set(ValueLayout.JAVA_BYTE, 0x10, (byte) 42);
        MemorySegment s = map.slice(0x2010, 4, Access.READ);
        assertThat(s.byteSize()).isEqualTo(4);
        assertThat(s.get(ValueLayout.JAVA_BYTE, 0)).isEqualTo((byte) 42);
    }

    @Test
    void spanCrossingTwoAdjacentRegionsIsRefused() {
        assertThatThrownBy(() -> map.region(0x1ff0, 0x20, Access.READ))
                .isInstanceOfSatisfying(GuestMemoryException.class,
                        e -> assertThat(e.reason()).isEqualTo(GuestMemoryException.Reason.CROSSES_REGION));
        assertThat(map.contains(0x1ff0, 0x20)).isFalse();
    }

    @Test
    void unmappedAddressIsRefused() {
        assertThatThrownBy(() -> map.region(0x5000, 1, Access.READ))
                .isInstanceOfSatisfying(GuestMemoryException.class,
                        e -> assertThat(e.reason()).isEqualTo(GuestMemoryException.Reason.UNMAPPED));
        assertThat(map.contains(0, 1)).isFalse();
    }

    @Test
    void wrappingOrNegativeLengthIsRefused() {
        assertThatThrownBy(() -> map.region(0x1000, -1, Access.READ))
                .isInstanceOfSatisfying(GuestMemoryException.class,
                        e -> assertThat(e.reason()).isEqualTo(GuestMemoryException.Reason.OVERFLOW));
        assertThatThrownBy(() -> map.region(-8, 16, Access.READ))
                .isInstanceOfSatisfying(GuestMemoryException.class,
                        e -> assertThat(e.reason()).isEqualTo(GuestMemoryException.Reason.OVERFLOW));
        assertThat(map.contains(0x1000, Long.MAX_VALUE)).isFalse();
    }

    @Test
    void writeToReadOnlyRegionIsRefusedButReadIsAllowed() {
        assertThat(map.region(0x10_0000, 16, Access.READ)).isSameAs(rom);
        assertThatThrownBy(() -> map.region(0x10_0000, 16, Access.WRITE))
                .isInstanceOfSatisfying(GuestMemoryException.class,
                        e -> assertThat(e.reason()).isEqualTo(GuestMemoryException.Reason.READ_ONLY));
    }

    @Test
    void overlappingRegionsAreRejectedAtConstruction() {
        GuestRegion overlap = new GuestRegion(0x1800, arena.allocate(0x1000), false);
        assertThatThrownBy(() -> GuestMemoryMap.of(low, overlap)).hasMessageContaining("overlap");
    }

    @Test
    void heapSegmentsAreNotGuestRam() {
        assertThatThrownBy(() -> new GuestRegion(0, MemorySegment.ofArray(new byte[16]), false))
                .hasMessageContaining("native");
    }

    @Test
    void regionEndingAtTheTopOfTheAddressSpaceIsUsable() {
        GuestRegion top = new GuestRegion(-0x1000L, arena.allocate(0x1000), false);
        GuestMemoryMap m = GuestMemoryMap.of(top);
        assertThat(m.region(-0x10L, 0x10, Access.READ)).isSameAs(top);
        assertThat(m.contains(-0x10L, 0x11)).isFalse();
    }
}
