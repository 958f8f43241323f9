package dev.vnet.pci;

import static dev.vnet.pci.CommonConfig.*;
import static dev.vnet.virtio.DeviceStatus.ACKNOWLEDGE;
import static dev.vnet.virtio.DeviceStatus.DEVICE_NEEDS_RESET;
import static dev.vnet.virtio.DeviceStatus.DRIVER;
import static dev.vnet.virtio.DeviceStatus.DRIVER_OK;
import static dev.vnet.virtio.DeviceStatus.FAILED;
import static dev.vnet.virtio.DeviceStatus.FEATURES_OK;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.vnet.testkit.Buffer;
import dev.vnet.testkit.DriverQueue;
import dev.vnet.testkit.pci.VirtioPciDriver;
import dev.vnet.testkit.pci.VirtioPciDriver.Strategy;
import dev.vnet.virtio.VirtioFeatures;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The status machine, feature negotiation, activation, resets and guest errors (2.1, 3.1, 4.1.4.3.2). */
class LifecycleTest {

    private static final int MSIX_ENABLE = VirtioPciDriver.PCI_MSIX_FLAGS_ENABLE;
    private static final int MSIX_MASKALL = VirtioPciDriver.PCI_MSIX_FLAGS_MASKALL;

    @Test
    void statusRegressionsSkippedStepsAndUnknownBitsAreIgnored() {
        try (Rig rig = new Rig()) {
            VirtioPciDriver d = rig.driver;
            d.probe();
            d.writeStatus(ACKNOWLEDGE | DRIVER_OK); // skips DRIVER and FEATURES_OK
            assertThat(d.status()).isEqualTo(ACKNOWLEDGE);
            d.writeStatus(ACKNOWLEDGE | 0x10); // unknown bit
            assertThat(d.status()).isEqualTo(ACKNOWLEDGE);
            d.writeStatus(DEVICE_NEEDS_RESET | ACKNOWLEDGE); // the device's bit, not set
            assertThat(d.status()).isEqualTo(ACKNOWLEDGE);
            d.writeStatus(ACKNOWLEDGE | DRIVER);
            d.writeStatus(ACKNOWLEDGE); // regression
            assertThat(d.status()).isEqualTo(ACKNOWLEDGE | DRIVER);
            d.writeStatus(ACKNOWLEDGE | DRIVER | FAILED);
            d.writeStatus(ACKNOWLEDGE | DRIVER); // FAILED only goes away with a reset
            assertThat(d.status()).isEqualTo(ACKNOWLEDGE | DRIVER | FAILED);
            d.reset();
            assertThat(d.status()).isZero();
        }
    }

    @Test
    void featuresOkRefusedWhenTheDriverAcksAnUnofferedBit() {
        assertFeaturesOkRefused(EchoDevice.VERSION_1 | VirtioFeatures.bit(5));
    }

    @Test
    void featuresOkRefusedWhenADependencyIsBroken() {
        assertFeaturesOkRefused(EchoDevice.VERSION_1 | VirtioFeatures.bit(EchoDevice.ECHO_F_UPPER));
    }

    @Test
    void featuresOkRefusedWithoutVersion1() {
        assertFeaturesOkRefused(VirtioFeatures.bit(EchoDevice.ECHO_F_BASE));
    }

    private static void assertFeaturesOkRefused(long acked) {
        try (Rig rig = new Rig()) {
            VirtioPciDriver d = rig.driver;
            d.probe();
            d.addStatus(DRIVER);
            d.writeDriverFeatures(acked);
            assertThat(d.featuresOk()).isFalse();
            assertThat(d.status()).isEqualTo(ACKNOWLEDGE | DRIVER);
            // DRIVER_OK cannot follow a refused FEATURES_OK
            d.writeStatus(ACKNOWLEDGE | DRIVER | FEATURES_OK | DRIVER_OK);
            assertThat(d.status()).isEqualTo(ACKNOWLEDGE | DRIVER);
            assertThat(rig.device.activations.get()).isZero();
            // a corrected set is accepted
            d.writeDriverFeatures(EchoDevice.VERSION_1 | VirtioFeatures.bit(EchoDevice.ECHO_F_BASE));
            assertThat(d.featuresOk()).isTrue();
        }
    }

