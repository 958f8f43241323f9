package dev.vnet.bench;

import dev.vnet.virtio.Ring16;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;

/**
 * The driver's side of making buffers available (virtio 1.2, 2.7.13): a release store of
 * {@code avail.idx}, a full fence, then {@code vring_need_event} on the device's {@code avail_event}
 * (2.7.10). Shared by {@link TxDriver} and {@link RxDriver}.
 */
final class AvailPublish {

    private static final VarHandle U16_HANDLE =
            ValueLayout.JAVA_SHORT.withOrder(ByteOrder.LITTLE_ENDIAN).varHandle();

    private AvailPublish() {
    }

    /**
     * Publishes {@code availIdx}, {@code added} entries after the previous value.
     *
     * @param size the ring size ({@code avail_event} sits after the used ring's {@code size} elements)
     * @return whether the device asked to be notified of these entries
     */
    static boolean needsKick(MemorySegment avail, MemorySegment used, int size, int availIdx, int added) {
        int old = (availIdx - added) & 0xFFFF;
        U16_HANDLE.setRelease(avail, 2L, (short) availIdx);
        VarHandle.fullFence();
        int event = Short.toUnsignedInt((short) U16_HANDLE.getAcquire(used, 4 + 8L * size));
        return Ring16.needEvent(event, availIdx, old);
    }
}
