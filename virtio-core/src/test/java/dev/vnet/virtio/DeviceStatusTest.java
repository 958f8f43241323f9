package dev.vnet.virtio;

import static dev.vnet.virtio.DeviceStatus.ACKNOWLEDGE;
import static dev.vnet.virtio.DeviceStatus.DEVICE_NEEDS_RESET;
import static dev.vnet.virtio.DeviceStatus.DRIVER;
import static dev.vnet.virtio.DeviceStatus.DRIVER_OK;
import static dev.vnet.virtio.DeviceStatus.FAILED;
import static dev.vnet.virtio.DeviceStatus.FEATURES_OK;
import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** 3.1.1: the initialization order as a transition table. */
class DeviceStatusTest {

    private static final int A = ACKNOWLEDGE;
    private static final int AD = ACKNOWLEDGE | DRIVER;
    private static final int ADF = AD | FEATURES_OK;
    private static final int ADFO = ADF | DRIVER_OK;

    @Test
    void linuxProbeSequenceIsLegal() {
        assertThat(DeviceStatus.isLegal(0, A)).isTrue();
        assertThat(DeviceStatus.isLegal(A, AD)).isTrue();
        assertThat(DeviceStatus.isLegal(AD, ADF)).isTrue();
        assertThat(DeviceStatus.isLegal(ADF, ADFO)).isTrue();
    }

    @Test
    void rewritingTheSameStatusIsLegal() {
        for (int s : new int[] {A, AD, ADF, ADFO}) {
            assertThat(DeviceStatus.isLegal(s, s)).isTrue();
        }
    }

    @Test
    void skippingAStepIsRefused() {
        assertThat(DeviceStatus.isLegal(0, AD)).isFalse();
        assertThat(DeviceStatus.isLegal(A, ADF)).isFalse();
        assertThat(DeviceStatus.isLegal(AD, AD | DRIVER_OK)).as("DRIVER_OK without FEATURES_OK").isFalse();
        assertThat(DeviceStatus.isLegal(0, DRIVER)).isFalse();
    }

    @Test
    void clearingBitsIsRefused() {
        assertThat(DeviceStatus.isLegal(ADFO, ADF)).isFalse();
        assertThat(DeviceStatus.isLegal(ADF, A)).isFalse();
        assertThat(DeviceStatus.isLegal(AD | FAILED, AD)).as("FAILED sticks until reset").isFalse();
    }

    @Test
    void failedMayBeAddedAtAnyStep() {
        for (int s : new int[] {0, A, AD, ADF, ADFO}) {
            assertThat(DeviceStatus.isLegal(s, s | FAILED)).isTrue();
        }
    }

    @Test
    void needsResetIsTheDevicesToSetButMayBeEchoed() {
        assertThat(DeviceStatus.isLegal(ADFO, ADFO | DEVICE_NEEDS_RESET)).isFalse();
        assertThat(DeviceStatus.isLegal(ADFO | DEVICE_NEEDS_RESET, ADFO | DEVICE_NEEDS_RESET)).isTrue();
        assertThat(DeviceStatus.isLegal(ADFO | DEVICE_NEEDS_RESET, ADFO | DEVICE_NEEDS_RESET | FAILED)).isTrue();
    }

    @Test
    void undefinedBitsAreRefused() {
        assertThat(DeviceStatus.isLegal(A, A | 0x10)).isFalse();
        assertThat(DeviceStatus.isLegal(A, A | 0x100)).isFalse();
    }

    @Test
    void statusPrintsBitNames() {
        assertThat(DeviceStatus.toString(ADFO)).isEqualTo("ACKNOWLEDGE|DRIVER|DRIVER_OK|FEATURES_OK");
        assertThat(DeviceStatus.toString(0)).isEqualTo("RESET");
    }
}