    @Test
    void driverNegotiateThrowsLikeLinuxWhenFeaturesOkIsRefused() {
        try (Rig rig = new Rig()) {
            rig.driver.probe();
            assertThatThrownBy(() -> rig.driver.negotiate(VirtioFeatures.bit(EchoDevice.ECHO_F_BASE)))
                    .hasMessageContaining("VIRTIO_F_VERSION_1");
        }
    }

    @Test
    void driverOkActivatesWithTheAckedFeaturesAndOnlyTheEnabledQueues() {
        try (Rig rig = new Rig()) {
            long wanted = EchoDevice.VERSION_1 | Rig.EVENT_IDX;
            rig.driver.probe();
            rig.driver.negotiate(wanted);
            rig.driver.findVqs(1);
            assertThat(rig.device.activations.get()).isZero();
            rig.driver.driverOk();

            assertThat(rig.device.activations.get()).isEqualTo(1);
            assertThat(rig.device.context().features()).isEqualTo(wanted);
            assertThat(rig.device.context().queues()[0]).isNotNull();
            assertThat(rig.device.context().queues()[1]).isNull();
            assertThat(rig.device.context().queues()[0].size()).isEqualTo(256);
        }
    }

    /** Queue 0 programmed by hand in INTx mode with a ring outside guest RAM. */
    @Test
    void ringOutsideGuestMemorySetsNeedsResetAndRaisesConfigInterruptAtDriverOk() {
        try (Rig rig = new Rig()) {
            VirtioPciDriver d = rig.driver;
            d.probe();
            d.negotiate(Rig.ALL);
            d.writeCommon(VIRTIO_PCI_COMMON_Q_SELECT, 2, 0);
            d.writeCommon(VIRTIO_PCI_COMMON_Q_DESCLO, 8, 0xDEAD_0000_0000L);
            d.writeCommon(VIRTIO_PCI_COMMON_Q_AVAILLO, 8, rig.mem.alloc(1024, 2));
            d.writeCommon(VIRTIO_PCI_COMMON_Q_USEDLO, 8, rig.mem.alloc(4096, 4));
            d.writeCommon(VIRTIO_PCI_COMMON_Q_ENABLE, 2, 1);
            assertThat(d.readCommon(VIRTIO_PCI_COMMON_Q_ENABLE, 2)).isEqualTo(1); // checked at DRIVER_OK

            d.driverOk();

            assertThat(d.status() & DEVICE_NEEDS_RESET).isNotZero();
            assertThat(rig.device.activations.get()).isZero();
            assertThat(rig.driver.interrupts().intxAsserted()).isTrue();
            assertThat(d.readIsr()).isEqualTo(VirtioPci.VIRTIO_PCI_ISR_CONFIG);
            d.reset();
            assertThat(d.status()).isZero();
        }
    }

    @Test
    void misalignedRingSetsNeedsResetAtDriverOk() {
        try (Rig rig = new Rig()) {
            VirtioPciDriver d = rig.driver;
            d.probe();
            d.negotiate(Rig.ALL);
            d.writeCommon(VIRTIO_PCI_COMMON_Q_SELECT, 2, 1);
            d.writeCommon(VIRTIO_PCI_COMMON_Q_DESCLO, 8, rig.mem.alloc(8192, 16) + 8);
            d.writeCommon(VIRTIO_PCI_COMMON_Q_AVAILLO, 8, rig.mem.alloc(1024, 2));
            d.writeCommon(VIRTIO_PCI_COMMON_Q_USEDLO, 8, rig.mem.alloc(4096, 4));
            d.writeCommon(VIRTIO_PCI_COMMON_Q_ENABLE, 2, 1);
            d.driverOk();
            assertThat(d.status()).isEqualTo(ACKNOWLEDGE | DRIVER | FEATURES_OK | DRIVER_OK | DEVICE_NEEDS_RESET);
        }
    }

