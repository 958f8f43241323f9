package dev.vnet.testkit.pci;

import dev.vnet.spi.PciFunction;
import java.util.ArrayList;
import java.util.List;

/**
 * Decodes a function's configuration space into the lines {@code lspci -vv} prints for a virtio device
 * (header, BARs, then the capability chain with the virtio structures and MSI-X), reading only through
 * {@link PciFunction#configRead}. Used to print and check the capability layout against the spec.
 */
public final class LspciFormatter {

    private static final String[] VIRTIO_CAP_NAMES = {"?", "CommonCfg", "Notify", "ISR", "DeviceCfg", "PCI-Cfg"};

    private LspciFormatter() {
    }

    public static List<String> format(PciFunction f) {
        List<String> out = new ArrayList<>();
        int vendor = f.configRead(0x00, 2);
        int device = f.configRead(0x02, 2);
        int rev = f.configRead(0x08, 1);
        int classCode = f.configRead(0x08, 4) >>> 8;
        out.add(String.format("%04x:%04x (rev %02x) class %06x", vendor, device, rev, classCode));
        out.add(String.format("Subsystem: %04x:%04x", f.configRead(0x2C, 2), f.configRead(0x2E, 2)));
        int command = f.configRead(0x04, 2);
        int status = f.configRead(0x06, 2);
        out.add(String.format("Control: Mem%s BusMaster%s DisINTx%s", flag(command, 0x2), flag(command, 0x4),
                flag(command, 0x400)));
        out.add(String.format("Status: Cap%s INTx%s", flag(status, 0x10), flag(status, 0x08)));
        int pin = f.configRead(0x3D, 1);
        out.add(String.format("Interrupt: pin %s routed to IRQ %d", pin == 0 ? "?" : String.valueOf((char) ('A' + pin - 1)),
                f.configRead(0x3C, 1)));
        for (int bar = 0; bar < 6; bar++) {
            int lo = f.configRead(0x10 + 4 * bar, 4);
            if (lo == 0) {
                continue;
            }
            boolean is64 = (lo & 0x6) == 0x4;
            long address = Integer.toUnsignedLong(lo) & ~0xFL;
            if (is64) {
                address |= Integer.toUnsignedLong(f.configRead(0x14 + 4 * bar, 4)) << 32;
            }
            out.add(String.format("Region %d: Memory at %x (%s-bit, %sprefetchable)", bar, address, is64 ? "64" : "32",
                    (lo & 0x8) != 0 ? "" : "non-"));
            if (is64) {
                bar++;
            }
        }
        if ((status & 0x10) == 0) {
            return out;
        }
        int pos = f.configRead(0x34, 1) & ~3;
        int ttl = 48;
        while (pos != 0 && ttl-- > 0) {
            int id = f.configRead(pos, 1);
            int next = f.configRead(pos + 1, 1);
            if (id == 0x09) {
                int len = f.configRead(pos + 2, 1);
                int type = f.configRead(pos + 3, 1);
                String name = type < VIRTIO_CAP_NAMES.length ? VIRTIO_CAP_NAMES[type] : "type " + type;
                out.add(String.format("Capabilities: [%02x] Vendor Specific Information: VirtIO: %s len=%d", pos,
                        name, len));
                if (type != 5) { // the PCI_CFG window names no structure of its own
                    String line = String.format("\t\tBAR=%d offset=%08x size=%08x", f.configRead(pos + 4, 1),
                            f.configRead(pos + 8, 4), f.configRead(pos + 12, 4));
                    if (type == 2) {
                        line += String.format(" multiplier=%08x", f.configRead(pos + 16, 4));
                    }
                    out.add(line);
                }
            } else if (id == 0x11) {
                int control = f.configRead(pos + 2, 2);
                out.add(String.format("Capabilities: [%02x] MSI-X: Enable%s Count=%d Masked%s", pos,
                        flag(control, 0x8000), (control & 0x7FF) + 1, flag(control, 0x4000)));
                int table = f.configRead(pos + 4, 4);
                int pba = f.configRead(pos + 8, 4);
                out.add(String.format("\t\tVector table: BAR=%d offset=%08x", table & 7, table & ~7));
                out.add(String.format("\t\tPBA: BAR=%d offset=%08x", pba & 7, pba & ~7));
            } else {
                out.add(String.format("Capabilities: [%02x] id %02x", pos, id));
            }
            pos = next & ~3;
        }
        return out;
    }

    private static String flag(int value, int bit) {
        return (value & bit) != 0 ? "+" : "-";
    }
}
