package dev.vnet.net;

import dev.vnet.spi.MacAddress;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.vnet.net.backend.InJvmBackend;
import dev.vnet.net.harness.Bed;
import dev.vnet.net.harness.PciBed;
import dev.vnet.testkit.pci.VirtioPciDriver;
import dev.vnet.net.harness.PlainBackend;
import dev.vnet.spi.Offloads;
import dev.vnet.virtio.FeatureRules;
import dev.vnet.virtio.VirtioFeatures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Configuration checks (QEMU realize), the offer, the dependency rules and the config space layout. */
class ConfigAndFeaturesTest {

    static VirtioNetDevice device(NetDeviceConfig c) {
        return new VirtioNetDevice(c, InJvmBackend.loopback(c.id(), c.queuePairs(), InJvmBackend.DEFAULT_RING_BYTES));
    }

    @ParameterizedTest(name = "rx queue size {0} is refused")
    @CsvSource({"0", "4", "100", "65536", "-256"})
    void badRxQueueSizesAreConfigurationErrors(int size) {
        assertThatThrownBy(() -> NetDeviceConfig.builder().queueSizes(size, 256).build())
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("rx-queue-size")
                .hasMessageContaining("power of two");
    }

    @Test
    void queueSizesReachTheSplitRingLimitThatVhostUserFrontEndsMayPick() {
        NetDeviceConfig c = NetDeviceConfig.builder().queueSizes(32768, 8).build();
        assertThat(c.rxQueueSize()).isEqualTo(32768);
        assertThat(c.txQueueSize()).isEqualTo(8);
    }

    @Test
    void badTxQueueSizeIsAConfigurationError() {
        assertThatThrownBy(() -> NetDeviceConfig.builder().queueSizes(256, 300).build())
                .hasMessageContaining("tx-queue-size: 300");
    }

    @Test
    void queuePairsMustFitTheQueueLimit() {
        assertThat(NetDeviceConfig.builder().queuePairs(511).build().queuePairs()).isEqualTo(511);
        assertThatThrownBy(() -> NetDeviceConfig.builder().queuePairs(512).build())
                .hasMessageContaining("queue-pairs: 512 needs 1025 queues");
        assertThatThrownBy(() -> NetDeviceConfig.builder().queuePairs(0).build()).hasMessageContaining("queue-pairs");
    }

    @Test
    void mtuAndMacAreChecked() {
        assertThatThrownBy(() -> NetDeviceConfig.builder().mtu(67).build()).hasMessageContaining("mtu: 67");
        assertThatThrownBy(() -> NetDeviceConfig.builder().mac("01:00:5e:00:00:01").build())
                .hasMessageContaining("multicast");
        assertThatThrownBy(() -> MacAddress.parse("52:54:00")).isInstanceOf(IllegalArgumentException.class);
        assertThat(MacAddress.parse("52:54:00:ab:cd:ef").toString()).isEqualTo("52:54:00:ab:cd:ef");
    }

    @Test
    void backendWithFewerQueuesThanConfiguredIsRefused() {
        NetDeviceConfig c = Bed.config().queuePairs(4).build();
        assertThatThrownBy(() -> new VirtioNetDevice(c, InJvmBackend.loopback("x", 2, InJvmBackend.DEFAULT_RING_BYTES)))
                .hasMessageContaining("queue-pairs: 4");
    }

    @Test
    void vnetBackendGetsEveryOffloadItSupports() {
        try (VirtioNetDevice d = device(Bed.config().queuePairs(2).build())) {
            long f = d.offeredFeatures();
            assertThat(f).isEqualTo(NetFeatures.ALL);
            assertThat(d.queueCount()).isEqualTo(5);
            assertThat(d.queueMaxSize(0)).isEqualTo(256);
            assertThat(d.queueMaxSize(4)).isEqualTo(64);
            assertThat(d.queueMaxSize(5)).isZero();
        }
    }

    @Test
    void backendWithoutVnetHeadersGetsSoftwareChecksumButNoSegmentationOrGuestOffloads() {
        NetDeviceConfig c = Bed.config().build();
        try (VirtioNetDevice d = new VirtioNetDevice(c, new PlainBackend(1, true))) {
            long f = d.offeredFeatures();
            assertThat(VirtioFeatures.has(f, NetFeatures.VIRTIO_NET_F_CSUM)).isTrue();
            assertThat(f & NetFeatures.HOST_GSO).isZero();
            assertThat(f & NetFeatures.GUEST_OFFLOADS).isZero();
            assertThat(VirtioFeatures.has(f, NetFeatures.VIRTIO_NET_F_MQ)).as("one pair").isFalse();
        }
    }