    @Test
    void guestErrorDuringTrafficSetsNeedsResetAndSendsTheConfigVector() {
        try (Rig rig = new Rig()) {
            rig.driver.initialize(Rig.ALL, 2);
            DriverQueue q = rig.driver.queue(0);
            q.publishRawHead(999); // head >= queue size
            rig.driver.kick(0);

            assertThat(rig.driver.awaitConfigInterrupts(1, Rig.TIMEOUT)).isTrue();
            assertThat(rig.driver.status() & DEVICE_NEEDS_RESET).isNotZero();
            assertThat(rig.driver.interrupts().messages(0)).isEqualTo(1);
            // a second error does not interrupt again
            rig.device.context().errors().guestError("again");
            assertThat(rig.driver.interrupts().messages(0)).isEqualTo(1);

            rig.driver.reset();
            rig.driver.addStatus(ACKNOWLEDGE);
            rig.driver.negotiate(Rig.ALL);
            rig.driver.findVqs(2);
            rig.driver.driverOk();
            assertThat(rig.echo(0, "recovered")).isEqualTo("recovered");
        }
    }

    @Test
    void guestErrorInIntxModeSetsIsrConfigBit() {
        try (Rig rig = new Rig()) {
            rig.driver.vectorBudget(0).initialize(Rig.ALL, 2);
            rig.device.context().errors().guestError("test");
            assertThat(rig.driver.awaitConfigInterrupts(1, Rig.TIMEOUT)).isTrue();
            assertThat(rig.driver.status() & DEVICE_NEEDS_RESET).isNotZero();
        }
    }

    @Test
    void writingZeroResetsTheDeviceAndReadsBackZeroOnlyOnceItHasStopped() {
        try (Rig rig = new Rig()) {
            rig.driver.initialize(Rig.ALL, 2);
            assertThat(rig.device.anyWorkerRunning()).isTrue();
            int resetsBefore = rig.device.resets.get();

            rig.driver.writeStatus(0);

            assertThat(rig.driver.status()).isZero(); // the very first read
            assertThat(rig.device.resets.get()).isEqualTo(resetsBefore + 1);
            assertThat(rig.device.anyWorkerRunning()).isFalse();
            rig.driver.writeCommon(VIRTIO_PCI_COMMON_Q_SELECT, 2, 0);
            assertThat(rig.driver.readCommon(VIRTIO_PCI_COMMON_Q_ENABLE, 2)).isZero();
            assertThat(rig.driver.readCommon(VIRTIO_PCI_COMMON_Q_DESCLO, 8)).isZero();
            assertThat(rig.driver.readCommon(VIRTIO_PCI_COMMON_Q_SIZE, 2)).isEqualTo(256);
        }
    }

    @Test
    void resetWhileTrafficIsInFlightStopsTheWorkersAndTheDeviceComesBack() {
        try (Rig rig = new Rig()) {
            rig.driver.initialize(Rig.ALL, 2);
            rig.device.delayNanos = 1_000_000;
            int n = 100;
            long out = rig.mem.alloc(64L * n, 8);
            long in = rig.mem.alloc(64L * n, 8);
            for (int i = 0; i < n; i++) {
                rig.driver.send(0, List.of(new Buffer(out + 64L * i, 64)), List.of(new Buffer(in + 64L * i, 64)), i);
            }
            long deadline = System.nanoTime() + 5_000_000_000L;
            while (rig.device.echoed.get() < 5 && System.nanoTime() < deadline) {
                Thread.onSpinWait();
            }
            assertThat(rig.device.echoed.get()).isBetween(5, n - 1);

            rig.driver.reset();

            assertThat(rig.driver.status()).isZero();
            assertThat(rig.device.anyWorkerRunning()).isFalse();
            int frozen = rig.device.echoed.get();
            assertThat(frozen).isLessThan(n);
            rig.device.delayNanos = 0;
            rig.driver.addStatus(ACKNOWLEDGE);
            rig.driver.negotiate(Rig.ALL);
            rig.driver.findVqs(2);
            rig.driver.driverOk();
            assertThat(rig.echo(0, "after reset")).isEqualTo("after reset");
            assertThat(rig.device.echoed.get()).isEqualTo(frozen + 1);
        }
    }

