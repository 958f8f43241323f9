package dev.vnet.pci;

import dev.vnet.spi.InterruptLine;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The ISR status byte and the INTx pin it drives (virtio 1.2, 4.1.4.5 and 4.1.5.3-4).
 *
 * <p>Bit 0 ({@link VirtioPci#VIRTIO_PCI_ISR_QUEUE}) reports a used-buffer notification, bit 1
 * ({@link VirtioPci#VIRTIO_PCI_ISR_CONFIG}) a configuration change. The pin is asserted while any bit is
 * set, unless the command register's INTx Disable bit is set or MSI-X is enabled (PCI 3.0, 6.8.2: a
 * function with MSI-X enabled does not use INTx). A read at offset 0, of any size, returns the bits and
 * clears them, deasserting the pin; reads at other offsets return 0 and writes are ignored.
 *
 * <p>Threads: {@link #raise} comes from device workers, reads from vCPU threads. The pin level must
 * follow the bits exactly (a level-triggered line left asserted with no bit set would storm), so both
 * sides update bits and pin under this object's monitor. INTx is the fallback path; MSI-X
 * ({@link MsixTable}) is lock-free.
 */
final class IsrRegion {

    private static final InterruptLine NO_LINE = asserted -> { };
    private static final Logger LOG = LoggerFactory.getLogger(IsrRegion.class);
    private long lineFailures;

    private InterruptLine line = NO_LINE;
    private int isr;
    private boolean intxDisabled;
    private boolean msixEnabled;
    private boolean level;

    IsrRegion() {
        reset();
    }

    synchronized void attach(InterruptLine line) {
        this.line = line == null ? NO_LINE : line;
        level = false;
        update();
    }

    /** Virtio reset: no bit set, pin deasserted. The pin gates (command register, MSI-X) are PCI state and stay. */
    synchronized void reset() {
        isr = 0;
        update();
    }

    /** Sets {@code bits} and asserts the pin if allowed. */
    synchronized void raise(int bits) {
        isr |= bits;
        update();
    }

    /** Read-to-clear at offset 0 (4.1.4.5.1). */
    synchronized long read(long offset, int size) {
        if (offset != 0) {
            return 0;
        }
        int value = isr;
        isr = 0;
        update();
        return value;
    }

    /** Writes to the ISR are ignored (the field is read-only). */
    void write(long offset, int size, long value) {
        // read-only
    }

    /** The interrupt status bit of the PCI status register: an INTx condition is pending. */
    synchronized boolean pending() {
        return isr != 0;
    }

    synchronized int peek() {
        return isr;
    }

    synchronized void setIntxDisabled(boolean disabled) {
        intxDisabled = disabled;
        update();
    }

    synchronized void setMsixEnabled(boolean enabled) {
        msixEnabled = enabled;
        update();
    }

    private void update() {
        boolean want = isr != 0 && !intxDisabled && !msixEnabled;
        if (want != level) {
            level = want;
            try {
                line.set(want);
            } catch (RuntimeException e) {
                // A host fault: the level change is lost; the ISR bits stay, so the next change retries.
                if (lineFailures++ == 0) {
                    LOG.warn("INTx line failed (further failures are only counted)", e);
                }
            }
        }
    }

    /** Level changes the host's {@link InterruptLine} refused by throwing. */
    synchronized long lineFailures() {
        return lineFailures;
    }
}
