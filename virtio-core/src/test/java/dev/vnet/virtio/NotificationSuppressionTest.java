package dev.vnet.virtio;

import static dev.vnet.virtio.QueueFixture.features;
import static dev.vnet.virtio.VirtioFeatures.VIRTIO_F_EVENT_IDX;
import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** 2.7.7 and 2.7.10: who notifies whom, with the ring flags and with EVENT_IDX. */
class NotificationSuppressionTest {

    @Test
    void withoutEventIdxTheDriverSilencesInterruptsWithAvailFlags() {
        try (QueueFixture f = new QueueFixture(16, features())) {
            f.driver.addIn("a", f.buffer(8, 0));
            f.completeAll();
            assertThat(f.queue.needsNotification()).isTrue();
            assertThat(f.queue.needsNotification()).as("nothing new since").isFalse();

            f.driver.getBuf();
            f.driver.disableCb();
            f.driver.addIn("b", f.buffer(8, 0));
            f.completeAll();
            assertThat(f.queue.needsNotification()).as("VRING_AVAIL_F_NO_INTERRUPT").isFalse();

            assertThat(f.driver.enableCb()).as("a buffer was used meanwhile: poll again").isFalse();
            f.driver.getBuf();
            f.driver.addIn("c", f.buffer(8, 0));
            f.completeAll();
            assertThat(f.queue.needsNotification()).isTrue();
        }
    }

    @Test
    void withoutEventIdxTheDeviceSilencesKicksWithUsedFlags() {
        try (QueueFixture f = new QueueFixture(16, features())) {
            f.driver.addIn("a", f.buffer(8, 0));
            assertThat(f.driver.kickPrepare()).isTrue();

            f.queue.disableNotifications();
            assertThat(f.driver.usedFlags()).isEqualTo(DriverQueue_NO_NOTIFY);
            f.driver.addIn("b", f.buffer(8, 0));
            assertThat(f.driver.kickPrepare()).as("VRING_USED_F_NO_NOTIFY").isFalse();

            assertThat(f.queue.enableNotifications()).as("two buffers are waiting").isTrue();
            assertThat(f.driver.usedFlags()).isZero();
            f.completeAll();
            assertThat(f.queue.enableNotifications()).isFalse();
            f.driver.addIn("c", f.buffer(8, 0));
            assertThat(f.driver.kickPrepare()).isTrue();
        }
    }

    @Test
    void withEventIdxTheDriverAsksForAnInterruptAtAChosenUsedIndex() {
        try (QueueFixture f = new QueueFixture(16, features(VIRTIO_F_EVENT_IDX))) {
            for (int i = 0; i < 4; i++) {
                f.driver.addIn(i, f.buffer(8, 0));
            }
            // Linux's virtqueue_enable_cb_delayed style: wake me after the 3rd buffer (used_event = 2).
            f.mem.u16(f.driver.availAddr() + 4 + 2 * 16, 2);
            boolean[] notified = new boolean[4];
            for (int i = 0; i < 4; i++) {
                assertThat(f.queue.pop(f.chain)).isTrue();
                f.queue.addUsed(f.chain, 8);
                f.queue.flushUsed();
                notified[i] = f.queue.needsNotification();
            }
            // The first check always notifies (no previous signal); then only the crossing of used_event.
            assertThat(notified).containsExactly(true, false, true, false);
        }
    }

    @Test
    void withEventIdxAvailFlagsAreIgnored() {
        try (QueueFixture f = new QueueFixture(16, features(VIRTIO_F_EVENT_IDX))) {
            f.driver.addIn("a", f.buffer(8, 0));
            f.mem.u16(f.driver.availAddr(), 1); // NO_INTERRUPT set, but EVENT_IDX rules
            f.completeAll();
            assertThat(f.queue.needsNotification()).isTrue();
        }
    }

    @Test
    void withEventIdxTheDeviceAsksForAKickAtItsNextAvailIndex() {
        try (QueueFixture f = new QueueFixture(16, features(VIRTIO_F_EVENT_IDX))) {
            assertThat(f.queue.enableNotifications()).isFalse();
            assertThat(f.driver.availEvent()).isZero();
            f.driver.addIn("a", f.buffer(8, 0));
            assertThat(f.driver.kickPrepare()).isTrue();
            f.driver.addIn("b", f.buffer(8, 0));
            assertThat(f.driver.kickPrepare()).as("avail_event still 0: already kicked for it").isFalse();

            f.queue.disableNotifications(); // a no-op with EVENT_IDX: the device just does not re-arm
            assertThat(f.driver.usedFlags()).isZero();
            assertThat(f.completeAll()).isEqualTo(2);
            assertThat(f.queue.enableNotifications()).isFalse();
            assertThat(f.driver.availEvent()).isEqualTo(2);
            f.driver.addIn("c", f.buffer(8, 0));
            assertThat(f.driver.kickPrepare()).isTrue();
        }
    }

    @Test
    void enablingNotificationsRechecksForBuffersThatRacedIn() {
        try (QueueFixture f = new QueueFixture(16, features(VIRTIO_F_EVENT_IDX))) {
            f.driver.addIn("a", f.buffer(8, 0));
            assertThat(f.queue.enableNotifications()).isTrue();
        }
    }

    private static final int DriverQueue_NO_NOTIFY = dev.vnet.testkit.DriverQueue.USED_F_NO_NOTIFY;
}
