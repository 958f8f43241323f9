package dev.vnet.pci;

import static org.assertj.core.api.Assertions.assertThat;

import dev.vnet.testkit.FakeGuestMemory;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The type-0 header block (4.1.2) on its own and through the function's config-space decoder. */
class PciConfigHeaderTest {

    private static final long BAR_SIZE = 0x8000;
    private final AtomicBoolean pending = new AtomicBoolean();
    private final PciConfigHeader header = new PciConfigHeader(0x1041, PciIdentity.of(0x020000), BAR_SIZE, 0x40,
            pending::get);
    private final FakeGuestMemory mem = FakeGuestMemory.standard();

    @AfterEach
    void close() {
        mem.close();
    }

    @Test
    void vendorAndModernNetDeviceIdAreRedHat1041WithRevision1() {
        assertThat(header.read(0x00, 2)).isEqualTo(0x1AF4);
        assertThat(header.read(0x02, 2)).isEqualTo(0x1041);
        assertThat(header.read(0x00, 4)).isEqualTo(0x1041_1AF4);
        assertThat(header.read(0x08, 1)).isEqualTo(1);
    }

    @Test
    void deviceIdIs0x1040PlusVirtioDeviceIdOfTheDevice() {
        try (Rig rig = new Rig()) {
            assertThat(rig.function.configRead(0x02, 2)).isEqualTo(0x1040 + EchoDevice.DEVICE_ID);
        }
    }

    @Test
    void classCodeAndSubsystemIdsComeFromTheIdentity() {
        PciConfigHeader h = new PciConfigHeader(0x1041, new PciIdentity(0x020000, 0x1234, 0x5678), BAR_SIZE, 0x40,
                () -> false);
        assertThat(h.read(0x09, 1)).isZero(); // prog-if
        assertThat(h.read(0x0A, 1)).isEqualTo(0x00); // subclass ethernet
        assertThat(h.read(0x0B, 1)).isEqualTo(0x02); // network controller
        assertThat(h.read(0x08, 4) >>> 8).isEqualTo(0x020000);
        assertThat(h.read(0x2C, 2)).isEqualTo(0x1234);
        assertThat(h.read(0x2E, 2)).isEqualTo(0x5678);
    }

    @Test
    void defaultSubsystemIsQemus1af4_1100() {
        assertThat(header.read(0x2C, 4)).isEqualTo(0x1100_1AF4);
    }

    @Test
    void commandKeepsOnlyMemoryBusMasterAndIntxDisable() {
        header.write(0x04, 2, 0xFFFF);
        assertThat(header.read(0x04, 2)).isEqualTo(0x0406);
        assertThat(header.memoryEnabled()).isTrue();
        assertThat(header.busMaster()).isTrue();
        assertThat(header.intxDisabled()).isTrue();
        header.write(0x04, 1, 0x00); // low byte only: memory and master off, INTx disable stays
        assertThat(header.read(0x04, 2)).isEqualTo(0x0400);
    }

    @Test
    void statusHasCapabilitiesListBitAndReflectsPendingInterrupt() {
        assertThat(header.read(0x06, 2)).isEqualTo(0x0010);
        pending.set(true);
        assertThat(header.read(0x06, 2)).isEqualTo(0x0018);
        header.write(0x06, 2, 0xFFFF); // no RW1C bits in use: ignored
        assertThat(header.read(0x06, 2)).isEqualTo(0x0018);
        assertThat(header.read(0x34, 1)).isEqualTo(0x40);
    }

    @Test
    void barSizingAllOnesReadsBackSizeMaskWith64BitTypeBits() {
        assertThat(header.read(0x10, 4)).isEqualTo(0x4); // 64-bit, non-prefetchable, address 0
        header.write(0x10, 4, 0xFFFF_FFFF);
        header.write(0x14, 4, 0xFFFF_FFFF);
        int lo = header.read(0x10, 4);
        int hi = header.read(0x14, 4);
        assertThat(lo).isEqualTo((int) (0xFFFF_FFFFL & ~(BAR_SIZE - 1)) | 0x4);
        assertThat(hi).isEqualTo(0xFFFF_FFFF);
        long mask = (Integer.toUnsignedLong(lo) & ~0xFL) | (Integer.toUnsignedLong(hi) << 32);
        assertThat(~mask + 1).isEqualTo(BAR_SIZE);
    }

