package dev.vnet.testkit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The driver model behaves like Linux virtio_ring.c (the device side is played by hand here). */
class DriverQueueTest {

    private final FakeGuestMemory mem = FakeGuestMemory.standard();

    @AfterEach
    void close() {
        mem.close();
    }

    private Buffer buf(int len) {
        return new Buffer(mem.alloc(len, 8), len);
    }

    /** Plays the device: returns {@code head} with {@code len} in the used ring. */
    private void deviceUses(DriverQueue q, int head, int len) {
        int idx = q.usedIdx();
        long elem = q.usedAddr() + 4 + 8L * (idx & (q.size() - 1));
        mem.u32(elem, head);
        mem.u32(elem + 4, len);
        mem.u16(q.usedAddr() + 2, idx + 1);
    }

    @Test
    void directChainsConsumeOneDescriptorPerElementUntilEnospc() {
        DriverQueue q = new DriverQueue(mem, 4, false, false);
        assertThat(q.add(List.of(buf(8), buf(8)), List.of(buf(8)), "a")).isEqualTo(0);
        assertThat(q.numFree()).isEqualTo(1);
        assertThat(q.add(List.of(buf(8)), List.of(buf(8)), "b")).as("-ENOSPC").isEqualTo(-28);
        assertThat(q.addOut("c", buf(8))).isEqualTo(3);
        assertThat(q.numFree()).isZero();
        // descriptor 0 chains to 1 then 2, as the free list ordered them
        assertThat(mem.u16(q.descAddr() + 12)).isEqualTo(DriverQueue.F_NEXT);
        assertThat(mem.u16(q.descAddr() + 14)).isEqualTo(1);
        assertThat(mem.u16(q.descAddr() + 16 * 2 + 12)).isEqualTo(DriverQueue.F_WRITE);
    }

    @Test
    void indirectIsUsedOnlyForMoreThanOneElement() {
        DriverQueue q = new DriverQueue(mem, 4, true, false);
        q.addOut("single", buf(8));
        assertThat(mem.u16(q.descAddr() + 12)).isZero();
        int head = q.add(List.of(buf(8)), List.of(buf(8), buf(8)), "multi");
        assertThat(mem.u16(q.descAddr() + 16L * head + 12)).isEqualTo(DriverQueue.F_INDIRECT);
        assertThat(mem.u32(q.descAddr() + 16L * head + 8)).isEqualTo(48);
        assertThat(q.numFree()).isEqualTo(2);
    }

    @Test
    void getBufReturnsDescriptorsToTheFreeListAndPublishesUsedEvent() {
        DriverQueue q = new DriverQueue(mem, 4, false, true);
        int head = q.add(List.of(buf(8), buf(8)), List.of(), "a");
        deviceUses(q, head, 0);
        assertThat(q.getBuf()).isEqualTo(new DriverQueue.Used("a", 0));
        assertThat(q.numFree()).isEqualTo(4);
        assertThat(mem.u16(q.availAddr() + 4 + 2 * 4)).as("used_event").isEqualTo(1);
        assertThat(q.getBuf()).isNull();
        assertThat(q.add(List.of(buf(8), buf(8), buf(8), buf(8)), List.of(), "b")).isEqualTo(head);
    }

    @Test
    void usedIdOutOfRangeOrNotAHeadIsBadRing() {
        DriverQueue q = new DriverQueue(mem, 4, false, false);
        q.add(List.of(buf(8), buf(8)), List.of(), "a");
        deviceUses(q, 9, 0);
        assertThatThrownBy(q::getBuf).hasMessageContaining("id 9 out of range");
        DriverQueue q2 = new DriverQueue(mem, 4, false, false);
        q2.add(List.of(buf(8), buf(8)), List.of(), "a");
        deviceUses(q2, 1, 0);
        assertThatThrownBy(q2::getBuf).hasMessageContaining("id 1 is not a head");
    }

    @Test
    void kickPrepareCountsWhatWasAddedSinceTheLastCall() {
        DriverQueue q = new DriverQueue(mem, 8, false, true);
        q.addOut("a", buf(8));
        q.addOut("b", buf(8));
        // avail_event 0: the device wants a kick when slot 0 is published, which it was.
        assertThat(q.kickPrepare()).isTrue();
        q.addOut("c", buf(8));
        assertThat(q.kickPrepare()).isFalse();
        mem.u16(q.usedAddr() + 4 + 8 * 8, 3); // device re-arms at slot 3
        q.addOut("d", buf(8));
        assertThat(q.kickPrepare()).isTrue();
        assertThat(q.kicksNeeded()).isEqualTo(2);
    }
}
