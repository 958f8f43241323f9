package dev.vnet.pci;

import static dev.vnet.pci.MsixTable.PCI_MSIX_FLAGS_ENABLE;
import static dev.vnet.pci.MsixTable.PCI_MSIX_FLAGS_MASKALL;
import static org.assertj.core.api.Assertions.assertThat;
import static org.mockito.ArgumentMatchers.anyInt;
import static org.mockito.ArgumentMatchers.anyLong;
import static org.mockito.Mockito.mock;
import static org.mockito.Mockito.never;
import static org.mockito.Mockito.times;
import static org.mockito.Mockito.verify;
import static org.mockito.Mockito.verifyNoInteractions;

import dev.vnet.spi.MsiSink;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** MSI-X table, PBA and Message Control (PCI 3.0 6.8.2) as a state machine. */
class MsixTableTest {

    private final AtomicInteger enableChanges = new AtomicInteger();
    private final MsixTable msix = new MsixTable(3, enableChanges::incrementAndGet);
    private final MsiSink sink = mock(MsiSink.class);

    @BeforeEach
    void program() {
        msix.attach(sink);
        for (int v = 0; v < 3; v++) {
            msix.writeTable(16L * v, 8, 0xFEE0_0000L);
            msix.writeTable(16L * v + 8, 4, 0x40 + v);
        }
    }

    private void unmask(int v) {
        msix.writeTable(16L * v + 12, 4, 0);
    }

    private void mask(int v) {
        msix.writeTable(16L * v + 12, 4, 1);
    }

    @Test
    void powerOnHasEveryVectorMaskedMsixDisabledAndTableSizeMinusOne() {
        MsixTable fresh = new MsixTable(5, () -> { });
        assertThat(fresh.messageControl()).isEqualTo(4);
        for (int v = 0; v < 5; v++) {
            assertThat(fresh.readTable(16L * v + 12, 4)).isEqualTo(1);
            assertThat(fresh.readTable(16L * v, 8)).isZero();
        }
        assertThat(fresh.readPba(0, 8)).isZero();
    }

    @Test
    void unmaskedVectorWithMsixEnabledSendsItsMessage() {
        msix.writeMessageControl(PCI_MSIX_FLAGS_ENABLE);
        unmask(1);
        msix.notify(1);
        verify(sink).send(0xFEE0_0000L, 0x41);
        assertThat(msix.isPending(1)).isFalse();
    }

    @Test
    void maskedVectorSetsItsPendingBitAndFiresOnUnmask() {
        msix.writeMessageControl(PCI_MSIX_FLAGS_ENABLE);
        msix.notify(2);
        msix.notify(2);
        verifyNoInteractions(sink);
        assertThat(msix.readPba(0, 8)).isEqualTo(0b100);
        assertThat(msix.readPba(0, 4)).isEqualTo(0b100);

        unmask(2);

        verify(sink, times(1)).send(0xFEE0_0000L, 0x42);
        assertThat(msix.readPba(0, 8)).isZero();
    }

    @Test
    void functionMaskHoldsEveryVectorAndUnmaskingTheFunctionReleasesPendingOnes() {
        msix.writeMessageControl(PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);
        unmask(0);
        unmask(1);
        msix.notify(0);
        msix.notify(1);
        verifyNoInteractions(sink);
        assertThat(msix.readPba(0, 8)).isEqualTo(0b11);

        msix.writeMessageControl(PCI_MSIX_FLAGS_ENABLE);

        verify(sink).send(0xFEE0_0000L, 0x40);
        verify(sink).send(0xFEE0_0000L, 0x41);
        assertThat(msix.readPba(0, 8)).isZero();
    }

    @Test
    void pendingVectorStillMaskedStaysPendingWhenTheFunctionIsUnmasked() {
        msix.writeMessageControl(PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);
        msix.notify(0);
        msix.writeMessageControl(PCI_MSIX_FLAGS_ENABLE);
        verifyNoInteractions(sink);
        assertThat(msix.isPending(0)).isTrue();
        unmask(0);
        verify(sink).send(0xFEE0_0000L, 0x40);
    }