    @Test
    void barAddressBitsBelowTheSizeAreHardwiredToZero() {
        header.write(0x10, 4, 0xC000_1234);
        header.write(0x14, 4, 0x1);
        assertThat(header.barAddress()).isEqualTo(0x1_C000_0000L);
        assertThat(header.read(0x10, 4)).isEqualTo(0xC000_0004);
    }

    @Test
    void unimplementedBarsCardbusAndExpansionRomReadZeroEvenAfterAllOnes() {
        for (int reg = 0x18; reg <= 0x30; reg += 4) {
            if (reg == 0x2C) {
                continue;
            }
            header.write(reg, 4, 0xFFFF_FFFF);
            assertThat(header.read(reg, 4)).as("0x%x", reg).isZero();
        }
    }

    @Test
    void interruptLineIsReadWriteAndPinIsIntA() {
        header.write(0x3C, 1, 11);
        assertThat(header.read(0x3C, 1)).isEqualTo(11);
        header.write(0x3D, 1, 4);
        assertThat(header.read(0x3D, 1)).isEqualTo(1);
        header.write(0x3C, 4, 0xFFFF_FF05);
        assertThat(header.read(0x3C, 4)).isEqualTo(0x0000_0105);
    }

    @Test
    void readOnlyIdentificationIgnoresWrites() {
        header.write(0x00, 4, 0);
        header.write(0x08, 4, 0);
        header.write(0x2C, 4, 0);
        header.write(0x34, 1, 0x80);
        assertThat(header.read(0x00, 4)).isEqualTo(0x1041_1AF4);
        assertThat(header.read(0x08, 4)).isEqualTo(0x0200_0001);
        assertThat(header.read(0x34, 1)).isEqualTo(0x40);
    }

    @Test
    void byteAndWordReadsInsideADwordMatchTheDword() {
        int dword = header.read(0x00, 4);
        for (int i = 0; i < 4; i++) {
            assertThat(header.read(i, 1)).isEqualTo((dword >>> (8 * i)) & 0xFF);
        }
        assertThat(header.read(0x02, 2)).isEqualTo(dword >>> 16);
    }

    @Test
    void accessesCrossingADwordOrOfBadSizeReadZeroAndAreIgnored() {
        try (Rig rig = new Rig()) {
            VirtioPciFunction f = rig.function;
            assertThat(f.configRead(0x03, 2)).isZero(); // crosses 0x04
            assertThat(f.configRead(0x02, 4)).isZero(); // unaligned dword
            assertThat(f.configRead(0x00, 3)).isZero();
            assertThat(f.configRead(0x00, 8)).isZero();
            assertThat(f.configRead(-4, 4)).isZero();
            assertThat(f.configRead(4096, 1)).isZero();
            assertThat(f.configRead(0x100, 4)).isZero(); // no extended capabilities
            int command = f.configRead(0x04, 2);
            f.configWrite(0x03, 2, 0xFFFF);
            f.configWrite(0x04, 3, 0xFFFFFF);
            f.configWrite(4094, 4, -1);
            assertThat(f.configRead(0x04, 2)).isEqualTo(command);
        }
    }

    @Test
    void resetReturnsToPowerOnState() {
        header.write(0x04, 2, 0x0406);
        header.write(0x10, 4, 0xC000_0000);
        header.write(0x3C, 1, 9);
        header.reset();
        assertThat(header.read(0x04, 2)).isZero();
        assertThat(header.barAddress()).isZero();
        assertThat(header.read(0x3C, 1)).isZero();
    }
}