    @Test
    void msixEnableMaskAndTableSurviveAVirtioResetButVirtioVectorsAndPendingBitsDoNot() {
        try (Rig rig = new Rig()) {
            VirtioPciDriver d = rig.driver;
            d.initialize(Rig.ALL, 2);
            d.maskVector(1);
            long[] entries = new long[3 * 4];
            for (int v = 0; v < 3; v++) {
                for (int f = 0; f < 4; f++) {
                    entries[4 * v + f] = d.msixEntry(v, 4 * f);
                }
            }
            // a queue interrupt on masked vector 1 leaves its pending bit set
            sendAndPollUsed(rig, 0, 1);
            assertThat(d.pending(1)).isTrue();

            d.reset();

            assertThat(d.msixControl() & (MSIX_ENABLE | MSIX_MASKALL)).isEqualTo(MSIX_ENABLE);
            for (int v = 0; v < 3; v++) {
                for (int f = 0; f < 4; f++) {
                    assertThat(d.msixEntry(v, 4 * f)).as("vector %d dword %d", v, f).isEqualTo(entries[4 * v + f]);
                }
            }
            assertThat(d.pending(1)).isFalse();
            assertThat(d.readCommon(VIRTIO_PCI_COMMON_MSIX, 2)).isEqualTo(VirtioPci.VIRTIO_MSI_NO_VECTOR);
            for (int q = 0; q < 2; q++) {
                d.writeCommon(VIRTIO_PCI_COMMON_Q_SELECT, 2, q);
                assertThat(d.readCommon(VIRTIO_PCI_COMMON_Q_MSIX, 2)).isEqualTo(VirtioPci.VIRTIO_MSI_NO_VECTOR);
            }
            d.unmaskVector(1);
            assertThat(d.interrupts().messages(1)).isZero(); // the stale pending message was dropped
        }
    }

    @Test
    void maskedQueueVectorSetsItsPbaBitAndFiresOnUnmask() {
        try (Rig rig = new Rig()) {
            VirtioPciDriver d = rig.driver;
            d.initialize(Rig.ALL, 2);
            d.maskVector(2);
            sendAndPollUsed(rig, 1, 2);
            assertThat(d.pending(2)).isTrue();
            assertThat(d.interrupts().messages(2)).isZero();

            d.unmaskVector(2);

            assertThat(d.interrupts().messages(2)).isEqualTo(1);
            assertThat(d.pending(2)).isFalse();
        }
    }

    @Test
    void functionMaskHoldsQueueInterruptsUntilCleared() {
        try (Rig rig = new Rig()) {
            VirtioPciDriver d = rig.driver;
            d.initialize(Rig.ALL, 2);
            d.writeMsixControl(MSIX_ENABLE | MSIX_MASKALL);
            sendAndPollUsed(rig, 0, 1);
            sendAndPollUsed(rig, 1, 2);
            assertThat(d.pending(1)).isTrue();
            assertThat(d.pending(2)).isTrue();
            assertThat(d.interrupts().totalMessages()).isZero();

            d.writeMsixControl(MSIX_ENABLE);

            assertThat(d.interrupts().messages(1)).isEqualTo(1);
            assertThat(d.interrupts().messages(2)).isEqualTo(1);
        }
    }

    /**
     * Sends one buffer on {@code queue}, polls the used ring (no interrupt needed), then waits until the
     * worker's interrupt for {@code vector} was either sent or left pending (it follows the used publish).
     */
    private static void sendAndPollUsed(Rig rig, int queue, int vector) {
        long buf = rig.mem.alloc(16, 8);
        rig.driver.send(queue, List.of(new Buffer(buf, 8)), List.of(new Buffer(buf + 8, 8)), "poll");
        DriverQueue q = rig.driver.queue(queue);
        long deadline = System.nanoTime() + 5_000_000_000L;
        while (!q.moreUsed() && System.nanoTime() < deadline) {
            Thread.onSpinWait();
        }
        assertThat(q.getBuf()).isNotNull();
        while (!rig.driver.pending(vector) && rig.driver.interrupts().messages(vector) == 0
                && System.nanoTime() < deadline) {
            Thread.onSpinWait();
        }
    }

