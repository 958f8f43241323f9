package dev.vnet.pci;

import static org.assertj.core.api.Assertions.assertThat;

import dev.vnet.testkit.RecordingInterrupts;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/** ISR status and INTx (4.1.4.5, 4.1.5.3-4). */
class IsrRegionTest {

    private final RecordingInterrupts line = new RecordingInterrupts();
    private final IsrRegion isr = new IsrRegion();

    IsrRegionTest() {
        isr.attach(line);
    }

    @Test
    void raiseAssertsIntxAndReadReturnsBitsClearsThemAndDeassertsIntx() {
        isr.raise(VirtioPci.VIRTIO_PCI_ISR_QUEUE);
        isr.raise(VirtioPci.VIRTIO_PCI_ISR_CONFIG);
        assertThat(line.intxAsserted()).isTrue();
        assertThat(isr.pending()).isTrue();

        assertThat(isr.read(0, 1)).isEqualTo(3);

        assertThat(line.intxAsserted()).isFalse();
        assertThat(isr.pending()).isFalse();
        assertThat(isr.read(0, 1)).isZero();
        assertThat(line.intxChanges()).containsExactly(true, false);
    }

    @Test
    void readsAtOtherOffsetsReturnZeroWithoutClearingAndWritesAreIgnored() {
        isr.raise(VirtioPci.VIRTIO_PCI_ISR_QUEUE);
        assertThat(isr.read(1, 1)).isZero();
        assertThat(isr.read(4, 4)).isZero();
        isr.write(0, 1, 0);
        assertThat(isr.peek()).isEqualTo(1);
        assertThat(isr.read(0, 4)).isEqualTo(1); // any size at offset 0 reads and clears
        assertThat(isr.peek()).isZero();
    }

    @Test
    void intxDisableKeepsTheLineLowButTheStatusPending() {
        isr.setIntxDisabled(true);
        isr.raise(VirtioPci.VIRTIO_PCI_ISR_QUEUE);
        assertThat(line.intxAsserted()).isFalse();
        assertThat(isr.pending()).isTrue();
        isr.setIntxDisabled(false);
        assertThat(line.intxAsserted()).isTrue();
    }

    @Test
    void msixEnabledKeepsTheLineLow() {
        isr.raise(VirtioPci.VIRTIO_PCI_ISR_CONFIG);
        isr.setMsixEnabled(true);
        assertThat(line.intxAsserted()).isFalse();
        isr.setMsixEnabled(false);
        assertThat(line.intxAsserted()).isTrue();
    }

    @Test
    void resetClearsBitsAndDeassertsButKeepsTheGates() {
        isr.setIntxDisabled(true);
        isr.raise(1);
        isr.reset();
        assertThat(isr.peek()).isZero();
        isr.raise(1);
        assertThat(line.intxAsserted()).isFalse();
    }

    @Test
    void intxThroughTheTransportReadsIsrToClearAndDropsTheLine() {
        try (Rig rig = new Rig()) {
            rig.driver.vectorBudget(0).initialize(Rig.ALL, 2);
            rig.device.changeConfig(7);
            // poll the line without servicing, then read the ISR ourselves
            long deadline = System.nanoTime() + Duration.ofSeconds(5).toNanos();
            while (!rig.driver.interrupts().intxAsserted() && System.nanoTime() < deadline) {
                Thread.onSpinWait();
            }
            assertThat(rig.driver.interrupts().intxAsserted()).isTrue();
            assertThat(rig.function.configRead(0x06, 2) & 0x08).isNotZero(); // interrupt status
            assertThat(rig.driver.readIsr()).isEqualTo(VirtioPci.VIRTIO_PCI_ISR_CONFIG);
            assertThat(rig.driver.interrupts().intxAsserted()).isFalse();
            assertThat(rig.function.configRead(0x06, 2) & 0x08).isZero();
            assertThat(rig.driver.readIsr()).isZero();
        }
    }
}
