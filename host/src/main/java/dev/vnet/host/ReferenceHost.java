package dev.vnet.host;

import dev.vnet.config.HostServices;
import dev.vnet.testkit.FakeGuestMemory;
import dev.vnet.testkit.pci.ConfigAccess;
import dev.vnet.testkit.pci.MmioAccess;
import dev.vnet.testkit.pci.PciInterruptDispatcher;
import dev.vnet.testkit.pci.VirtioPciDriver;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A small but complete host for the demo and the integration tests: guest RAM, an MMIO address space,
 * the port space with PCI configuration mechanism #1, a PCI root bus whose firmware assigns BARs, and an
 * interrupt controller that delivers MSI/MSI-X and INTx to the guest. The guest is the testkit's Linux
 * driver model, which reaches devices only through ports 0xCF8/0xCFC and MMIO, as a kernel would.
 */
public final class ReferenceHost implements AutoCloseable {

    /** Guest RAM starts at 1 MiB, as on a PC above the legacy area. */
    public static final long RAM_BASE = 0x10_0000L;
    public static final long MMIO32_BASE = 0xE000_0000L;
    public static final long MMIO64_BASE = 0x80_0000_0000L;

    private final FakeGuestMemory ram;
    private final AddressSpace mmio = new AddressSpace();
    private final PortSpace pio = new PortSpace();
    private final InterruptController interrupts = new InterruptController();
    private final PciRootBus pci;
    private final List<PciInterruptDispatcher> guestHandlers = new CopyOnWriteArrayList<>();

    /** A host with {@code ramBytes} of guest RAM. */
    public ReferenceHost(long ramBytes) {
        ram = new FakeGuestMemory(RAM_BASE, ramBytes);
        pci = new PciRootBus(mmio, pio, interrupts, MMIO32_BASE, MMIO64_BASE);
        // One CPU: every accepted MSI goes to the guest's interrupt entry, which offers it to each
        // device driver's handler (a driver ignores vectors it did not allocate).
        interrupts.connectCpu((address, data) -> guestHandlers.forEach(h -> h.send(address, data)));
    }

    /** What vnet needs from this host. */
    public HostServices services() {
        return new HostServices(ram.memory(), pci);
    }

    public FakeGuestMemory ram() {
        return ram;
    }

    public PciRootBus pci() {
        return pci;
    }

    public InterruptController interrupts() {
        return interrupts;
    }

    public AddressSpace mmio() {
        return mmio;
    }

    public PortSpace ports() {
        return pio;
    }

    /**
     * Boots the guest's view of the function at {@code slot}.{@code fn}: firmware assigns its BARs, then a
     * Linux {@code virtio_pci} driver model is bound to it, reaching it through mechanism #1 and MMIO, with
     * its interrupt handler connected to the controller.
     */
    public VirtioPciDriver guestDriver(int slot, int fn) {
        pci.assignBars(slot, fn);
        PciInterruptDispatcher handler = new PciInterruptDispatcher();
        guestHandlers.add(handler);
        interrupts.connectGsi(PciRootBus.gsiFor(slot), handler);
        return new VirtioPciDriver(mechanism1(slot, fn), mmioAccess(), handler, ram);
    }

    /** Configuration cycles for one function through ports 0xCF8/0xCFC, as a kernel's pci_conf1 does. */
    public ConfigAccess mechanism1(int slot, int fn) {
        return new ConfigAccess() {
            @Override
            public int read(int offset, int size) {
                synchronized (pio) {
                    pio.out(PciRootBus.CONFIG_ADDRESS_PORT, 4, PciRootBus.configAddress(slot, fn, offset));
                    return pio.in(PciRootBus.CONFIG_DATA_PORT + (offset & 3), size);
                }
            }

            @Override
            public void write(int offset, int size, int value) {
                synchronized (pio) {
                    pio.out(PciRootBus.CONFIG_ADDRESS_PORT, 4, PciRootBus.configAddress(slot, fn, offset));
                    pio.out(PciRootBus.CONFIG_DATA_PORT + (offset & 3), size, value);
                }
            }
        };
    }

    /** The guest's loads and stores to MMIO. */
    public MmioAccess mmioAccess() {
        return new MmioAccess() {
            @Override
            public long read(long address, int size) {
                return mmio.read(address, size);
            }

            @Override
            public void write(long address, int size, long value) {
                mmio.write(address, size, value);
            }
        };
    }

    /** Frees guest RAM; close vnet first. */
    @Override
    public void close() {
        ram.close();
    }
}