    @Test
    void vnetBackendWithOnlyChecksumOffloadGetsNoTso() {
        InJvmBackend inner = InJvmBackend.loopback("l", 1, InJvmBackend.DEFAULT_RING_BYTES);
        PlainBackend.Restricted b = new PlainBackend.Restricted(inner, Offloads.CSUM);
        try (VirtioNetDevice d = new VirtioNetDevice(Bed.config().build(), b)) {
            long f = d.offeredFeatures();
            assertThat(VirtioFeatures.has(f, NetFeatures.VIRTIO_NET_F_CSUM)).isTrue();
            assertThat(VirtioFeatures.has(f, NetFeatures.VIRTIO_NET_F_GUEST_CSUM)).isTrue();
            assertThat(f & (NetFeatures.HOST_GSO | NetFeatures.bits(NetFeatures.VIRTIO_NET_F_GUEST_TSO4,
                    NetFeatures.VIRTIO_NET_F_GUEST_TSO6, NetFeatures.VIRTIO_NET_F_GUEST_ECN))).isZero();
        }
    }

    @Test
    void switchingAFeatureOffWithdrawsWhatDependsOnIt() {
        NetDeviceConfig c = Bed.config().disable(NetFeatures.VIRTIO_NET_F_CTRL_VQ, NetFeatures.VIRTIO_NET_F_CSUM).build();
        try (VirtioNetDevice d = device(c)) {
            long f = d.offeredFeatures();
            for (int dep : new int[] {NetFeatures.VIRTIO_NET_F_CTRL_RX, NetFeatures.VIRTIO_NET_F_CTRL_RX_EXTRA,
                NetFeatures.VIRTIO_NET_F_CTRL_VLAN, NetFeatures.VIRTIO_NET_F_GUEST_ANNOUNCE,
                NetFeatures.VIRTIO_NET_F_CTRL_MAC_ADDR, NetFeatures.VIRTIO_NET_F_CTRL_GUEST_OFFLOADS,
                NetFeatures.VIRTIO_NET_F_HOST_TSO4, NetFeatures.VIRTIO_NET_F_HOST_TSO6, NetFeatures.VIRTIO_NET_F_HOST_ECN,
                NetFeatures.VIRTIO_NET_F_HOST_UFO, NetFeatures.VIRTIO_NET_F_HOST_USO}) {
                assertThat(VirtioFeatures.has(f, dep)).as(NetFeatures.name(dep)).isFalse();
            }
            assertThat(VirtioFeatures.has(f, NetFeatures.VIRTIO_NET_F_GUEST_TSO4)).isTrue();
        }
    }

    @ParameterizedTest(name = "{0} acked without {1} is refused")
    @CsvSource({
        "7, 1", "8, 1", "9, 1", "10, 1", "54, 1", "55, 1",
        "11, 0", "12, 0", "14, 0", "56, 0",
        "18, 17", "19, 17", "21, 17", "22, 17", "23, 17", "2, 17", "20, 18"})
    void dependencyViolationsAreRefused(int feature, int required) {
        FeatureRules rules = NetFeatures.rules(NetFeatures.ALL);
        long acked = NetFeatures.ALL & ~VirtioFeatures.bit(required);
        acked = acked & ~NetFeatures.ALL | VirtioFeatures.bit(feature) | VirtioFeatures.bit(VirtioFeatures.VIRTIO_F_VERSION_1);
        if (feature == 9) {
            acked |= VirtioFeatures.bit(NetFeatures.VIRTIO_NET_F_GUEST_TSO4);
        }
        if (feature == 20) {
            acked |= VirtioFeatures.bit(NetFeatures.VIRTIO_NET_F_CTRL_VQ);
        }
        assertThat(rules.violation(acked)).isNotNull().contains(NetFeatures.name(required));
        assertThat(rules.violation(acked | VirtioFeatures.bit(required))).isNull();
    }

    @Test
    void ecnNeedsTso4OrTso6() {
        FeatureRules rules = NetFeatures.rules(NetFeatures.ALL);
        long hostEcn = NetFeatures.bits(NetFeatures.VIRTIO_NET_F_CSUM, NetFeatures.VIRTIO_NET_F_HOST_ECN);
        assertThat(rules.violation(hostEcn)).contains("VIRTIO_NET_F_HOST_ECN acked without any of");
        assertThat(rules.violation(hostEcn | NetFeatures.bits(NetFeatures.VIRTIO_NET_F_HOST_TSO6))).isNull();
        long guestEcn = NetFeatures.bits(NetFeatures.VIRTIO_NET_F_GUEST_CSUM, NetFeatures.VIRTIO_NET_F_GUEST_ECN);
        assertThat(rules.violation(guestEcn)).contains("GUEST_ECN");
        assertThat(rules.violation(guestEcn | NetFeatures.bits(NetFeatures.VIRTIO_NET_F_GUEST_TSO4))).isNull();
        assertThat(rules.violation(VirtioFeatures.bit(40) | VirtioFeatures.bit(41))).contains("unoffered");
    }

