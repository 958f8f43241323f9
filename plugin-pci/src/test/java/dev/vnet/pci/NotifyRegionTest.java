package dev.vnet.pci;

import static org.assertj.core.api.Assertions.assertThat;

import dev.vnet.testkit.Buffer;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The notification area (4.1.4.4). */
class NotifyRegionTest {

    @Test
    void kickIsA16BitWriteAtNotifyBasePlusNotifyOffTimesMultiplier() {
        try (Rig rig = new Rig()) {
            rig.driver.initialize(Rig.ALL, 2);
            assertThat(rig.driver.notifyAddress(1)).isEqualTo(rig.driver.notifyBase() + 4);

            rig.driver.kick(1);
            rig.driver.kick(0);
            rig.driver.kick(1);

            assertThat(rig.device.kicks(0)).isEqualTo(1);
            assertThat(rig.device.kicks(1)).isEqualTo(2);
        }
    }

    @Test
    void thirtyTwoBitNotificationDataWriteAlsoKicks() {
        try (Rig rig = new Rig()) {
            rig.driver.initialize(Rig.ALL, 2);
            rig.driver.bus().write(rig.driver.notifyAddress(1), 4, 0x0005_0001L);
            assertThat(rig.device.kicks(1)).isEqualTo(1);
        }
    }

    @Test
    void otherSizesMisalignedOffsetsAndQueuesPastTheEndAreIgnored() {
        try (Rig rig = new Rig()) {
            rig.driver.initialize(Rig.ALL, 2);
            long base = rig.driver.notifyBase();
            rig.driver.bus().write(base, 1, 0);
            rig.driver.bus().write(base, 8, 0);
            rig.driver.bus().write(base + 2, 2, 0);
            rig.driver.bus().write(base + 8, 2, 2);
            rig.driver.bus().write(base + 0xFFC, 2, 0);
            assertThat(rig.driver.bus().read(base, 2)).isZero();
            assertThat(rig.device.kicks(0)).isZero();
            assertThat(rig.device.kicks(1)).isZero();
        }
    }

    @Test
    void kicksBeforeDriverOkAreReplayedAtActivation() {
        try (Rig rig = new Rig()) {
            rig.driver.probe();
            rig.driver.negotiate(Rig.ALL);
            rig.driver.findVqs(2);
            long out = rig.mem.alloc(4, 4);
            long in = rig.mem.alloc(4, 4);
            rig.mem.write(out, new byte[] {1, 2, 3, 4});
            rig.driver.queue(0).add(List.of(new Buffer(out, 4)), List.of(new Buffer(in, 4)), "early");
            rig.driver.kick(0);
            assertThat(rig.device.kicks(0)).isZero();

            rig.driver.driverOk();

            assertThat(rig.device.kicks(0)).isEqualTo(1);
            assertThat(rig.driver.awaitUsed(0, Rig.TIMEOUT)).isNotNull();
            assertThat(rig.mem.read(in, 4)).containsExactly(1, 2, 3, 4);
        }
    }

    @Test
    void kickOfAQueueTheDriverDidNotEnableIsNotForwarded() {
        try (Rig rig = new Rig()) {
            rig.driver.initialize(Rig.ALL, 1); // only queue 0
            rig.driver.bus().write(rig.driver.notifyBase() + 4, 2, 1);
            assertThat(rig.device.kicks(1)).isZero();
            assertThat(rig.device.context().queues()[1]).isNull();
        }
    }
}
