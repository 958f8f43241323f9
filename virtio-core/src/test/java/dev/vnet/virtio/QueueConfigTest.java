package dev.vnet.virtio;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.vnet.testkit.FakeGuestMemory;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Queue layouts the driver may program and the ones {@link Virtqueue#open} refuses. */
class QueueConfigTest {

    private final FakeGuestMemory mem = FakeGuestMemory.standard();
    private final long desc = mem.alloc(16 * 256, 4096);
    private final long avail = mem.alloc(6 + 2 * 256, 4096);
    private final long used = mem.alloc(6 + 8 * 256, 4096);

    @AfterEach
    void close() {
        mem.close();
    }

    private void open(int size, long d, long a, long u) throws VirtqueueException {
        Virtqueue.open(0, new QueueConfig(size, d, a, u), 256, mem.memory(), 0, r -> { });
    }

    @Test
    void wellFormedQueueOpens() throws VirtqueueException {
        open(256, desc, avail, used);
        open(1, desc, avail, used);
    }

    @Test
    void queueSizeZeroIsRefused() {
        assertThatThrownBy(() -> open(0, desc, avail, used)).hasMessageContaining("queue size 0");
    }

    @ParameterizedTest(name = "size {0}")
    @ValueSource(ints = {3, 100, 255, -2})
    void queueSizeNotAPowerOfTwoIsRefused(int size) {
        assertThatThrownBy(() -> open(size, desc, avail, used)).hasMessageContaining("not a power of two");
    }

    @Test
    void queueSizeAboveTheMaximumIsRefused() {
        assertThatThrownBy(() -> open(512, desc, avail, used)).hasMessageContaining("above the maximum 256");
        assertThat(QueueConfig.sizeProblem(65536, 65536)).contains("above the maximum 32768");
    }

    @Test
    void misalignedRingsAreRefused() {
        assertThatThrownBy(() -> open(256, desc + 8, avail, used)).hasMessageContaining("misaligned");
        assertThatThrownBy(() -> open(256, desc, avail + 1, used)).hasMessageContaining("misaligned");
        assertThatThrownBy(() -> open(256, desc, avail, used + 2)).hasMessageContaining("misaligned");
    }

    @Test
    void ringsOutsideRamAreRefused() {
        long end = 0x10_0000L + (16L << 20);
        assertThatThrownBy(() -> open(256, 0, avail, used)).hasMessageContaining("descriptor table");
        assertThatThrownBy(() -> open(256, desc, end - 16, used)).hasMessageContaining("available ring");
        assertThatThrownBy(() -> open(256, desc, avail, end)).hasMessageContaining("used ring");
        assertThatThrownBy(() -> open(256, desc, avail, -4096)).hasMessageContaining("used ring");
    }
}