    @ParameterizedTest(name = "config space with {0} is {1} bytes")
    @CsvSource({"none, 6", "STATUS, 8", "MQ, 10", "MTU, 12", "SPEED_DUPLEX, 17"})
    void configSpaceIsSizedByOfferedFeatures(String last, int size) {
        long f = NetFeatures.ALL & ~NetFeatures.bits(NetFeatures.VIRTIO_NET_F_STATUS, NetFeatures.VIRTIO_NET_F_MQ,
                NetFeatures.VIRTIO_NET_F_MTU, NetFeatures.VIRTIO_NET_F_SPEED_DUPLEX);
        int bit = switch (last) {
            case "STATUS" -> NetFeatures.VIRTIO_NET_F_STATUS;
            case "MQ" -> NetFeatures.VIRTIO_NET_F_MQ;
            case "MTU" -> NetFeatures.VIRTIO_NET_F_MTU;
            case "SPEED_DUPLEX" -> NetFeatures.VIRTIO_NET_F_SPEED_DUPLEX;
            default -> -1;
        };
        if (bit >= 0) {
            f |= VirtioFeatures.bit(bit);
        }
        try (VirtioNetDevice d = device(Bed.config().queuePairs(2).features(f).build())) {
            assertThat(d.configSize()).isEqualTo(size);
            assertThat(d.readConfig(size, 4)).as("past the end reads 0").isZero();
        }
    }

    @Test
    void configSpaceFieldsHoldTheConfiguration() {
        NetDeviceConfig c = Bed.config().mac("52:54:00:ab:cd:ef").mtu(9000).queuePairs(3)
                .speed(25_000, NetDeviceConfig.Duplex.FULL).build();
        try (VirtioNetDevice d = device(c)) {
            assertThat(d.readConfig(0, 1)).isEqualTo(0x52);
            assertThat(d.readConfig(3, 1)).isEqualTo(0xab);
            assertThat(d.readConfig(5, 1)).isEqualTo(0xef);
            assertThat(d.readConfig(6, 2)).isEqualTo(1).as("LINK_UP");
            assertThat(d.readConfig(8, 2)).isEqualTo(3);
            assertThat(d.readConfig(10, 2)).isEqualTo(9000);
            assertThat(d.readConfig(12, 4)).isEqualTo(25_000);
            assertThat(d.readConfig(16, 1)).isEqualTo(1);
            assertThat(d.readConfig(-1, 4)).isZero();
            assertThat(d.readConfig(0, 3)).as("bad access size").isZero();
            d.writeConfig(0, 1, 0xFF);
            assertThat(d.readConfig(0, 1)).as("read-only").isEqualTo(0x52);
        }
    }

    @Test
    void linkDownAtStartReadsStatusZeroAndUnknownSpeed() {
        NetDeviceConfig c = Bed.config().linkUp(false).speed(-1, NetDeviceConfig.Duplex.UNKNOWN).build();
        try (VirtioNetDevice d = device(c)) {
            assertThat(d.readConfig(6, 2)).isZero();
            assertThat(d.readConfig(12, 4)).isEqualTo(-1);
            assertThat(d.readConfig(16, 1)).isEqualTo(0xFF);
        }
    }

    @Test
    void theDriverReadsTheConfigSpaceThroughTheBarAndNegotiatesLinuxFeatures() {
        NetDeviceConfig c = PciBed.config().mac("52:54:00:ab:cd:ef").mtu(9000).queuePairs(3).build();
        try (PciBed bed = PciBed.loopback(c)) {
            assertThat(bed.driver.mac()).containsExactly(0x52, 0x54, 0x00, 0xab, 0xcd, 0xef);
            assertThat(bed.driver.mtu()).isEqualTo(9000);
            assertThat(bed.driver.maxQueuePairs()).isEqualTo(3);
            assertThat(bed.driver.linkUp()).isTrue();
            assertThat(bed.pci.deviceConfigLength()).isGreaterThanOrEqualTo(bed.device.configSize());
            assertThat(bed.device.negotiatedFeatures()).isEqualTo(bed.driver.features());
            assertThat(VirtioFeatures.has(bed.driver.features(), NetFeatures.VIRTIO_NET_F_CTRL_RX_EXTRA))
                    .as("not in Linux's table").isFalse();
            assertThat(bed.driver.mode()).isEqualTo(dev.vnet.testkit.net.VirtioNetDriver.RxMode.MERGEABLE);
        }
    }

    @Test
    void featuresOkIsRefusedThroughTheTransportForADependencyViolation() {
        NetDeviceConfig c = PciBed.config().build();
        try (VirtioNetDevice d = device(c);
             dev.vnet.testkit.FakeGuestMemory mem = dev.vnet.testkit.FakeGuestMemory.standard()) {
            var function = new dev.vnet.pci.VirtioPciFunction(d, mem.memory(),
                    dev.vnet.pci.VirtioPci.PCI_CLASS_NETWORK_ETHERNET);
            VirtioPciDriver pci = VirtioPciDriver.plug(function, mem);
            assertThat(pci.probe()).isEqualTo(VirtioNetDevice.VIRTIO_ID_NET);
            pci.addStatus(VirtioPciDriver.VIRTIO_CONFIG_S_DRIVER);
            pci.writeDriverFeatures(VirtioFeatures.bit(VirtioFeatures.VIRTIO_F_VERSION_1)
                    | VirtioFeatures.bit(NetFeatures.VIRTIO_NET_F_CTRL_RX));
            assertThat(pci.featuresOk()).as("CTRL_RX without CTRL_VQ").isFalse();
            function.close();
        }
    }
}
