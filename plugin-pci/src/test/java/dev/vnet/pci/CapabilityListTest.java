package dev.vnet.pci;

import static org.assertj.core.api.Assertions.assertThat;

import dev.vnet.testkit.FakeGuestMemory;
import dev.vnet.testkit.pci.LspciFormatter;
import dev.vnet.testkit.pci.VirtioPciDriver;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The capability chain (4.1.4) as a driver walks it. */
class CapabilityListTest {

    @Test
    void lspciPrintsTheCapabilityChainInTheSpecLayout() {
        try (Rig rig = new Rig()) {
            rig.driver.probe();
            List<String> lines = LspciFormatter.format(rig.function);
            lines.forEach(System.out::println);

            BarLayout layout = rig.function.layout();
            assertThat(layout.barSize()).isEqualTo(0x8000);
            assertThat(lines).containsExactly(
                    "1af4:1041 (rev 01) class 020000",
                    "Subsystem: 1af4:1100",
                    "Control: Mem+ BusMaster+ DisINTx-",
                    "Status: Cap+ INTx-",
                    "Interrupt: pin A routed to IRQ 0",
                    "Region 0: Memory at c0000000 (64-bit, non-prefetchable)",
                    "Capabilities: [40] Vendor Specific Information: VirtIO: CommonCfg len=16",
                    "\t\tBAR=0 offset=00000000 size=00000040",
                    "Capabilities: [50] Vendor Specific Information: VirtIO: Notify len=20",
                    "\t\tBAR=0 offset=00003000 size=00000008 multiplier=00000004",
                    "Capabilities: [64] Vendor Specific Information: VirtIO: ISR len=16",
                    "\t\tBAR=0 offset=00001000 size=00000001",
                    "Capabilities: [74] Vendor Specific Information: VirtIO: DeviceCfg len=16",
                    "\t\tBAR=0 offset=00002000 size=00000008",
                    "Capabilities: [84] Vendor Specific Information: VirtIO: PCI-Cfg len=20",
                    "Capabilities: [98] MSI-X: Enable- Count=3 Masked-",
                    "\t\tVector table: BAR=0 offset=00004000",
                    "\t\tPBA: BAR=0 offset=00005000");
            assertThat(rig.driver.virtioCapabilities()).containsExactly(0x40, 0x50, 0x64, 0x74, 0x84);
            assertThat(rig.driver.msixCapability()).isEqualTo(0x98);
            assertThat(rig.driver.notifyMultiplier()).isEqualTo(BarLayout.NOTIFY_OFF_MULTIPLIER);
            assertThat(rig.driver.msixTableSize()).isEqualTo(3); // queues + 1
        }
    }

    @Test
    void vendorCapabilitiesAreReadOnly() {
        try (Rig rig = new Rig()) {
            VirtioPciFunction f = rig.function;
            int[] before = new int[0x98 / 4];
            for (int o = 0x40; o < 0x84; o += 4) {
                before[o / 4] = f.configRead(o, 4);
                f.configWrite(o, 4, 0xA5A5_A5A5);
            }
            for (int o = 0x40; o < 0x84; o += 4) {
                assertThat(f.configRead(o, 4)).as("0x%x", o).isEqualTo(before[o / 4]);
            }
        }
    }

    @Test
    void msixCapabilityOnlyEnableAndFunctionMaskAreWritable() {
        try (Rig rig = new Rig()) {
            VirtioPciFunction f = rig.function;
            int table = f.configRead(0x98 + 4, 4);
            f.configWrite(0x98, 4, 0xFFFF_FFFF);
            f.configWrite(0x98 + 4, 4, 0);
            assertThat(f.configRead(0x98, 4)).isEqualTo(0xC002_0011); // enable, mask, size-1 = 2, next 0, id 0x11
            assertThat(f.configRead(0x98 + 4, 4)).isEqualTo(table);
            f.configWrite(0x98 + 3, 1, 0x00); // byte write of the control's high byte
            assertThat(f.configRead(0x98 + 2, 2)).isEqualTo(0x0002);
        }
    }

    @Test
    void deviceCapabilityIsOmittedWhenTheDeviceHasNoConfigSpace() {
        EchoDevice noConfig = new EchoDevice(2, 256, false, 0);
        try (FakeGuestMemory mem = FakeGuestMemory.standard();
             VirtioPciFunction f = new VirtioPciFunction(noConfig, mem.memory(), 0xFF0000)) {
            VirtioPciDriver driver = VirtioPciDriver.plug(f, mem);
            driver.probe();
            assertThat(driver.virtioCapabilities()).containsExactly(0x40, 0x50, 0x64, 0, 0x74);
            assertThat(LspciFormatter.format(f)).noneMatch(l -> l.contains("DeviceCfg"));
        }
    }

    @Test
    void byteReadsOfTheChainMatchDwordReads() {
        try (Rig rig = new Rig()) {
            for (int o = 0x40; o < 0xA4; o += 4) {
                int dword = rig.function.configRead(o, 4);
                for (int i = 0; i < 4; i++) {
                    assertThat(rig.function.configRead(o + i, 1)).isEqualTo((dword >>> (8 * i)) & 0xFF);
                }
            }
            assertThat(rig.function.configRead(0xA4, 4)).isZero();
        }
    }

    @Test
    void layoutGrowsWithTheQueueCount() {
        BarLayout big = new BarLayout(129, 64);
        assertThat(big.msixVectors()).isEqualTo(130);
        assertThat(big.msixTableOffset()).isEqualTo(0x4000);
        assertThat(big.pbaOffset()).isEqualTo(0x4000 + 0x1000);
        assertThat(big.pbaLength()).isEqualTo(24);
        assertThat(big.barSize()).isEqualTo(0x8000);
        assertThat(new BarLayout(2047, 0).msixVectors()).isEqualTo(2048);
    }
}
