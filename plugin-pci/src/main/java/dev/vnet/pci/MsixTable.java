package dev.vnet.pci;

import dev.vnet.spi.MsiSink;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The MSI-X table, pending bit array and Message Control state (PCI Local Bus 3.0, 6.8.2; virtio 1.2,
 * 4.1.4.3 and 4.1.5.1.2 for how virtio uses the vectors).
 *
 * <p>Table entry layout (16 bytes): message address low (0x0), high (0x4), message data (0x8), vector
 * control (0xC, bit 0 = mask). At power-on every entry is masked, MSI-X is disabled and the function is
 * unmasked. A vector that is signalled while masked (per-vector or function mask, or MSI-X disabled)
 * sets its pending bit; the bit is cleared and the message sent when the vector becomes deliverable.
 *
 * <p>Accesses: the table takes aligned 4- and 8-byte reads and writes; only the mask bit of vector
 * control is writable. The PBA takes aligned 4- and 8-byte reads and ignores writes. Any other size or
 * alignment reads 0 and is ignored, as PCI allows.
 *
 * <p>Threads: {@link #notify} runs on device worker threads without any lock and allocates nothing:
 * entries live in an {@link AtomicIntegerArray} and pending bits are set and claimed with atomic
 * bitwise operations, so a vector unmasked on a vCPU thread while a worker signals it is delivered
 * exactly once (whichever side claims the pending bit sends it). Register accesses come from vCPU threads
 * serialized by the transport. An entry rewritten while unmasked may be sent half-updated; the PCI
 * specification leaves that undefined and drivers mask first.
 */
final class MsixTable {

    /** PCI capability id of MSI-X. */
    static final int PCI_CAP_ID_MSIX = 0x11;
    /** Message Control: table size minus one. */
    static final int PCI_MSIX_FLAGS_QSIZE = 0x07FF;
    /** Message Control: function mask. */
    static final int PCI_MSIX_FLAGS_MASKALL = 0x4000;
    /** Message Control: MSI-X enable. */
    static final int PCI_MSIX_FLAGS_ENABLE = 0x8000;
    static final int PCI_MSIX_ENTRY_SIZE = 16;
    static final int PCI_MSIX_ENTRY_LOWER_ADDR = 0x0;
    static final int PCI_MSIX_ENTRY_UPPER_ADDR = 0x4;
    static final int PCI_MSIX_ENTRY_DATA = 0x8;
    static final int PCI_MSIX_ENTRY_VECTOR_CTRL = 0xC;
    static final int PCI_MSIX_ENTRY_CTRL_MASKBIT = 0x1;
    /** The largest table MSI-X allows. */
    static final int MAX_VECTORS = 2048;

    private static final VarHandle PBA = MethodHandles.arrayElementVarHandle(long[].class);
    private static final MsiSink NO_SINK = (address, data) -> { };
    private static final Logger LOG = LoggerFactory.getLogger(MsixTable.class);
    private final AtomicLong sinkFailures = new AtomicLong();

    private final int vectors;
    /** Four dwords per vector: address low, address high, data, vector control. */
    private final AtomicIntegerArray entries;
    private final long[] pending;
    private volatile boolean enabled;
    private volatile boolean functionMasked;
    private volatile MsiSink sink = NO_SINK;
    private final Runnable enableListener;

    /** @param enableListener told after the enable bit changed (the INTx pin must stop or resume) */
    MsixTable(int vectors, Runnable enableListener) {
        if (vectors < 1 || vectors > MAX_VECTORS) {
            throw new IllegalArgumentException("MSI-X table of " + vectors + " vectors");
        }
        this.vectors = vectors;
        this.entries = new AtomicIntegerArray(vectors * 4);
        this.pending = new long[(vectors + 63) / 64];
        this.enableListener = enableListener;
        reset();
    }

    void attach(MsiSink sink) {
        this.sink = sink == null ? NO_SINK : sink;
    }

    /** PCI power-on state: MSI-X disabled, function unmasked, every entry zero and masked, nothing pending. */
    void reset() {
        for (int v = 0; v < vectors; v++) {
            entries.set(4 * v, 0);
            entries.set(4 * v + 1, 0);
            entries.set(4 * v + 2, 0);
            entries.set(4 * v + 3, PCI_MSIX_ENTRY_CTRL_MASKBIT);
        }
        clearPending();
        boolean wasEnabled = enabled;
        enabled = false;
        functionMasked = false;
        if (wasEnabled) {
            enableListener.run();
        }
    }

    /** Drops every pending bit (a virtio reset: pending messages belong to the previous driver). */
    void clearPending() {
        for (int i = 0; i < pending.length; i++) {
            PBA.setVolatile(pending, i, 0L);
        }
    }

    int vectors() {
        return vectors;
    }

    boolean isEnabled() {
        return enabled;
    }

    boolean isFunctionMasked() {
        return functionMasked;
    }

    // ---- Message Control (in the capability) ----

    int messageControl() {
        return (vectors - 1) | (functionMasked ? PCI_MSIX_FLAGS_MASKALL : 0) | (enabled ? PCI_MSIX_FLAGS_ENABLE : 0);
    }

    /** Only the enable and function-mask bits are writable; the table size is read-only. */
    void writeMessageControl(int value) {
        boolean wasEnabled = enabled;
        enabled = (value & PCI_MSIX_FLAGS_ENABLE) != 0;
        functionMasked = (value & PCI_MSIX_FLAGS_MASKALL) != 0;
        if (wasEnabled != enabled) {
            enableListener.run();
        }
        if (enabled && !functionMasked) {
            for (int v = 0; v < vectors; v++) {
                if (!isMasked(v)) {
                    deliverPending(v);
                }
            }
        }
    }

    // ---- table and PBA (in the BAR) ----

    long readTable(long offset, int size) {
        if (offset < 0 || offset + size > (long) vectors * PCI_MSIX_ENTRY_SIZE) {
            return 0;
        }
        int dword = (int) (offset >>> 2);
        if (size == 4 && (offset & 3) == 0) {
            return Integer.toUnsignedLong(entries.get(dword));
        }
        if (size == 8 && (offset & 7) == 0) {
            return Integer.toUnsignedLong(entries.get(dword)) | ((long) entries.get(dword + 1) << 32);
        }
        return 0;
    }

    void writeTable(long offset, int size, long value) {
        if (offset < 0 || offset + size > (long) vectors * PCI_MSIX_ENTRY_SIZE) {
            return;
        }
        int dword = (int) (offset >>> 2);
        if (size == 4 && (offset & 3) == 0) {
            writeDword(dword, (int) value);
        } else if (size == 8 && (offset & 7) == 0) {
            writeDword(dword, (int) value);
            writeDword(dword + 1, (int) (value >>> 32));
        }
    }

    private void writeDword(int dword, int value) {
        int vector = dword >>> 2;
        if ((dword & 3) == PCI_MSIX_ENTRY_VECTOR_CTRL / 4) {
            entries.set(dword, value & PCI_MSIX_ENTRY_CTRL_MASKBIT);
            if (!isMasked(vector)) {
                deliverPending(vector);
            }
        } else {
            entries.set(dword, value);
        }
    }

    long readPba(long offset, int size) {
        long bytes = pending.length * 8L;
        if (offset < 0 || offset + size > bytes) {
            return 0;
        }
        long word = (long) PBA.getVolatile(pending, (int) (offset >>> 3));
        if (size == 8 && (offset & 7) == 0) {
            return word;
        }
        if (size == 4 && (offset & 3) == 0) {
            return (word >>> (8 * (offset & 4))) & 0xFFFF_FFFFL;
        }
        return 0;
    }

    boolean isPending(int vector) {
        return ((long) PBA.getVolatile(pending, vector >>> 6) & (1L << (vector & 63))) != 0;
    }

    boolean isVectorMasked(int vector) {
        return (entries.get(4 * vector + 3) & PCI_MSIX_ENTRY_CTRL_MASKBIT) != 0;
    }

    // ---- delivery ----

    /**
     * Signals {@code vector}: sends its message now, or sets its pending bit when it is masked. Vectors
     * outside the table (including {@link VirtioPci#VIRTIO_MSI_NO_VECTOR}) are dropped. Lock-free and
     * allocation-free; callable from any thread.
     */
    void notify(int vector) {
        if (vector < 0 || vector >= vectors) {
            return;
        }
        if (isMasked(vector)) {
            PBA.getAndBitwiseOr(pending, vector >>> 6, 1L << (vector & 63));
            // An unmask may have slipped in between the check and the store: claim the bit ourselves.
            if (!isMasked(vector)) {
                deliverPending(vector);
            }
            return;
        }
        send(vector);
    }

    private boolean isMasked(int vector) {
        return !enabled || functionMasked || (entries.get(4 * vector + 3) & PCI_MSIX_ENTRY_CTRL_MASKBIT) != 0;
    }

    /** Sends {@code vector} if its pending bit was set, clearing it; the atomic claim makes it once-only. */
    private void deliverPending(int vector) {
        long bit = 1L << (vector & 63);
        long old = (long) PBA.getAndBitwiseAnd(pending, vector >>> 6, ~bit);
        if ((old & bit) != 0) {
            send(vector);
        }
    }

    private void send(int vector) {
        long address = Integer.toUnsignedLong(entries.get(4 * vector))
                | ((long) entries.get(4 * vector + 1) << 32);
        try {
            sink.send(address, entries.get(4 * vector + 2));
        } catch (RuntimeException e) {
            // A host fault: the message is lost, the device and the calling worker or vCPU thread go on.
            if (sinkFailures.getAndIncrement() == 0) {
                LOG.warn("MSI-X sink failed for vector {} (further failures are only counted)", vector, e);
            }
        }
    }

    /** Messages the host's {@link dev.vnet.spi.MsiSink} refused by throwing (each one is lost). */
    long sinkFailures() {
        return sinkFailures.get();
    }
}