    @Test
    void queueResetWithRingResetStopsOneQueueAndReenablesIt() {
        try (Rig rig = new Rig(new EchoDevice(2, 256, true))) {
            VirtioPciDriver d = rig.driver;
            d.initialize(Rig.ALL, 2);
            assertThat(d.has(VirtioFeatures.VIRTIO_F_RING_RESET)).isTrue();
            assertThat(rig.echo(0, "before")).isEqualTo("before");
            d.writeCommon(VIRTIO_PCI_COMMON_Q_SELECT, 2, 0);
            assertThat(d.readCommon(VIRTIO_PCI_COMMON_Q_RESET, 2)).isZero();

            d.resetQueue(0);

            assertThat(d.readCommon(VIRTIO_PCI_COMMON_Q_RESET, 2)).isEqualTo(1);
            assertThat(d.readCommon(VIRTIO_PCI_COMMON_Q_ENABLE, 2)).isZero();
            assertThat(d.readCommon(VIRTIO_PCI_COMMON_Q_SIZE, 2)).isEqualTo(256);
            assertThat(d.readCommon(VIRTIO_PCI_COMMON_Q_MSIX, 2)).isEqualTo(VirtioPci.VIRTIO_MSI_NO_VECTOR);
            assertThat(rig.device.queue(0)).isNull();
            assertThat(rig.echo(1, "other queue runs")).isEqualTo("other queue runs");

            d.reenableQueue(0);

            assertThat(d.readCommon(VIRTIO_PCI_COMMON_Q_RESET, 2)).isZero();
            assertThat(d.readCommon(VIRTIO_PCI_COMMON_Q_ENABLE, 2)).isEqualTo(1);
            assertThat(d.readCommon(VIRTIO_PCI_COMMON_Q_MSIX, 2)).isEqualTo(1);
            assertThat(rig.echo(0, "after queue reset")).isEqualTo("after queue reset");
            assertThat(d.status() & DEVICE_NEEDS_RESET).isZero();
        }
    }

    @Test
    void enablingAQueueAfterDriverOkWithoutQueueResetIsRefused() {
        try (Rig rig = new Rig(new EchoDevice(2, 256, true))) {
            rig.driver.probe();
            rig.driver.negotiate(Rig.ALL);
            rig.driver.findVqs(1);
            rig.driver.driverOk();
            rig.driver.writeCommon(VIRTIO_PCI_COMMON_Q_SELECT, 2, 1);
            rig.driver.writeCommon(VIRTIO_PCI_COMMON_Q_ENABLE, 2, 1);
            assertThat(rig.driver.readCommon(VIRTIO_PCI_COMMON_Q_ENABLE, 2)).isZero();
            assertThat(rig.driver.status() & DEVICE_NEEDS_RESET).isNotZero();
        }
    }

    @Test
    void closeResetsTheDeviceAndIsIdempotent() {
        try (Rig rig = new Rig()) {
            rig.driver.initialize(Rig.ALL, 2);
            rig.function.close();
            assertThat(rig.device.anyWorkerRunning()).isFalse();
            assertThat(rig.function.deviceStatus()).isZero();
            assertThat(rig.driver.bus().mappings()).isEmpty();
            rig.function.close();
        }
    }

    @Test
    void everyStrategyCanBeRenegotiatedAfterAReset() {
        try (Rig rig = new Rig()) {
            rig.driver.initialize(Rig.ALL, 2);
            for (Strategy s : new Strategy[] {Strategy.INTX, Strategy.MSIX_SHARED, Strategy.MSIX_PER_VQ}) {
                rig.driver.reset();
                rig.driver.delVqs(); // virtio_dev_remove, then probe again with a forced strategy
                rig.driver.addStatus(ACKNOWLEDGE);
                rig.driver.negotiate(Rig.ALL);
                rig.driver.startWith(s);
                assertThat(rig.driver.findVqs(2)).isEqualTo(s);
                rig.driver.driverOk();
                assertThat(rig.echo(1, "via " + s)).isEqualTo("via " + s);
            }
        }
    }
}
