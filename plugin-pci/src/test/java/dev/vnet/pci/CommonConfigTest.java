package dev.vnet.pci;

import static dev.vnet.pci.CommonConfig.*;
import static org.assertj.core.api.Assertions.assertThat;

import dev.vnet.testkit.pci.VirtioPciDriver;
import dev.vnet.virtio.DeviceStatus;
import dev.vnet.virtio.VirtioFeatures;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/** The common configuration structure (4.1.4.3) through the BAR, as the driver sees it. */
class CommonConfigTest {

    private Rig rig;
    private VirtioPciDriver d;

    @BeforeEach
    void probe() {
        rig = new Rig();
        d = rig.driver;
        d.probe();
    }

    @AfterEach
    void close() {
        rig.close();
    }

    @Test
    void deviceFeatureHalvesFollowTheSelectAndOtherSelectsReadZero() {
        long offered = rig.device.offeredFeatures();
        assertThat(d.readDeviceFeatures()).isEqualTo(offered);
        d.writeCommon(VIRTIO_PCI_COMMON_DFSELECT, 4, 2);
        assertThat(d.readCommon(VIRTIO_PCI_COMMON_DFSELECT, 4)).isEqualTo(2);
        assertThat(d.readCommon(VIRTIO_PCI_COMMON_DF, 4)).isZero();
        d.writeCommon(VIRTIO_PCI_COMMON_DFSELECT, 4, 0xFFFF_FFFFL);
        assertThat(d.readCommon(VIRTIO_PCI_COMMON_DF, 4)).isZero();
    }

    @Test
    void driverFeaturesRoundTripUntilFeaturesOkThenFreeze() {
        long acked = EchoDevice.VERSION_1 | 1;
        d.addStatus(DeviceStatus.DRIVER);
        d.writeDriverFeatures(acked);
        d.writeCommon(VIRTIO_PCI_COMMON_GFSELECT, 4, 0);
        assertThat(d.readCommon(VIRTIO_PCI_COMMON_GF, 4)).isEqualTo(1);
        d.writeCommon(VIRTIO_PCI_COMMON_GFSELECT, 4, 1);
        assertThat(d.readCommon(VIRTIO_PCI_COMMON_GF, 4)).isEqualTo(1); // bit 32
        assertThat(d.featuresOk()).isTrue();

        d.writeCommon(VIRTIO_PCI_COMMON_GFSELECT, 4, 0);
        d.writeCommon(VIRTIO_PCI_COMMON_GF, 4, 0);
        assertThat(d.readCommon(VIRTIO_PCI_COMMON_GF, 4)).isEqualTo(1);
    }

    @Test
    void numQueuesIsTheDeviceQueueCount() {
        assertThat(d.readCommon(VIRTIO_PCI_COMMON_NUMQ, 2)).isEqualTo(2);
    }

    @Test
    void writesToReadOnlyFieldsAreIgnored() {
        long df = d.readCommon(VIRTIO_PCI_COMMON_DF, 4);
        int gen = d.configGeneration();
        d.writeCommon(VIRTIO_PCI_COMMON_DF, 4, 0);
        d.writeCommon(VIRTIO_PCI_COMMON_NUMQ, 2, 9);
        d.writeCommon(VIRTIO_PCI_COMMON_CFGGENERATION, 1, gen + 1);
        d.writeCommon(VIRTIO_PCI_COMMON_Q_SELECT, 2, 1);
        d.writeCommon(VIRTIO_PCI_COMMON_Q_NOFF, 2, 7);
        d.writeCommon(VIRTIO_PCI_COMMON_Q_NDATA, 2, 7);
        assertThat(d.readCommon(VIRTIO_PCI_COMMON_DF, 4)).isEqualTo(df);
        assertThat(d.readCommon(VIRTIO_PCI_COMMON_NUMQ, 2)).isEqualTo(2);
        assertThat(d.configGeneration()).isEqualTo(gen);
        assertThat(d.readCommon(VIRTIO_PCI_COMMON_Q_NOFF, 2)).isEqualTo(1);
        assertThat(d.readCommon(VIRTIO_PCI_COMMON_Q_NDATA, 2)).isEqualTo(1);
    }

