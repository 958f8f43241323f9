package dev.vnet.pci;

import static org.assertj.core.api.Assertions.assertThat;

import dev.vnet.virtio.DeviceStatus;
import org.junit.jupiter.api.Test;

/** The VIRTIO_PCI_CAP_PCI_CFG window (4.1.4.9). */
class PciCfgWindowTest {

    @Test
    void readsThroughPciCfgDataReachTheBarEvenWithMemoryDecodingOff() {
        try (Rig rig = new Rig()) {
            rig.driver.probe();
            rig.function.configWrite(0x04, 2, 0); // decoding off: the BAR is unmapped
            assertThat(rig.driver.bus().mappings()).isEmpty();

            assertThat(rig.driver.pciCfgRead(0, CommonConfig.VIRTIO_PCI_COMMON_NUMQ, 2)).isEqualTo(2);
            assertThat(rig.driver.pciCfgRead(0, CommonConfig.VIRTIO_PCI_COMMON_STATUS, 1))
                    .isEqualTo(DeviceStatus.ACKNOWLEDGE);
            assertThat(rig.driver.pciCfgRead(0, CommonConfig.VIRTIO_PCI_COMMON_DF + 0, 4))
                    .isEqualTo(rig.device.offeredFeatures() & 0xFFFF_FFFFL);
        }
    }

    @Test
    void writesThroughPciCfgDataReachTheBar() {
        try (Rig rig = new Rig()) {
            rig.driver.probe();
            rig.driver.pciCfgWrite(0, CommonConfig.VIRTIO_PCI_COMMON_STATUS, 1,
                    DeviceStatus.ACKNOWLEDGE | DeviceStatus.DRIVER);
            assertThat(rig.driver.status()).isEqualTo(DeviceStatus.ACKNOWLEDGE | DeviceStatus.DRIVER);
            rig.driver.pciCfgWrite(0, BarLayout.DEVICE_CFG_OFFSET + 4, 4, 0x0BAD_F00D);
            assertThat(rig.driver.readDeviceConfig(4, 4)).isEqualTo(0x0BAD_F00DL);
        }
    }

    @Test
    void isrReadThroughTheWindowClearsIt() {
        try (Rig rig = new Rig()) {
            rig.driver.vectorBudget(0).initialize(Rig.ALL, 2);
            rig.device.changeConfig(1);
            long deadline = System.nanoTime() + 5_000_000_000L;
            while (!rig.driver.interrupts().intxAsserted() && System.nanoTime() < deadline) {
                Thread.onSpinWait();
            }
            assertThat(rig.driver.pciCfgRead(0, BarLayout.ISR_CFG_OFFSET, 1)).isEqualTo(2);
            assertThat(rig.driver.interrupts().intxAsserted()).isFalse();
        }
    }

    @Test
    void badLengthMisalignedOffsetWrongBarOrOutsideTheBarDoNoAccess() {
        try (Rig rig = new Rig()) {
            rig.driver.probe();
            int cap = rig.driver.pciCfgCapability();
            int status = rig.driver.status();
            rig.driver.pciCfgWrite(0, CommonConfig.VIRTIO_PCI_COMMON_STATUS, 3, 0); // length 3
            rig.driver.pciCfgWrite(1, CommonConfig.VIRTIO_PCI_COMMON_STATUS, 1, 0); // BAR 1
            rig.driver.pciCfgWrite(0, CommonConfig.VIRTIO_PCI_COMMON_NUMQ + 1, 2, 0); // misaligned
            rig.driver.pciCfgWrite(0, (int) rig.function.layout().barSize(), 4, 0); // past the BAR
            assertThat(rig.driver.status()).isEqualTo(status);
            // data then behaves as storage
            rig.function.configWrite(cap + PciCfgWindow.VIRTIO_PCI_CFG_DATA, 4, 0x1234_5678);
            assertThat(rig.function.configRead(cap + PciCfgWindow.VIRTIO_PCI_CFG_DATA, 4)).isEqualTo(0x1234_5678);
        }
    }

    @Test
    void windowFieldsAreReadWriteAndTheHeaderIsReadOnly() {
        try (Rig rig = new Rig()) {
            int cap = 0x84;
            int header = rig.function.configRead(cap, 4);
            rig.function.configWrite(cap, 4, 0);
            assertThat(rig.function.configRead(cap, 4)).isEqualTo(header);
            assertThat(header).isEqualTo(0x0514_9809); // vndr 9, next 0x98, len 20, type 5
            rig.function.configWrite(cap + 4, 4, 0xFFFF_FF03);
            assertThat(rig.function.configRead(cap + 4, 4)).isEqualTo(3); // bar only; id and padding RO
            rig.function.configWrite(cap + 8, 4, 0x40);
            rig.function.configWrite(cap + 12, 2, 4);
            assertThat(rig.function.configRead(cap + 8, 4)).isEqualTo(0x40);
            assertThat(rig.function.configRead(cap + 12, 4)).isEqualTo(4);
        }
    }
}