    @Test
    void disabledMsixHoldsTheMessageUntilEnabled() {
        unmask(0);
        msix.notify(0);
        verifyNoInteractions(sink);
        msix.writeMessageControl(PCI_MSIX_FLAGS_ENABLE);
        verify(sink).send(0xFEE0_0000L, 0x40);
        assertThat(enableChanges.get()).isEqualTo(1);
    }

    @Test
    void vectorsOutsideTheTableAndNoVectorAreDropped() {
        msix.writeMessageControl(PCI_MSIX_FLAGS_ENABLE);
        msix.notify(3);
        msix.notify(VirtioPci.VIRTIO_MSI_NO_VECTOR);
        msix.notify(-1);
        verifyNoInteractions(sink);
        assertThat(msix.readPba(0, 8)).isZero();
    }

    @Test
    void tableTakesAligned4And8ByteAccessesOnly() {
        msix.writeTable(16, 2, 0xFFFF);
        msix.writeTable(17, 4, -1);
        msix.writeTable(20, 8, -1); // 8-byte access not 8-aligned
        msix.writeTable(16 * 3, 4, 1); // past the table
        assertThat(msix.readTable(16, 8)).isEqualTo(0xFEE0_0000L);
        assertThat(msix.readTable(16, 2)).isZero();
        assertThat(msix.readTable(18, 4)).isZero();
        assertThat(msix.readTable(16 * 3, 4)).isZero();
        assertThat(msix.readTable(24, 4)).isEqualTo(0x41);
    }

    @Test
    void vectorControlReservedBitsReadZero() {
        msix.writeTable(12, 4, 0xFFFF_FFFEL);
        assertThat(msix.readTable(12, 4)).isZero();
        msix.writeTable(12, 4, 0xFFFF_FFFFL);
        assertThat(msix.readTable(12, 4)).isEqualTo(1);
    }

    @Test
    void clearPendingDropsPendingBitsButKeepsTableAndControl() {
        msix.writeMessageControl(PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);
        unmask(1);
        msix.notify(1);
        msix.clearPending();
        assertThat(msix.readPba(0, 8)).isZero();
        assertThat(msix.messageControl()).isEqualTo(PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL | 2);
        assertThat(msix.readTable(16 + 8, 4)).isEqualTo(0x41);
        assertThat(msix.readTable(16 + 12, 4)).isZero();
        msix.writeMessageControl(PCI_MSIX_FLAGS_ENABLE);
        verify(sink, never()).send(anyLong(), anyInt());
    }

    @Test
    void resetIsPowerOnState() {
        msix.writeMessageControl(PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);
        unmask(0);
        msix.notify(0);
        msix.reset();
        assertThat(msix.messageControl()).isEqualTo(2);
        assertThat(msix.readTable(0, 8)).isZero();
        assertThat(msix.readTable(12, 4)).isEqualTo(1);
        assertThat(msix.readPba(0, 8)).isZero();
    }

    @Test
    void concurrentSignalAndUnmaskDeliverExactlyOnce() throws Exception {
        AtomicInteger sent = new AtomicInteger();
        MsixTable table = new MsixTable(1, () -> { });
        table.attach((address, data) -> sent.incrementAndGet());
        table.writeMessageControl(PCI_MSIX_FLAGS_ENABLE);
        CyclicBarrier barrier = new CyclicBarrier(2);
        int rounds = 2000;
        Thread worker = Thread.ofPlatform().start(() -> {
            for (int i = 0; i < rounds; i++) {
                await(barrier);
                table.notify(0);
                await(barrier);
            }
        });
        int expected = 0;
        for (int i = 0; i < rounds; i++) {
            table.writeTable(12, 4, 1);
            int before = sent.get();
            await(barrier);
            table.writeTable(12, 4, 0); // races with notify
            await(barrier);
            int delivered = sent.get() - before;
            assertThat(delivered).as("round %d", i).isEqualTo(1);
            assertThat(table.isPending(0)).isFalse();
            expected++;
        }
        worker.join();
        assertThat(sent.get()).isEqualTo(expected);
    }

    private static void await(CyclicBarrier barrier) {
        try {
            barrier.await();
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }
}