    @ParameterizedTest
    @ValueSource(ints = {2, 3, 0x100, 0xFFFF})
    void outOfRangeQueueSelectReadsZeroAndIgnoresWrites(int select) {
        d.writeCommon(VIRTIO_PCI_COMMON_Q_SELECT, 2, select);
        assertThat(d.readCommon(VIRTIO_PCI_COMMON_Q_SELECT, 2)).isEqualTo(select);
        for (int field = VIRTIO_PCI_COMMON_Q_SIZE; field <= VIRTIO_PCI_COMMON_Q_NOFF; field += 2) {
            d.writeCommon(field, 2, 1);
            assertThat(d.readCommon(field, 2)).as("field 0x%x", field).isZero();
        }
        for (int field = VIRTIO_PCI_COMMON_Q_DESCLO; field <= VIRTIO_PCI_COMMON_Q_USEDHI; field += 4) {
            d.writeCommon(field, 4, 0x1000);
            assertThat(d.readCommon(field, 4)).isZero();
        }
        assertThat(d.readCommon(VIRTIO_PCI_COMMON_Q_NDATA, 2)).isZero();
        assertThat(d.readCommon(VIRTIO_PCI_COMMON_Q_RESET, 2)).isZero();
        // the real queues were not touched
        d.writeCommon(VIRTIO_PCI_COMMON_Q_SELECT, 2, 0);
        assertThat(d.readCommon(VIRTIO_PCI_COMMON_Q_SIZE, 2)).isEqualTo(256);
        assertThat(d.readCommon(VIRTIO_PCI_COMMON_Q_ENABLE, 2)).isZero();
        assertThat(d.status() & DeviceStatus.DEVICE_NEEDS_RESET).isZero();
    }

    @ParameterizedTest(name = "offset 0x{0} size {1}")
    @CsvSource({"0, 2", "0, 1", "2, 2", "4, 8", "16, 4", "16, 1", "17, 1", "18, 4", "20, 2", "20, 4", "22, 4",
        "24, 1", "25, 1", "32, 2", "34, 2", "36, 8", "44, 8", "56, 4", "58, 1", "60, 2", "62, 2", "63, 1"})
    void oddSizedAndUnalignedAccessesReadZeroAndAreIgnored(int offset, int size) {
        d.writeCommon(VIRTIO_PCI_COMMON_MSIX, 2, 1);
        long[] before = snapshot();
        assertThat(d.readCommon(offset, size)).isZero();
        d.writeCommon(offset, size, -1L);
        assertThat(snapshot()).containsExactly(before);
    }

    private long[] snapshot() {
        return new long[] {d.readCommon(VIRTIO_PCI_COMMON_DFSELECT, 4), d.readCommon(VIRTIO_PCI_COMMON_GFSELECT, 4),
            d.readCommon(VIRTIO_PCI_COMMON_MSIX, 2), d.status(), d.readCommon(VIRTIO_PCI_COMMON_Q_SELECT, 2),
            d.readCommon(VIRTIO_PCI_COMMON_Q_SIZE, 2), d.readCommon(VIRTIO_PCI_COMMON_Q_MSIX, 2),
            d.readCommon(VIRTIO_PCI_COMMON_Q_ENABLE, 2), d.readCommon(VIRTIO_PCI_COMMON_Q_DESCLO, 8),
            d.readCommon(VIRTIO_PCI_COMMON_Q_AVAILLO, 8), d.readCommon(VIRTIO_PCI_COMMON_Q_USEDLO, 8)};
    }

    @Test
    void queueAddressesTakeTwo32BitHalvesOrOne64BitAccess() {
        d.writeCommon(VIRTIO_PCI_COMMON_Q_DESCLO, 4, 0x1234_5000L);
        d.writeCommon(VIRTIO_PCI_COMMON_Q_DESCHI, 4, 0x9);
        d.writeCommon(VIRTIO_PCI_COMMON_Q_AVAILLO, 8, 0x0000_0007_8000_0000L);
        assertThat(d.readCommon(VIRTIO_PCI_COMMON_Q_DESCLO, 8)).isEqualTo(0x9_1234_5000L);
        assertThat(d.readCommon(VIRTIO_PCI_COMMON_Q_AVAILLO, 4)).isEqualTo(0x8000_0000L);
        assertThat(d.readCommon(VIRTIO_PCI_COMMON_Q_AVAILHI, 4)).isEqualTo(7);
        assertThat(d.readCommon(VIRTIO_PCI_COMMON_Q_USEDLO, 8)).isZero();
    }

    @Test
    void vectorBeyondTheMsixTableReadsBackNoVector() {
        d.writeCommon(VIRTIO_PCI_COMMON_MSIX, 2, 2);
        assertThat(d.readCommon(VIRTIO_PCI_COMMON_MSIX, 2)).isEqualTo(2);
        d.writeCommon(VIRTIO_PCI_COMMON_MSIX, 2, 3); // table has queues + 1 = 3 entries
        assertThat(d.readCommon(VIRTIO_PCI_COMMON_MSIX, 2)).isEqualTo(VirtioPci.VIRTIO_MSI_NO_VECTOR);
        d.writeCommon(VIRTIO_PCI_COMMON_Q_MSIX, 2, 1);
        assertThat(d.readCommon(VIRTIO_PCI_COMMON_Q_MSIX, 2)).isEqualTo(1);
        d.writeCommon(VIRTIO_PCI_COMMON_Q_MSIX, 2, 0x7FF);
        assertThat(d.readCommon(VIRTIO_PCI_COMMON_Q_MSIX, 2)).isEqualTo(VirtioPci.VIRTIO_MSI_NO_VECTOR);
        d.writeCommon(VIRTIO_PCI_COMMON_Q_MSIX, 2, VirtioPci.VIRTIO_MSI_NO_VECTOR);
        assertThat(d.readCommon(VIRTIO_PCI_COMMON_Q_MSIX, 2)).isEqualTo(VirtioPci.VIRTIO_MSI_NO_VECTOR);
    }

