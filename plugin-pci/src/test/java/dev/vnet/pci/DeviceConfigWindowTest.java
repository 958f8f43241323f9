package dev.vnet.pci;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** The device configuration window (4.1.4.6) and config_generation / config interrupts (4.1.4.3.1, 4.1.5.4). */
class DeviceConfigWindowTest {

    @Test
    void accessesOf124BytesAreForwardedAndEightIsSplitIntoHalves() {
        EchoDevice device = new EchoDevice();
        DeviceConfigWindow window = new DeviceConfigWindow(device, device.configSize());
        window.write(4, 4, 0xCAFE_BABEL);
        assertThat(window.read(4, 4)).isEqualTo(0xCAFE_BABEL);
        assertThat(window.read(5, 1)).isEqualTo(0xBA);
        assertThat(window.read(6, 2)).isEqualTo(0xCAFE);
        window.write(0, 4, 0x1234); // read-only field in the device
        assertThat(window.read(0, 4)).isZero();
        device.changeConfig(0x11);
        assertThat(window.read(0, 8)).isEqualTo(0xCAFE_BABE_0000_0011L);
        window.write(0, 8, 0x5555_6666_0000_0000L);
        assertThat(window.read(4, 4)).isEqualTo(0x5555_6666L);
    }

    @Test
    void accessesOutsideTheWindowOrOfBadSizeReadZeroAndAreIgnored() {
        EchoDevice device = new EchoDevice();
        DeviceConfigWindow window = new DeviceConfigWindow(device, device.configSize());
        window.write(4, 4, 0x0102_0304);
        assertThat(window.read(6, 4)).isZero(); // ends past the 8-byte window
        assertThat(window.read(8, 1)).isZero();
        assertThat(window.read(4, 3)).isZero();
        assertThat(window.read(-1, 1)).isZero();
        window.write(6, 4, -1);
        window.write(4, 3, -1);
        assertThat(window.read(4, 4)).isEqualTo(0x0102_0304);
    }

    @Test
    void driverReadsAndWritesDeviceConfigThroughTheBar() {
        try (Rig rig = new Rig()) {
            rig.driver.probe();
            assertThat(rig.driver.deviceConfigLength()).isEqualTo(8);
            rig.driver.writeDeviceConfig(4, 2, 0xBEEF);
            assertThat(rig.driver.readDeviceConfig(4, 2)).isEqualTo(0xBEEF);
            assertThat(rig.driver.readDeviceConfig(4, 4)).isEqualTo(0xBEEF);
        }
    }

    @Test
    void deviceConfigChangeBumpsGenerationAndSendsTheConfigVectorAfterDriverOk() {
        try (Rig rig = new Rig()) {
            rig.driver.probe();
            int gen = rig.driver.configGeneration();
            rig.device.changeConfig(1); // before DRIVER_OK: generation only
            assertThat(rig.driver.configGeneration()).isEqualTo((gen + 1) & 0xFF);
            rig.driver.negotiate(Rig.ALL);
            rig.driver.findVqs(2);
            rig.driver.driverOk();
            assertThat(rig.driver.interrupts().messages(0)).isZero();

            rig.device.changeConfig(2);

            assertThat(rig.driver.configGeneration()).isEqualTo((gen + 2) & 0xFF);
            assertThat(rig.driver.awaitConfigInterrupts(1, Rig.TIMEOUT)).isTrue();
            assertThat(rig.driver.interrupts().messages(0)).isEqualTo(1);
            assertThat(rig.driver.readDeviceConfig(0, 4)).isEqualTo(2);
        }
    }

    @Test
    void configChangeInIntxModeSetsIsrBitOne() {
        try (Rig rig = new Rig()) {
            rig.driver.vectorBudget(0).initialize(Rig.ALL, 2);
            rig.device.changeConfig(3);
            assertThat(rig.driver.awaitConfigInterrupts(1, Rig.TIMEOUT)).isTrue();
            assertThat(rig.driver.interrupts().queueCallbacks(0)).isZero();
        }
    }

    @Test
    void configVectorNoVectorSendsNothing() {
        try (Rig rig = new Rig()) {
            rig.driver.initialize(Rig.ALL, 2);
            rig.driver.setConfigVector(VirtioPci.VIRTIO_MSI_NO_VECTOR);
            rig.device.changeConfig(4);
            assertThat(rig.driver.interrupts().totalMessages()).isZero();
            assertThat(rig.driver.readIsr()).isZero(); // MSI-X mode never touches the ISR
        }
    }
}
