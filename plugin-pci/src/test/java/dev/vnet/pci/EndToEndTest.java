package dev.vnet.pci;

import static dev.vnet.pci.Rig.ALL;
import static dev.vnet.pci.Rig.TIMEOUT;
import static org.assertj.core.api.Assertions.assertThat;

import dev.vnet.testkit.pci.VirtioPciDriver;
import dev.vnet.testkit.pci.VirtioPciDriver.Strategy;
import dev.vnet.virtio.DeviceStatus;
import dev.vnet.virtio.VirtioFeatures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** The Linux probe sequence, unchanged, over each interrupt strategy of vp_find_vqs, carrying real traffic. */
class EndToEndTest {

    private static VirtioPciDriver configure(VirtioPciDriver driver, Strategy wanted) {
        return switch (wanted) {
            case MSIX_PER_VQ -> driver;
            case MSIX_SHARED -> driver.vectorBudget(2);
            case INTX -> driver.vectorBudget(0);
        };
    }

    @ParameterizedTest
    @EnumSource(Strategy.class)
    void linuxProbeThenEchoTrafficOnBothQueues(Strategy wanted) {
        try (Rig rig = new Rig()) {
            Strategy got = configure(rig.driver, wanted).initialize(ALL, 2);

            assertThat(got).isEqualTo(wanted);
            assertThat(rig.driver.virtioDeviceId()).isEqualTo(EchoDevice.DEVICE_ID);
            assertThat(rig.driver.status()).isEqualTo(DeviceStatus.ACKNOWLEDGE | DeviceStatus.DRIVER
                    | DeviceStatus.FEATURES_OK | DeviceStatus.DRIVER_OK);
            assertThat(rig.device.activations.get()).isEqualTo(1);
            for (int i = 0; i < 50; i++) {
                assertThat(rig.echo(0, "ping " + i)).isEqualTo("ping " + i);
                assertThat(rig.echo(1, "pong " + i)).isEqualTo("pong " + i);
            }
            assertThat(rig.driver.interrupts().strayMessages()).isZero();
        }
    }

    @Test
    void perQueueVectorsDeliverEachQueueOnItsOwnVector() {
        try (Rig rig = new Rig()) {
            rig.driver.initialize(ALL, 2);
            assertThat(rig.driver.queueVector(0)).isEqualTo(1);
            assertThat(rig.driver.queueVector(1)).isEqualTo(2);

            rig.echo(1, "only queue 1");

            assertThat(rig.driver.interrupts().messages(2)).isPositive();
            assertThat(rig.driver.interrupts().messages(1)).isZero();
            assertThat(rig.driver.interrupts().messages(0)).isZero();
        }
    }

    @Test
    void sharedVectorCarriesBothQueues() {
        try (Rig rig = new Rig()) {
            rig.driver.vectorBudget(2).initialize(ALL, 2);
            assertThat(rig.driver.queueVector(0)).isEqualTo(1);
            assertThat(rig.driver.queueVector(1)).isEqualTo(1);

            rig.echo(0, "a");
            rig.echo(1, "b");

            assertThat(rig.driver.interrupts().messages(1)).isGreaterThanOrEqualTo(2);
        }
    }

    @Test
    void intxModeUsesIsrQueueBitAndNoMessages() {
        try (Rig rig = new Rig()) {
            rig.driver.vectorBudget(0).initialize(ALL, 2);

            assertThat(rig.echo(0, "legacy interrupt")).isEqualTo("legacy interrupt");
            // the buffer may be seen before the handler ran: let vp_interrupt service the line
            assertThat(rig.driver.awaitInterrupts(0, 1, TIMEOUT)).isTrue();

            assertThat(rig.driver.interrupts().totalMessages()).isZero();
            assertThat(rig.driver.interrupts().intxChanges()).isGreaterThanOrEqualTo(2); // raised, then dropped
            assertThat(rig.driver.interrupts().intxAsserted()).isFalse();
        }
    }

    @Test
    void noVectorReadBackFailsPerQueueStrategyAndFallsBackToShared() {
        try (Rig rig = new Rig()) {
            Strategy got = rig.driver.outOfRangeVectorsIn(Strategy.MSIX_PER_VQ).initialize(ALL, 2);

            assertThat(got).isEqualTo(Strategy.MSIX_SHARED);
            assertThat(rig.echo(0, "after fallback")).isEqualTo("after fallback");
        }
    }

    @Test
    void perQueueVectorsUnavailableAndSharedNoVectorReadBackFallsBackToIntx() {
        try (Rig rig = new Rig()) {
            rig.driver.probe();
            rig.driver.negotiate(ALL);
            // per-vq: the platform has only 2 vectors; shared: the device answers NO_VECTOR
            rig.driver.vectorBudget(2).outOfRangeVectorsIn(Strategy.MSIX_SHARED);
            Strategy got = rig.driver.findVqs(2);
            rig.driver.driverOk();

            assertThat(got).isEqualTo(Strategy.INTX);
            assertThat(rig.echo(1, "intx after two failures")).isEqualTo("intx after two failures");
            assertThat(rig.driver.msixControl() & VirtioPciDriver.PCI_MSIX_FLAGS_ENABLE).isZero();
        }
    }

    @Test
    void driverShrunkQueueSizeIsWhatTheDeviceUses() {
        try (Rig rig = new Rig()) {
            rig.driver.limitQueueSizes(8, 16).initialize(ALL, 2);

            assertThat(rig.device.queue(0).size()).isEqualTo(8);
            assertThat(rig.device.queue(1).size()).isEqualTo(16);
            for (int i = 0; i < 40; i++) { // wraps the 8-entry ring five times
                assertThat(rig.echo(0, "w" + i)).isEqualTo("w" + i);
            }
        }
    }

    @ParameterizedTest
    @EnumSource(Strategy.class)
    void trafficWithoutEventIdxOrIndirect(Strategy wanted) {
        try (Rig rig = new Rig()) {
            long features = EchoDevice.VERSION_1;
            configure(rig.driver, wanted).initialize(features, 2);

            assertThat(rig.driver.features()).isEqualTo(features);
            assertThat(rig.device.context().has(VirtioFeatures.VIRTIO_F_EVENT_IDX)).isFalse();
            for (int i = 0; i < 20; i++) {
                assertThat(rig.echo(i % 2, "plain " + i)).isEqualTo("plain " + i);
            }
        }
    }

    @Test
    void burstOfBuffersIsAllEchoedWithFewerInterruptsThanBuffers() throws Exception {
        try (Rig rig = new Rig()) {
            rig.driver.initialize(ALL, 2);
            rig.device.delayNanos = 200_000;
            int n = 100;
            long out = rig.mem.alloc(n * 8L, 8);
            long in = rig.mem.alloc(n * 8L, 8);
            for (int i = 0; i < n; i++) {
                rig.mem.u64(out + 8L * i, i);
                rig.driver.send(0, java.util.List.of(new dev.vnet.testkit.Buffer(out + 8L * i, 8)),
                        java.util.List.of(new dev.vnet.testkit.Buffer(in + 8L * i, 8)), i);
            }
            int got = 0;
            while (got < n) {
                assertThat(rig.driver.awaitUsed(0, TIMEOUT)).isNotNull();
                got++;
            }
            for (int i = 0; i < n; i++) {
                assertThat(rig.mem.u64(in + 8L * i)).isEqualTo(i);
            }
            assertThat(rig.driver.interrupts().messages(1)).isLessThanOrEqualTo(n);
        }
    }
}
