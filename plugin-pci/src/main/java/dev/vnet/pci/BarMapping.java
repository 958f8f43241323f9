package dev.vnet.pci;

import dev.vnet.spi.MmioBus;
import dev.vnet.spi.MmioHandler;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps the host's memory bus in step with the BAR: mapped at the programmed address while memory
 * decoding is on and the address is not 0, remapped when the guest moves it, unmapped when decoding goes
 * off or on {@link #reset}. A range the host refuses ({@link IllegalArgumentException} from
 * {@link MmioBus#map}, for example the all-ones sizing pattern) leaves the BAR unmapped until the next
 * change. Called on vCPU threads under the transport lock.
 */
final class BarMapping {

    private static final Logger LOG = LoggerFactory.getLogger(BarMapping.class);

    private final long size;
    private final MmioHandler handler;
    private MmioBus bus;
    private MmioBus.Mapping mapping;
    private long mappedAt;
    /** The last address the host refused, so that we do not retry it on every config write. */
    private long refusedAt = -1;

    BarMapping(long size, MmioHandler handler) {
        this.size = size;
        this.handler = handler;
        reset();
    }

    void attach(MmioBus bus) {
        reset();
        this.bus = bus;
    }

    /** Unmaps. */
    void reset() {
        if (mapping != null) {
            mapping.close();
            mapping = null;
        }
        refusedAt = -1;
    }

    /** Whether the BAR is mapped, and where. */
    boolean isMapped() {
        return mapping != null;
    }

    long mappedAt() {
        return mappedAt;
    }

    void update(boolean decode, long address) {
        boolean want = decode && address != 0 && bus != null;
        if (mapping != null && (!want || mappedAt != address)) {
            mapping.close();
            mapping = null;
        }
        if (!want) {
            refusedAt = -1;
            return;
        }
        if (mapping != null || address == refusedAt) {
            return;
        }
        try {
            mapping = bus.map(address, size, handler);
            mappedAt = address;
            refusedAt = -1;
        } catch (IllegalArgumentException e) {
            LOG.info("host refused to map BAR{} at 0x{}: {}", BarLayout.BAR_INDEX, Long.toHexString(address),
                    e.getMessage());
            refusedAt = address;
        }
    }
}