    @Test
    void vectorsStartAtNoVector() {
        assertThat(d.readCommon(VIRTIO_PCI_COMMON_MSIX, 2)).isEqualTo(0xFFFF);
        for (int q = 0; q < 2; q++) {
            d.writeCommon(VIRTIO_PCI_COMMON_Q_SELECT, 2, q);
            assertThat(d.readCommon(VIRTIO_PCI_COMMON_Q_MSIX, 2)).isEqualTo(0xFFFF);
        }
    }

    @Test
    void queueNotifyOffAndNotifyDataAreTheQueueIndex() {
        for (int q = 0; q < 2; q++) {
            d.writeCommon(VIRTIO_PCI_COMMON_Q_SELECT, 2, q);
            assertThat(d.readCommon(VIRTIO_PCI_COMMON_Q_NOFF, 2)).isEqualTo(q);
            assertThat(d.readCommon(VIRTIO_PCI_COMMON_Q_NDATA, 2)).isEqualTo(q);
        }
    }

    @Test
    void enabledQueueIgnoresWritesToSizeAndAddressesAndToQueueEnableZero() {
        d.negotiate(Rig.ALL);
        d.findVqs(2);
        d.writeCommon(VIRTIO_PCI_COMMON_Q_SELECT, 2, 0);
        long desc = d.readCommon(VIRTIO_PCI_COMMON_Q_DESCLO, 8);
        d.writeCommon(VIRTIO_PCI_COMMON_Q_SIZE, 2, 4);
        d.writeCommon(VIRTIO_PCI_COMMON_Q_DESCLO, 8, 0);
        d.writeCommon(VIRTIO_PCI_COMMON_Q_ENABLE, 2, 0);
        assertThat(d.readCommon(VIRTIO_PCI_COMMON_Q_SIZE, 2)).isEqualTo(256);
        assertThat(d.readCommon(VIRTIO_PCI_COMMON_Q_DESCLO, 8)).isEqualTo(desc);
        assertThat(d.readCommon(VIRTIO_PCI_COMMON_Q_ENABLE, 2)).isEqualTo(1);
    }

    @ParameterizedTest
    @ValueSource(ints = {0, 3, 100, 512, 0x8000})
    void enablingAQueueWithABadSizeIsRefusedAndSetsNeedsReset(int size) {
        d.negotiate(Rig.ALL);
        d.writeCommon(VIRTIO_PCI_COMMON_Q_SELECT, 2, 1);
        d.writeCommon(VIRTIO_PCI_COMMON_Q_SIZE, 2, size);
        d.writeCommon(VIRTIO_PCI_COMMON_Q_ENABLE, 2, 1);
        assertThat(d.readCommon(VIRTIO_PCI_COMMON_Q_ENABLE, 2)).isZero();
        assertThat(d.status() & DeviceStatus.DEVICE_NEEDS_RESET).isNotZero();

        d.driverOk(); // Linux would not, but the device must not activate either
        assertThat(rig.device.activations.get()).isZero();
        d.reset();
        assertThat(d.status()).isZero();
    }

    @Test
    void queueResetReadsZeroAndIgnoresWritesWithoutRingReset() {
        d.negotiate(Rig.ALL);
        d.findVqs(2);
        d.driverOk();
        d.writeCommon(VIRTIO_PCI_COMMON_Q_SELECT, 2, 0);
        d.writeCommon(VIRTIO_PCI_COMMON_Q_RESET, 2, 1);
        assertThat(d.readCommon(VIRTIO_PCI_COMMON_Q_RESET, 2)).isZero();
        assertThat(d.readCommon(VIRTIO_PCI_COMMON_Q_ENABLE, 2)).isEqualTo(1);
        assertThat(rig.echo(0, "still running")).isEqualTo("still running");
        assertThat(rig.device.offeredFeatures() & VirtioFeatures.bit(VirtioFeatures.VIRTIO_F_RING_RESET)).isZero();
    }

    @Test
    void bytesPastTheLastFieldReadZero() {
        assertThat(d.readCommon(0x3C, 2)).isZero();
        assertThat(d.readCommon(0x3E, 2)).isZero();
        assertThat(rig.function.barHandler().read(0x40, 4)).isZero();
        assertThat(rig.function.barHandler().read(0xFFC, 4)).isZero();
    }
}
