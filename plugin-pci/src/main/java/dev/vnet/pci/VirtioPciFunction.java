package dev.vnet.pci;

import dev.vnet.spi.GuestMemory;
import dev.vnet.spi.MmioHandler;
import dev.vnet.spi.PciBar;
import dev.vnet.spi.PciFunction;
import dev.vnet.spi.PciFunctionContext;
import dev.vnet.virtio.VirtioDevice;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A virtio device presented as a modern virtio-pci function (virtio 1.2, 4.1): a type-0 header with
 * vendor 0x1AF4 and device 0x1040 + device id, the virtio capabilities, MSI-X with one vector per queue
 * plus one for configuration changes, INTx as the fallback, and a single 64-bit memory BAR laid out by
 * {@link BarLayout}.
 *
 * <p>Usage by a host: construct around a {@link VirtioDevice}, {@link #attach} to the PCI bus, forward
 * configuration accesses; the function maps BAR0 on {@link PciFunctionContext#mmio()} itself when the
 * guest programs an address and enables memory decoding.
 *
 * <pre>{@code
 * VirtioPciFunction nic = new VirtioPciFunction(netDevice, guestMemory, VirtioPci.PCI_CLASS_NETWORK_ETHERNET);
 * nic.attach(new PciFunctionContext(mmioBus, pioBus, intxLine, msiSink));
 * }</pre>
 *
 * <p>Threads: configuration and BAR accesses may come from any vCPU thread; they are serialized by one
 * lock (which also serializes the calls into the {@link VirtioDevice}, as its contract asks). Device
 * workers raise interrupts and report errors without that lock. Nothing guest-controlled throws: bad
 * offsets and sizes read 0 and are ignored, and as a last resort any exception from a register block is
 * logged and swallowed at this boundary.
 */
public final class VirtioPciFunction implements PciFunction {

    private static final Logger LOG = LoggerFactory.getLogger(VirtioPciFunction.class);

    private final Object lock = new Object();
    private final VirtioDevice device;
    private final BarLayout layout;
    private final PciConfigHeader header;
    private final CapabilityList capabilities;
    private final MsixTable msix;
    private final IsrRegion isr;
    private final DeviceLifecycle lifecycle;
    private final CommonConfig common;
    private final NotifyRegion notify;
    private final DeviceConfigWindow deviceConfig;
    private final BarHandler bar = new BarHandler();
    private final BarMapping barMapping;
    /** Exceptions swallowed at the vCPU boundary: each one is a transport or device bug. */
    private final AtomicLong internalErrors = new AtomicLong();

    /** A function with QEMU's subsystem ids and the given 24-bit class code. */
    public VirtioPciFunction(VirtioDevice device, GuestMemory memory, int classCode) {
        this(device, memory, PciIdentity.of(classCode));
    }

    /**
     * @param device   the virtio device; the function registers its configuration change listener
     * @param memory   guest RAM, where the driver's rings live
     * @param identity class code and subsystem ids
     * @throws IllegalArgumentException when the device has no queues, more than 2047, or more than 4 KiB of
     *                                  configuration space
     */
    public VirtioPciFunction(VirtioDevice device, GuestMemory memory, PciIdentity identity) {
        this.device = Objects.requireNonNull(device, "device");
        Objects.requireNonNull(memory, "memory");
        Objects.requireNonNull(identity, "identity");
        this.layout = new BarLayout(device.queueCount(), device.configSize());
        this.isr = new IsrRegion();
        this.msix = new MsixTable(layout.msixVectors(), this::msixEnableChanged);
        this.lifecycle = new DeviceLifecycle(device, memory, msix, isr);
        this.common = lifecycle.common();
        this.notify = new NotifyRegion(lifecycle, layout.queueCount());
        this.deviceConfig = new DeviceConfigWindow(device, layout.deviceCfgLength());
        this.capabilities = new CapabilityList(layout, msix, next -> new PciCfgWindow(next, bar, layout.barSize()));
        this.header = new PciConfigHeader(VirtioPci.VIRTIO_PCI_MODERN_DEVICE_ID_BASE + device.deviceId(), identity,
                layout.barSize(), capabilities.first(), isr::pending);
        this.barMapping = new BarMapping(layout.barSize(), bar);
        device.setConfigChangeListener(lifecycle::configChanged);
    }

    @Override
    public void attach(PciFunctionContext context) {
        synchronized (lock) {
            msix.attach(context.msi());
            isr.attach(context.intx());
            barMapping.attach(context.mmio());
            refreshHeaderEffects();
        }
    }

    @Override
    public int configRead(int offset, int size) {
        if (!RegisterBytes.validConfigAccess(offset, size)) {
            return 0;
        }
        synchronized (lock) {
            try {
                if (offset < PciConfigHeader.HEADER_SIZE) {
                    return header.read(offset, size);
                }
                if (offset < CapabilityList.CAP_END) {
                    return capabilities.read(offset, size);
                }
                return 0;
            } catch (RuntimeException e) {
                internalErrors.incrementAndGet();
                LOG.error("config read at 0x{} failed", Integer.toHexString(offset), e);
                return 0;
            }
        }
    }

    @Override
    public void configWrite(int offset, int size, int value) {
        if (!RegisterBytes.validConfigAccess(offset, size)) {
            return;
        }
        synchronized (lock) {
            try {
                if (offset < PciConfigHeader.HEADER_SIZE) {
                    header.write(offset, size, value);
                    refreshHeaderEffects();
                } else if (offset < CapabilityList.CAP_END) {
                    capabilities.write(offset, size, value);
                }
            } catch (RuntimeException e) {
                internalErrors.incrementAndGet();
                LOG.error("config write at 0x{} failed", Integer.toHexString(offset), e);
            }
        }
    }

    @Override
    public List<PciBar> bars() {
        return List.of(new PciBar(BarLayout.BAR_INDEX, layout.barSize(), PciBar.Kind.MEMORY64, false));
    }

    /**
     * Resets the device (joining its workers), unmaps the BAR and returns every register to its power-on
     * state; idempotent. The function stays usable: a guest that programs it again gets a fresh device.
     */
    @Override
    public void close() {
        synchronized (lock) {
            lifecycle.reset();
            header.reset();
            capabilities.reset();
            msix.reset();
            barMapping.reset();
            refreshHeaderEffects();
        }
    }

    /** The BAR's register decoder, as mapped on the memory bus (for hosts that dispatch by themselves). */
    public MmioHandler barHandler() {
        return bar;
    }

    /**
     * How many exceptions a register access raised and this boundary swallowed (the guest saw a read of 0
     * or an ignored write). Guest mistakes never throw, so anything above 0 is a bug worth a report.
     */
    public long internalErrors() {
        return internalErrors.get();
    }

    /**
     * Interrupts the host refused by throwing from its {@link dev.vnet.spi.MsiSink} or
     * {@link dev.vnet.spi.InterruptLine}: each one is lost and counted, and the device goes on.
     */
    public long interruptFailures() {
        return msix.sinkFailures() + isr.lineFailures();
    }

    /** The BAR layout (offsets of each structure). */
    public BarLayout layout() {
        return layout;
    }

    /** The current {@code device_status}, for diagnostics. */
    public int deviceStatus() {
        synchronized (lock) {
            return lifecycle.status();
        }
    }

    /**
     * Why the device set DEVICE_NEEDS_RESET (the first guest error since the last reset), or null: for the
     * host's diagnostics, since the status bit alone does not say.
     */
    public String needsResetReason() {
        return lifecycle.needsResetReason();
    }

    /** The interrupt router the device receives at activation (package-private for tests). */
    InterruptRouter interrupts() {
        return lifecycle.interrupts();
    }

    private void refreshHeaderEffects() {
        barMapping.update(header.memoryEnabled(), header.barAddress());
        isr.setIntxDisabled(header.intxDisabled());
    }

    private void msixEnableChanged() {
        isr.setMsixEnabled(msix.isEnabled());
    }

    /** Decodes BAR0 offsets into the register blocks. */
    private final class BarHandler implements MmioHandler {

        @Override
        public long read(long offset, int size) {
            if (!valid(offset, size)) {
                return 0;
            }
            synchronized (lock) {
                try {
                    return dispatchRead(offset, size);
                } catch (RuntimeException e) {
                    internalErrors.incrementAndGet();
                    LOG.error("BAR read at 0x{} failed", Long.toHexString(offset), e);
                    return 0;
                }
            }
        }

        @Override
        public void write(long offset, int size, long value) {
            if (!valid(offset, size)) {
                return;
            }
            synchronized (lock) {
                try {
                    dispatchWrite(offset, size, value);
                } catch (RuntimeException e) {
                    internalErrors.incrementAndGet();
                    LOG.error("BAR write at 0x{} failed", Long.toHexString(offset), e);
                }
            }
        }

        private boolean valid(long offset, int size) {
            return (size == 1 || size == 2 || size == 4 || size == 8) && offset >= 0
                    && offset + size <= layout.barSize();
        }

        private long dispatchRead(long offset, int size) {
            if (offset < BarLayout.COMMON_CFG_OFFSET + BarLayout.COMMON_CFG_LENGTH) {
                return common.read(offset - BarLayout.COMMON_CFG_OFFSET, size);
            }
            if (in(offset, BarLayout.ISR_CFG_OFFSET, BarLayout.PAGE)) {
                return isr.read(offset - BarLayout.ISR_CFG_OFFSET, size);
            }
            if (in(offset, BarLayout.DEVICE_CFG_OFFSET, BarLayout.PAGE)) {
                return deviceConfig.read(offset - BarLayout.DEVICE_CFG_OFFSET, size);
            }
            if (in(offset, BarLayout.NOTIFY_CFG_OFFSET, layout.msixTableOffset() - BarLayout.NOTIFY_CFG_OFFSET)) {
                return notify.read(offset - BarLayout.NOTIFY_CFG_OFFSET, size);
            }
            if (in(offset, layout.msixTableOffset(), layout.msixTableLength())) {
                return msix.readTable(offset - layout.msixTableOffset(), size);
            }
            if (in(offset, layout.pbaOffset(), layout.pbaLength())) {
                return msix.readPba(offset - layout.pbaOffset(), size);
            }
            return 0;
        }

        private void dispatchWrite(long offset, int size, long value) {
            if (offset < BarLayout.COMMON_CFG_OFFSET + BarLayout.COMMON_CFG_LENGTH) {
                common.write(offset - BarLayout.COMMON_CFG_OFFSET, size, value);
            } else if (in(offset, BarLayout.ISR_CFG_OFFSET, BarLayout.PAGE)) {
                isr.write(offset - BarLayout.ISR_CFG_OFFSET, size, value);
            } else if (in(offset, BarLayout.DEVICE_CFG_OFFSET, BarLayout.PAGE)) {
                deviceConfig.write(offset - BarLayout.DEVICE_CFG_OFFSET, size, value);
            } else if (in(offset, BarLayout.NOTIFY_CFG_OFFSET,
                    layout.msixTableOffset() - BarLayout.NOTIFY_CFG_OFFSET)) {
                notify.write(offset - BarLayout.NOTIFY_CFG_OFFSET, size, value);
            } else if (in(offset, layout.msixTableOffset(), layout.msixTableLength())) {
                msix.writeTable(offset - layout.msixTableOffset(), size, value);
            }
            // PBA and gaps: read-only / unassigned
        }

        private static boolean in(long offset, long base, long length) {
            return offset >= base && offset < base + length;
        }
    }
}
