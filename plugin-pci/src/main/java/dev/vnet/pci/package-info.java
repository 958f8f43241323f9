/**
 * The virtio-pci modern transport (virtio 1.2, 4.1): {@link dev.vnet.pci.VirtioPciFunction} presents any
 * {@link dev.vnet.virtio.VirtioDevice} as a PCI function a real guest driver (Linux {@code virtio_pci})
 * probes unchanged.
 *
 * <p>One class per register block, each a small state machine with {@code read/write/reset} whose
 * constructor calls {@code reset()}: {@code PciConfigHeader} (type-0 header), {@code CapabilityList}
 * (virtio capabilities + MSI-X capability), {@code PciCfgWindow} (VIRTIO_PCI_CAP_PCI_CFG),
 * {@code CommonConfig}, {@code NotifyRegion}, {@code IsrRegion} (ISR + INTx), {@code DeviceConfigWindow},
 * {@code MsixTable} (table, PBA, Message Control). {@code DeviceLifecycle} is the status machine,
 * {@code InterruptRouter} the worker-side interrupt path, {@code BarMapping} keeps the host's memory bus in
 * step with BAR0, {@link dev.vnet.pci.BarLayout} says where each structure lives.
 *
 * <p>Access policy for sizes and alignment (Linux only uses natural widths):
 * <ul>
 *   <li>Configuration space: 1, 2 or 4 bytes inside one dword; anything else reads 0, writes ignored.</li>
 *   <li>Common configuration: exactly a field's offset and width, or a 32-bit half of a 64-bit queue
 *       address (an 8-byte access of the whole address also works); anything else reads 0 and is ignored,
 *       as QEMU does.</li>
 *   <li>Notify: 2- or 4-byte writes at a queue's notify address; the address names the queue.</li>
 *   <li>ISR: any read at offset 0 reads and clears.</li>
 *   <li>Device configuration: 1, 2, 4 bytes forwarded as they are; 8 split into two 4-byte accesses.</li>
 *   <li>MSI-X table: aligned 4 or 8 bytes; PBA: aligned 4- or 8-byte reads.</li>
 * </ul>
 *
 * <p>Reset: a virtio reset (device_status = 0) resets the virtio register blocks and the device and
 * clears the MSI-X pending bits; PCI state (command register, BAR, MSI-X enable/mask/table, interrupt
 * line, PCI_CFG window) survives, as on hardware. {@link dev.vnet.pci.VirtioPciFunction#close()} resets
 * everything to power-on and unmaps the BAR.
 */
package dev.vnet.pci;
