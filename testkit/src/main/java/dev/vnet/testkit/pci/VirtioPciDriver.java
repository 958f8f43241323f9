package dev.vnet.testkit.pci;

import dev.vnet.spi.PciFunction;
import dev.vnet.spi.PciFunctionContext;
import dev.vnet.testkit.Buffer;
import dev.vnet.testkit.DriverQueue;
import dev.vnet.testkit.FakeGuestMemory;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A guest driver model of Linux {@code drivers/virtio/virtio_pci_modern.c}, {@code virtio_pci_modern_dev.c}
 * and {@code virtio_pci_common.c}, talking to a {@link PciFunction} only through
 * {@link PciFunction#configRead}/{@link PciFunction#configWrite} and the BAR handlers the function mapped on
 * a {@link FakeMmioBus}. It follows the kernel's order of operations:
 *
 * <ol>
 *   <li>firmware: size and place the BARs ({@link #assignBars});</li>
 *   <li>{@code virtio_pci_probe}: {@code pci_enable_device} (memory decoding), {@code vp_modern_probe}
 *       (vendor and device id check, capability walk for COMMON, NOTIFY, ISR, DEVICE and PCI_CFG,
 *       {@code notify_off_multiplier}, MSI-X capability), {@code pci_set_master};
 *       {@code register_virtio_device}: reset (write 0, poll until 0), ACKNOWLEDGE ({@link #probe});</li>
 *   <li>{@code virtio_dev_probe}: DRIVER, both 32-bit device feature halves, both driver halves,
 *       FEATURES_OK and its read-back ({@link #negotiate});</li>
 *   <li>{@code vp_modern_find_vqs} -> {@code vp_find_vqs}: the three strategies, one MSI-X vector per queue
 *       plus config, one shared vector plus config, then INTx; per queue {@code setup_vq}: select, size
 *       (0 = unavailable), optional shrink, ring addresses, {@code queue_notify_off}, vector write and
 *       read-back (NO_VECTOR fails the strategy and {@code vp_del_vqs} undoes it); then
 *       {@code queue_enable} for all queues ({@link #findVqs});</li>
 *   <li>{@code virtio_device_ready}: DRIVER_OK ({@link #driverOk}); kick = 16-bit write of the queue
 *       index at {@code notify base + queue_notify_off * notify_off_multiplier} ({@link #kick}).</li>
 * </ol>
 *
 * <p>Single-threaded, like a driver under its locks; interrupts arrive on device threads into the
 * {@link PciInterruptDispatcher} and are waited for with {@link #awaitInterrupts} / {@link #awaitUsed}.
 */
public final class VirtioPciDriver {

    /** The strategies of {@code vp_find_vqs}, in the order Linux tries them. */
    public enum Strategy {
        MSIX_PER_VQ,
        MSIX_SHARED,
        INTX
    }

    /** A step the device refused (Linux would fail the probe with this errno-like reason). */
    public static final class ProbeException extends RuntimeException {
        public ProbeException(String message) {
            super(message);
        }
    }

    // pci_regs.h
    public static final int PCI_VENDOR_ID = 0x00;
    public static final int PCI_DEVICE_ID = 0x02;
    public static final int PCI_COMMAND = 0x04;
    public static final int PCI_STATUS = 0x06;
    public static final int PCI_BASE_ADDRESS_0 = 0x10;
    public static final int PCI_CAPABILITY_LIST = 0x34;
    public static final int PCI_COMMAND_MEMORY = 0x2;
    public static final int PCI_COMMAND_MASTER = 0x4;
    public static final int PCI_COMMAND_INTX_DISABLE = 0x400;
    public static final int PCI_STATUS_CAP_LIST = 0x10;
    public static final int PCI_CAP_ID_VNDR = 0x09;
    public static final int PCI_CAP_ID_MSIX = 0x11;
    public static final int PCI_MSIX_FLAGS = 2;
    public static final int PCI_MSIX_TABLE = 4;
    public static final int PCI_MSIX_PBA = 8;
    public static final int PCI_MSIX_FLAGS_QSIZE = 0x7FF;
    public static final int PCI_MSIX_FLAGS_MASKALL = 0x4000;
    public static final int PCI_MSIX_FLAGS_ENABLE = 0x8000;
    public static final int PCI_MSIX_ENTRY_SIZE = 16;
    public static final int PCI_MSIX_ENTRY_VECTOR_CTRL = 12;
    private static final int PCI_FIND_CAP_TTL = 48;

    // virtio_pci.h
    public static final int VIRTIO_PCI_CAP_COMMON_CFG = 1;
    public static final int VIRTIO_PCI_CAP_NOTIFY_CFG = 2;
    public static final int VIRTIO_PCI_CAP_ISR_CFG = 3;
    public static final int VIRTIO_PCI_CAP_DEVICE_CFG = 4;
    public static final int VIRTIO_PCI_CAP_PCI_CFG = 5;
    public static final int VIRTIO_PCI_CAP_BAR = 4;
    public static final int VIRTIO_PCI_CAP_OFFSET = 8;
    public static final int VIRTIO_PCI_CAP_LENGTH = 12;
    public static final int VIRTIO_PCI_NOTIFY_CAP_MULT = 16;
    public static final int VIRTIO_PCI_CFG_DATA = 16;
    public static final int VIRTIO_PCI_COMMON_DFSELECT = 0x00;
    public static final int VIRTIO_PCI_COMMON_DF = 0x04;
    public static final int VIRTIO_PCI_COMMON_GFSELECT = 0x08;
    public static final int VIRTIO_PCI_COMMON_GF = 0x0C;
    public static final int VIRTIO_PCI_COMMON_MSIX = 0x10;
    public static final int VIRTIO_PCI_COMMON_NUMQ = 0x12;
    public static final int VIRTIO_PCI_COMMON_STATUS = 0x14;
    public static final int VIRTIO_PCI_COMMON_CFGGENERATION = 0x15;
    public static final int VIRTIO_PCI_COMMON_Q_SELECT = 0x16;
    public static final int VIRTIO_PCI_COMMON_Q_SIZE = 0x18;
    public static final int VIRTIO_PCI_COMMON_Q_MSIX = 0x1A;
    public static final int VIRTIO_PCI_COMMON_Q_ENABLE = 0x1C;
    public static final int VIRTIO_PCI_COMMON_Q_NOFF = 0x1E;
    public static final int VIRTIO_PCI_COMMON_Q_DESCLO = 0x20;
    public static final int VIRTIO_PCI_COMMON_Q_DESCHI = 0x24;
    public static final int VIRTIO_PCI_COMMON_Q_AVAILLO = 0x28;
    public static final int VIRTIO_PCI_COMMON_Q_AVAILHI = 0x2C;
    public static final int VIRTIO_PCI_COMMON_Q_USEDLO = 0x30;
    public static final int VIRTIO_PCI_COMMON_Q_USEDHI = 0x34;
    public static final int VIRTIO_PCI_COMMON_Q_NDATA = 0x38;
    public static final int VIRTIO_PCI_COMMON_Q_RESET = 0x3A;
    public static final int VIRTIO_MSI_NO_VECTOR = 0xFFFF;
    public static final int VIRTIO_PCI_ISR_QUEUE = 1;
    public static final int VIRTIO_PCI_ISR_CONFIG = 2;

    // virtio_config.h
    public static final int VIRTIO_CONFIG_S_ACKNOWLEDGE = 1;
    public static final int VIRTIO_CONFIG_S_DRIVER = 2;
    public static final int VIRTIO_CONFIG_S_DRIVER_OK = 4;
    public static final int VIRTIO_CONFIG_S_FEATURES_OK = 8;
    public static final int VIRTIO_CONFIG_S_NEEDS_RESET = 0x40;
    public static final int VIRTIO_CONFIG_S_FAILED = 0x80;
    public static final int VIRTIO_RING_F_INDIRECT_DESC = 28;
    public static final int VIRTIO_RING_F_EVENT_IDX = 29;
    public static final int VIRTIO_F_VERSION_1 = 32;

    /** Where {@link #plug} places BAR0 unless told otherwise. */
    public static final long DEFAULT_BAR_BASE = 0xC000_0000L;

    private final ConfigAccess config;
    private final MmioAccess bus;
    private final PciInterruptDispatcher irq;
    private final FakeGuestMemory mem;

    // what the probe found
    private final long[] barAddress = new long[6];
    private final long[] barSize = new long[6];
    private int virtioDeviceId;
    private int commonCap;
    private int notifyCap;
    private int isrCap;
    private int deviceCap;
    private int pciCfgCap;
    private int msixCap;
    private long commonBase;
    private long notifyBase;
    private long notifyLength;
    private int notifyMultiplier;
    private long isrBase;
    private long deviceBase;
    private long deviceLength;
    private int msixTableSize;
    private long msixTableBase;
    private long pbaBase;

    // negotiation and queues
    private long deviceFeatures;
    private long features;
    private DriverQueue[] queues = new DriverQueue[0];
    private int[] notifyOff = new int[0];
    private int[] queueVector = new int[0];
    private Strategy strategy;
    private boolean msixEnabled;
    private int msixUsedVectors;

    // knobs for tests
    private int[] queueSizeLimit = new int[0];
    private int vectorBudget = Integer.MAX_VALUE;
    private Strategy outOfRangeVectorIn;
    private Strategy firstStrategy = Strategy.MSIX_PER_VQ;

    public VirtioPciDriver(PciFunction function, FakeMmioBus bus, PciInterruptDispatcher irq, FakeGuestMemory mem) {
        this(ConfigAccess.of(function), bus, irq, mem);
    }

    /**
     * A driver that reaches the function through a host: {@code config} for configuration cycles (e.g.
     * mechanism #1), {@code bus} for MMIO, and {@code irq} as the interrupt entry the host delivers to.
     */
    public VirtioPciDriver(ConfigAccess config, MmioAccess bus, PciInterruptDispatcher irq, FakeGuestMemory mem) {
        this.config = config;
        this.bus = bus;
        this.irq = irq;
        this.mem = mem;
    }

    /**
     * Plugs {@code function} into a fresh fake host (memory bus, interrupt dispatcher, no port I/O) and
     * lets the firmware place its BARs from {@link #DEFAULT_BAR_BASE}.
     */
    public static VirtioPciDriver plug(PciFunction function, FakeGuestMemory mem) {
        FakeMmioBus bus = new FakeMmioBus();
        PciInterruptDispatcher irq = new PciInterruptDispatcher();
        function.attach(new PciFunctionContext(bus, null, irq, irq));
        VirtioPciDriver driver = new VirtioPciDriver(function, bus, irq, mem);
        driver.assignBars(DEFAULT_BAR_BASE);
        return driver;
    }

    // ---- knobs ----

    /** Linux passes each queue's size through {@code vring_create_virtqueue}; a smaller size shrinks it. */
    public VirtioPciDriver limitQueueSizes(int... sizes) {
        queueSizeLimit = sizes.clone();
        return this;
    }

    /** How many MSI-X vectors the platform can give ({@code pci_alloc_irq_vectors} fails beyond it). */
    public VirtioPciDriver vectorBudget(int vectors) {
        vectorBudget = vectors;
        return this;
    }

    /**
     * In {@code strategy}, write vector numbers past the device's table to {@code queue_msix_vector}, as a
     * platform handing out bad vectors would: the device answers NO_VECTOR and the strategy fails.
     */
    public VirtioPciDriver outOfRangeVectorsIn(Strategy strategy) {
        outOfRangeVectorIn = strategy;
        return this;
    }

    /** Skip the strategies before {@code strategy} (Linux always starts with the first). */
    public VirtioPciDriver startWith(Strategy strategy) {
        firstStrategy = strategy;
        return this;
    }

    // ---- firmware ----

    /**
     * What firmware does before the OS: for each BAR, write all ones and read back the size mask (both
     * dwords of a 64-bit BAR), then program naturally aligned addresses from {@code base}. Decoding stays
     * off; {@link #probe} turns it on.
     */
    public void assignBars(long base) {
        long next = base;
        for (int bar = 0; bar < 6; bar++) {
            int reg = PCI_BASE_ADDRESS_0 + 4 * bar;
            int original = config.read(reg, 4);
            if ((original & 1) != 0) {
                continue; // I/O BAR: not modelled
            }
            boolean is64 = (original & 0x6) == 0x4;
            config.write(reg, 4, 0xFFFF_FFFF);
            long mask = Integer.toUnsignedLong(config.read(reg, 4)) & 0xFFFF_FFF0L;
            config.write(reg, 4, original);
            if (is64) {
                int hiOriginal = config.read(reg + 4, 4);
                config.write(reg + 4, 4, 0xFFFF_FFFF);
                mask |= Integer.toUnsignedLong(config.read(reg + 4, 4)) << 32;
                config.write(reg + 4, 4, hiOriginal);
            } else if (mask != 0) {
                mask |= 0xFFFF_FFFF_0000_0000L;
            }
            if (mask != 0) {
                long size = ~mask + 1;
                long address = (next + size - 1) & -size;
                config.write(reg, 4, (int) address);
                if (is64) {
                    config.write(reg + 4, 4, (int) (address >>> 32));
                }
                barAddress[bar] = address;
                barSize[bar] = size;
                next = address + size;
            }
            if (is64) {
                bar++;
            }
        }
    }

    /**
     * What the PCI core does when firmware, not this model, placed the BARs: size each memory BAR with
     * the all-ones protocol and keep the address firmware programmed ({@code pci_read_bases}).
     */
    private void readAssignedBars() {
        int command = config.read(PCI_COMMAND, 2);
        config.write(PCI_COMMAND, 2, command & ~PCI_COMMAND_MEMORY); // no decoding while sizing
        for (int bar = 0; bar < 6; bar++) {
            int reg = PCI_BASE_ADDRESS_0 + 4 * bar;
            int low = config.read(reg, 4);
            if ((low & 1) != 0) {
                continue;
            }
            boolean is64 = (low & 0x6) == 0x4;
            long address = Integer.toUnsignedLong(low) & 0xFFFF_FFF0L;
            config.write(reg, 4, 0xFFFF_FFFF);
            long mask = Integer.toUnsignedLong(config.read(reg, 4)) & 0xFFFF_FFF0L;
            config.write(reg, 4, low);
            if (is64) {
                int high = config.read(reg + 4, 4);
                address |= Integer.toUnsignedLong(high) << 32;
                config.write(reg + 4, 4, 0xFFFF_FFFF);
                mask |= Integer.toUnsignedLong(config.read(reg + 4, 4)) << 32;
                config.write(reg + 4, 4, high);
            } else if (mask != 0) {
                mask |= 0xFFFF_FFFF_0000_0000L;
            }
            if (mask != 0) {
                barAddress[bar] = address;
                barSize[bar] = ~mask + 1;
            }
            if (is64) {
                bar++;
            }
        }
        config.write(PCI_COMMAND, 2, command);
    }

    // ---- probe ----

    /**
     * {@code virtio_pci_probe} + {@code register_virtio_device}: memory decoding on, ids, capabilities,
     * bus mastering, reset, ACKNOWLEDGE.
     *
     * @return the virtio device id
     */
    public int probe() {
        int command = config.read(PCI_COMMAND, 2);
        config.write(PCI_COMMAND, 2, command | PCI_COMMAND_MEMORY); // pci_enable_device
        int vendor = config.read(PCI_VENDOR_ID, 2);
        int device = config.read(PCI_DEVICE_ID, 2);
        if (vendor != 0x1AF4) {
            throw new ProbeException("not a virtio vendor: " + Integer.toHexString(vendor));
        }
        if (device < 0x1000 || device > 0x107F) {
            throw new ProbeException("not a virtio device id: " + Integer.toHexString(device));
        }
        if (device < 0x1040) {
            throw new ProbeException("transitional device id " + Integer.toHexString(device) + ": legacy not modelled");
        }
        virtioDeviceId = device - 0x1040;
        if (java.util.Arrays.stream(barAddress).allMatch(a -> a == 0)) {
            readAssignedBars();
        }
        findCapabilities();
        if (commonCap == 0 || isrCap == 0 || notifyCap == 0) {
            throw new ProbeException("missing capabilities: common " + commonCap + " isr " + isrCap + " notify "
                    + notifyCap);
        }
        commonBase = mapCapability(commonCap, 0x38);
        isrBase = mapCapability(isrCap, 1);
        notifyMultiplier = config.read(notifyCap + VIRTIO_PCI_NOTIFY_CAP_MULT, 4);
        notifyBase = mapCapability(notifyCap, 2);
        notifyLength = Integer.toUnsignedLong(config.read(notifyCap + VIRTIO_PCI_CAP_LENGTH, 4));
        if (deviceCap != 0) {
            deviceBase = mapCapability(deviceCap, 0);
            deviceLength = Integer.toUnsignedLong(config.read(deviceCap + VIRTIO_PCI_CAP_LENGTH, 4));
        }
        command = config.read(PCI_COMMAND, 2);
        config.write(PCI_COMMAND, 2, command | PCI_COMMAND_MASTER); // pci_set_master
        reset();
        addStatus(VIRTIO_CONFIG_S_ACKNOWLEDGE);
        return virtioDeviceId;
    }

    /** {@code virtio_pci_find_capability} for each type (the first match wins) plus the MSI-X capability. */
    private void findCapabilities() {
        if ((config.read(PCI_STATUS, 2) & PCI_STATUS_CAP_LIST) == 0) {
            throw new ProbeException("no capability list");
        }
        int pos = config.read(PCI_CAPABILITY_LIST, 1) & ~3;
        int ttl = PCI_FIND_CAP_TTL;
        while (pos >= 0x40 && ttl-- > 0) {
            int id = config.read(pos, 1);
            if (id == 0xFF) {
                break;
            }
            if (id == PCI_CAP_ID_VNDR) {
                int type = config.read(pos + 3, 1);
                int bar = config.read(pos + VIRTIO_PCI_CAP_BAR, 1);
                if (bar < 6 && barSize[bar] != 0) {
                    switch (type) {
                        case VIRTIO_PCI_CAP_COMMON_CFG -> commonCap = commonCap == 0 ? pos : commonCap;
                        case VIRTIO_PCI_CAP_NOTIFY_CFG -> notifyCap = notifyCap == 0 ? pos : notifyCap;
                        case VIRTIO_PCI_CAP_ISR_CFG -> isrCap = isrCap == 0 ? pos : isrCap;
                        case VIRTIO_PCI_CAP_DEVICE_CFG -> deviceCap = deviceCap == 0 ? pos : deviceCap;
                        default -> {
                        }
                    }
                }
                if (type == VIRTIO_PCI_CAP_PCI_CFG && pciCfgCap == 0) {
                    pciCfgCap = pos; // the PCI_CFG window names no BAR of its own
                }
            } else if (id == PCI_CAP_ID_MSIX) {
                msixCap = pos;
                msixTableSize = (config.read(pos + PCI_MSIX_FLAGS, 2) & PCI_MSIX_FLAGS_QSIZE) + 1;
                int table = config.read(pos + PCI_MSIX_TABLE, 4);
                int pba = config.read(pos + PCI_MSIX_PBA, 4);
                msixTableBase = barAddress[table & 7] + (table & ~7);
                pbaBase = barAddress[pba & 7] + (pba & ~7);
            }
            pos = config.read(pos + 1, 1) & ~3;
        }
    }

    /** {@code vp_modern_map_capability}: offset + length inside the BAR, length >= minlen. */
    private long mapCapability(int cap, int minLength) {
        int bar = config.read(cap + VIRTIO_PCI_CAP_BAR, 1);
        long offset = Integer.toUnsignedLong(config.read(cap + VIRTIO_PCI_CAP_OFFSET, 4));
        long length = Integer.toUnsignedLong(config.read(cap + VIRTIO_PCI_CAP_LENGTH, 4));
        if (length < minLength) {
            throw new ProbeException("capability at 0x" + Integer.toHexString(cap) + " too short: " + length);
        }
        if (offset + length > barSize[bar]) {
            throw new ProbeException("capability at 0x" + Integer.toHexString(cap) + " leaves BAR" + bar);
        }
        return barAddress[bar] + offset;
    }

    /** {@code vp_reset}: write 0, then poll until the device reads 0 (bounded here). */
    public void reset() {
        writeCommon(VIRTIO_PCI_COMMON_STATUS, 1, 0);
        for (int i = 0; i < 10_000; i++) {
            if (status() == 0) {
                return;
            }
            Thread.onSpinWait();
        }
        throw new ProbeException("device_status never read back 0 after reset");
    }

    // ---- features ----

    /**
     * {@code virtio_dev_probe}: DRIVER, read the device features, ack {@code wanted & device}, check
     * VERSION_1 like {@code vp_finalize_features}, FEATURES_OK and read it back.
     *
     * @return the negotiated features
     * @throws ProbeException when the device lacks VERSION_1 or refuses FEATURES_OK
     */
    public long negotiate(long wanted) {
        addStatus(VIRTIO_CONFIG_S_DRIVER);
        deviceFeatures = readDeviceFeatures();
        long acked = deviceFeatures & wanted;
        if ((acked & (1L << VIRTIO_F_VERSION_1)) == 0) {
            throw new ProbeException("device uses modern interface but does not have VIRTIO_F_VERSION_1");
        }
        writeDriverFeatures(acked);
        if (!featuresOk()) {
            throw new ProbeException("device refuses features: " + Long.toHexString(acked));
        }
        features = acked;
        return acked;
    }

    /** {@code vp_get_features}: select 0, read; select 1, read. */
    public long readDeviceFeatures() {
        writeCommon(VIRTIO_PCI_COMMON_DFSELECT, 4, 0);
        long lo = readCommon(VIRTIO_PCI_COMMON_DF, 4);
        writeCommon(VIRTIO_PCI_COMMON_DFSELECT, 4, 1);
        long hi = readCommon(VIRTIO_PCI_COMMON_DF, 4);
        return lo | hi << 32;
    }

    /** {@code vp_finalize_features}' writes, without any check (for tests of refusals). */
    public void writeDriverFeatures(long acked) {
        writeCommon(VIRTIO_PCI_COMMON_GFSELECT, 4, 0);
        writeCommon(VIRTIO_PCI_COMMON_GF, 4, acked & 0xFFFF_FFFFL);
        writeCommon(VIRTIO_PCI_COMMON_GFSELECT, 4, 1);
        writeCommon(VIRTIO_PCI_COMMON_GF, 4, acked >>> 32);
        features = acked;
    }

    /** {@code virtio_features_ok}: add FEATURES_OK and check it stuck. */
    public boolean featuresOk() {
        addStatus(VIRTIO_CONFIG_S_FEATURES_OK);
        return (status() & VIRTIO_CONFIG_S_FEATURES_OK) != 0;
    }

    // ---- queues ----

    /**
     * {@code vp_modern_find_vqs}: {@code vp_find_vqs} with its three strategies (from the one set by
     * {@link #startWith}), then {@code queue_enable = 1} on every queue.
     *
     * @return the strategy that worked
     */
    public Strategy findVqs(int nvqs) {
        Strategy[] all = Strategy.values();
        for (int s = firstStrategy.ordinal(); s < all.length; s++) {
            if (tryFindVqs(nvqs, all[s])) {
                strategy = all[s];
                for (int q = 0; q < nvqs; q++) {
                    writeCommon(VIRTIO_PCI_COMMON_Q_SELECT, 2, q);
                    writeCommon(VIRTIO_PCI_COMMON_Q_ENABLE, 2, 1);
                }
                return strategy;
            }
        }
        throw new ProbeException("no interrupt strategy worked");
    }

    /** {@code vp_find_vqs_msix} / {@code vp_find_vqs_intx} for one strategy; undoes itself on failure. */
    private boolean tryFindVqs(int nvqs, Strategy s) {
        queues = new DriverQueue[nvqs];
        notifyOff = new int[nvqs];
        queueVector = new int[nvqs];
        Arrays.fill(queueVector, VIRTIO_MSI_NO_VECTOR);
        if (s != Strategy.INTX) {
            int nvectors = s == Strategy.MSIX_PER_VQ ? 1 + nvqs : 2;
            if (msixCap == 0 || nvectors > msixTableSize || nvectors > vectorBudget) {
                return false; // pci_alloc_irq_vectors fails: nothing to undo
            }
            enableMsix(nvectors);
            unmaskVector(0);
            irq.bindConfig(0);
            if (setConfigVector(0) == VIRTIO_MSI_NO_VECTOR) {
                delVqs(0);
                return false;
            }
            msixUsedVectors = 1;
            if (s == Strategy.MSIX_SHARED) {
                unmaskVector(1);
                int[] all = new int[nvqs];
                Arrays.setAll(all, i -> i);
                irq.bindQueues(1, all);
                msixUsedVectors = 2;
            }
        }
        for (int q = 0; q < nvqs; q++) {
            int vector = switch (s) {
                case INTX -> VIRTIO_MSI_NO_VECTOR;
                case MSIX_PER_VQ -> msixUsedVectors++;
                case MSIX_SHARED -> 1;
            };
            if (!setupVq(q, vector, s)) {
                delVqs(q);
                return false;
            }
            if (s == Strategy.MSIX_PER_VQ) {
                unmaskVector(vector);
                irq.bindQueues(vector, q);
            }
        }
        return true;
    }

    /** {@code setup_vq} of virtio_pci_modern.c. */
    private boolean setupVq(int index, int msixVector, Strategy s) {
        if (index >= readCommon(VIRTIO_PCI_COMMON_NUMQ, 2)) {
            return false; // -ENOENT
        }
        writeCommon(VIRTIO_PCI_COMMON_Q_SELECT, 2, index);
        int num = (int) readCommon(VIRTIO_PCI_COMMON_Q_SIZE, 2);
        if (num == 0 || readCommon(VIRTIO_PCI_COMMON_Q_ENABLE, 2) != 0) {
            return false; // -ENOENT
        }
        if (Integer.bitCount(num) != 1) {
            return false; // -EINVAL
        }
        int size = index < queueSizeLimit.length && queueSizeLimit[index] > 0 ? Math.min(num, queueSizeLimit[index])
                : num;
        DriverQueue queue = new DriverQueue(mem, size, has(VIRTIO_RING_F_INDIRECT_DESC), has(VIRTIO_RING_F_EVENT_IDX));
        writeCommon(VIRTIO_PCI_COMMON_Q_SIZE, 2, size);
        write64(VIRTIO_PCI_COMMON_Q_DESCLO, queue.descAddr());
        write64(VIRTIO_PCI_COMMON_Q_AVAILLO, queue.availAddr());
        write64(VIRTIO_PCI_COMMON_Q_USEDLO, queue.usedAddr());
        int off = (int) readCommon(VIRTIO_PCI_COMMON_Q_NOFF, 2);
        if ((long) off * notifyMultiplier + 2 > notifyLength) {
            return false; // vp_modern_map_vq_notify: outside the notify region
        }
        notifyOff[index] = off;
        queues[index] = queue;
        if (msixVector != VIRTIO_MSI_NO_VECTOR) {
            int written = s == outOfRangeVectorIn ? msixTableSize + msixVector : msixVector;
            writeCommon(VIRTIO_PCI_COMMON_Q_MSIX, 2, written);
            int back = (int) readCommon(VIRTIO_PCI_COMMON_Q_MSIX, 2);
            if (back == VIRTIO_MSI_NO_VECTOR) {
                return false; // -EBUSY
            }
            queueVector[index] = back;
        }
        return true;
    }

    /** {@code vp_del_vqs}: vectors of the queues set up so far back to NO_VECTOR, MSI-X off. */
    private void delVqs(int queuesSetUp) {
        for (int q = 0; q < queuesSetUp + 1 && q < queues.length; q++) {
            if (queues[q] != null && msixEnabled) {
                writeCommon(VIRTIO_PCI_COMMON_Q_SELECT, 2, q);
                writeCommon(VIRTIO_PCI_COMMON_Q_MSIX, 2, VIRTIO_MSI_NO_VECTOR);
                readCommon(VIRTIO_PCI_COMMON_Q_MSIX, 2);
            }
            queues[q] = null;
        }
        if (msixEnabled) {
            setConfigVector(VIRTIO_MSI_NO_VECTOR);
            disableMsix();
        }
        irq.unbindAll();
        msixUsedVectors = 0;
    }

    /**
     * {@code vp_del_vqs} as {@code virtio_dev_remove} runs it after a reset: queue and config vectors to
     * NO_VECTOR, MSI-X disabled, INTx enabled again, interrupt handlers freed.
     */
    public void delVqs() {
        delVqs(queues.length);
        strategy = null;
    }

    /** {@code vp_modern_config_vector}: write, read back. */
    public int setConfigVector(int vector) {
        writeCommon(VIRTIO_PCI_COMMON_MSIX, 2, vector);
        return (int) readCommon(VIRTIO_PCI_COMMON_MSIX, 2);
    }

    /**
     * {@code vp_modern_disable_vq_and_reset}: select, write 1 to {@code queue_reset}, wait until it reads 1.
     *
     * @throws ProbeException when the device does not complete the reset (VIRTIO_F_RING_RESET not live)
     */
    public void resetQueue(int index) {
        writeCommon(VIRTIO_PCI_COMMON_Q_SELECT, 2, index);
        writeCommon(VIRTIO_PCI_COMMON_Q_RESET, 2, 1);
        for (int i = 0; i < 1000; i++) {
            if (readCommon(VIRTIO_PCI_COMMON_Q_RESET, 2) == 1) {
                return;
            }
            Thread.onSpinWait();
        }
        throw new ProbeException("queue " + index + " reset never completed");
    }

    /**
     * {@code vp_modern_enable_vq_after_reset}: check the queue is disabled, program it again (fresh rings,
     * same vector) and enable it.
     */
    public void reenableQueue(int index) {
        writeCommon(VIRTIO_PCI_COMMON_Q_SELECT, 2, index);
        if (readCommon(VIRTIO_PCI_COMMON_Q_ENABLE, 2) != 0) {
            throw new ProbeException("queue " + index + " still enabled (-EBUSY)");
        }
        int vector = queueVector[index];
        if (!setupVq(index, vector, strategy)) {
            throw new ProbeException("queue " + index + " could not be set up again");
        }
        writeCommon(VIRTIO_PCI_COMMON_Q_SELECT, 2, index);
        writeCommon(VIRTIO_PCI_COMMON_Q_ENABLE, 2, 1);
    }

    /** {@code virtio_device_ready}. */
    public void driverOk() {
        addStatus(VIRTIO_CONFIG_S_DRIVER_OK);
    }

    /** probe + negotiate + findVqs + driverOk. */
    public Strategy initialize(long wanted, int nvqs) {
        probe();
        negotiate(wanted);
        Strategy s = findVqs(nvqs);
        driverOk();
        return s;
    }

    // ---- datapath ----

    /** {@code vp_notify}: 16-bit write of the queue index at its notify address. */
    public void kick(int queue) {
        bus.write(notifyAddress(queue), 2, queue);
    }

    public long notifyAddress(int queue) {
        return notifyBase + (long) notifyOff[queue] * notifyMultiplier;
    }

    /** {@code virtqueue_add_sgs} + {@code virtqueue_kick} (kick only when the device wants one). */
    public int send(int queue, List<Buffer> out, List<Buffer> in, Object token) {
        DriverQueue q = queues[queue];
        int head = q.add(out, in, token);
        if (head >= 0 && q.kickPrepare()) {
            kick(queue);
        }
        return head;
    }

    /**
     * Waits until {@code queue}'s callback ran at least {@code atLeast} times in total; in INTx mode it
     * plays {@code vp_interrupt} (read the ISR, dispatch) whenever the line is asserted.
     */
    public boolean awaitInterrupts(int queue, long atLeast, Duration timeout) {
        return awaitCount(() -> irq.queueCallbacks(queue), atLeast, timeout);
    }

    /** Like {@link #awaitInterrupts} for the configuration callback. */
    public boolean awaitConfigInterrupts(long atLeast, Duration timeout) {
        return awaitCount(irq::configCallbacks, atLeast, timeout);
    }

    private boolean awaitCount(java.util.function.LongSupplier count, long atLeast, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        try {
            while (true) {
                if (strategy == Strategy.INTX && irq.intxAsserted()) {
                    handleIntx();
                }
                if (count.getAsLong() >= atLeast) {
                    return true;
                }
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    return false;
                }
                irq.awaitChange(Math.min(left, TimeUnit.MILLISECONDS.toNanos(5)), TimeUnit.NANOSECONDS);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    /** {@code vp_interrupt}: read the ISR (which clears it and drops INTx) and run the callbacks. */
    public int handleIntx() {
        int isr = readIsr();
        irq.dispatchIsr(isr, queues.length);
        return isr;
    }

    /**
     * The next used buffer of {@code queue}, waiting for its interrupt if there is none yet (the callback
     * then calls {@code virtqueue_get_buf}); null on timeout.
     */
    public DriverQueue.Used awaitUsed(int queue, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            long seen = irq.queueCallbacks(queue);
            DriverQueue.Used used = queues[queue].getBuf();
            if (used != null) {
                return used;
            }
            long left = deadline - System.nanoTime();
            if (left <= 0 || !awaitInterrupts(queue, seen + 1, Duration.ofNanos(left))) {
                return null; // no interrupt: Linux's callback would never have run
            }
        }
    }

    // ---- MSI-X (pci_alloc_irq_vectors / free) ----

    /** Enable with the function masked, program {@code nvectors} entries (masked), unmask the function. */
    private void enableMsix(int nvectors) {
        int flags = msixControl();
        writeMsixControl(flags | PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);
        for (int v = 0; v < nvectors; v++) {
            long entry = msixTableBase + (long) v * PCI_MSIX_ENTRY_SIZE;
            bus.write(entry + PCI_MSIX_ENTRY_VECTOR_CTRL, 4, 1);
            bus.write(entry, 4, PciInterruptDispatcher.MSI_ADDRESS & 0xFFFF_FFFFL);
            bus.write(entry + 4, 4, PciInterruptDispatcher.MSI_ADDRESS >>> 32);
            bus.write(entry + 8, 4, PciInterruptDispatcher.DATA_BASE + v);
        }
        int command = config.read(PCI_COMMAND, 2);
        config.write(PCI_COMMAND, 2, command | PCI_COMMAND_INTX_DISABLE); // pci_intx_for_msi
        writeMsixControl((msixControl() | PCI_MSIX_FLAGS_ENABLE) & ~PCI_MSIX_FLAGS_MASKALL);
        msixEnabled = true;
    }

    private void disableMsix() {
        for (int v = 0; v < msixTableSize; v++) {
            maskVector(v);
        }
        writeMsixControl(msixControl() & ~(PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL));
        int command = config.read(PCI_COMMAND, 2);
        config.write(PCI_COMMAND, 2, command & ~PCI_COMMAND_INTX_DISABLE);
        msixEnabled = false;
    }

    public int msixControl() {
        return config.read(msixCap + PCI_MSIX_FLAGS, 2);
    }

    public void writeMsixControl(int value) {
        config.write(msixCap + PCI_MSIX_FLAGS, 2, value);
    }

    public void maskVector(int vector) {
        bus.write(msixTableBase + (long) vector * PCI_MSIX_ENTRY_SIZE + PCI_MSIX_ENTRY_VECTOR_CTRL, 4, 1);
    }

    public void unmaskVector(int vector) {
        bus.write(msixTableBase + (long) vector * PCI_MSIX_ENTRY_SIZE + PCI_MSIX_ENTRY_VECTOR_CTRL, 4, 0);
    }

    /** The vector's bit in the pending bit array. */
    public boolean pending(int vector) {
        long word = bus.read(pbaBase + 8L * (vector / 64), 8);
        return (word & (1L << (vector % 64))) != 0;
    }

    public long msixEntry(int vector, int offset) {
        return bus.read(msixTableBase + (long) vector * PCI_MSIX_ENTRY_SIZE + offset, 4);
    }

    // ---- register access ----

    public long readCommon(int offset, int size) {
        return bus.read(commonBase + offset, size);
    }

    public void writeCommon(int offset, int size, long value) {
        bus.write(commonBase + offset, size, value);
    }

    /** {@code vp_iowrite64_twopart}: low dword, then high dword. */
    private void write64(int offset, long value) {
        writeCommon(offset, 4, value & 0xFFFF_FFFFL);
        writeCommon(offset + 4, 4, value >>> 32);
    }

    public int status() {
        return (int) readCommon(VIRTIO_PCI_COMMON_STATUS, 1);
    }

    /** {@code virtio_add_status}: read, OR, write. */
    public void addStatus(int bits) {
        writeCommon(VIRTIO_PCI_COMMON_STATUS, 1, status() | bits);
    }

    public void writeStatus(int status) {
        writeCommon(VIRTIO_PCI_COMMON_STATUS, 1, status);
    }

    public int readIsr() {
        return (int) bus.read(isrBase, 1);
    }

    public int configGeneration() {
        return (int) readCommon(VIRTIO_PCI_COMMON_CFGGENERATION, 1);
    }

    public long readDeviceConfig(int offset, int size) {
        return bus.read(deviceBase + offset, size);
    }

    public void writeDeviceConfig(int offset, int size, long value) {
        bus.write(deviceBase + offset, size, value);
    }

    /** A BAR access through the PCI_CFG capability window (4.1.4.9), as firmware without BAR mapping does. */
    public long pciCfgRead(int bar, int offset, int length) {
        setupWindow(bar, offset, length);
        int data = config.read(pciCfgCap + VIRTIO_PCI_CFG_DATA, 4);
        return Integer.toUnsignedLong(data) & (length == 4 ? 0xFFFF_FFFFL : (1L << (8 * length)) - 1);
    }

    public void pciCfgWrite(int bar, int offset, int length, int value) {
        setupWindow(bar, offset, length);
        config.write(pciCfgCap + VIRTIO_PCI_CFG_DATA, length, value);
    }

    private void setupWindow(int bar, int offset, int length) {
        config.write(pciCfgCap + VIRTIO_PCI_CAP_BAR, 1, bar);
        config.write(pciCfgCap + VIRTIO_PCI_CAP_OFFSET, 4, offset);
        config.write(pciCfgCap + VIRTIO_PCI_CAP_LENGTH, 4, length);
    }

    // ---- what the probe found ----

    public boolean has(int feature) {
        return (features & (1L << feature)) != 0;
    }

    public int virtioDeviceId() {
        return virtioDeviceId;
    }

    public long deviceFeatures() {
        return deviceFeatures;
    }

    public long features() {
        return features;
    }

    public Strategy strategy() {
        return strategy;
    }

    public DriverQueue queue(int index) {
        return queues[index];
    }

    public int queueCount() {
        return queues.length;
    }

    /** The MSI-X vector the driver gave {@code queue} (NO_VECTOR in INTx mode). */
    public int queueVector(int queue) {
        return queueVector[queue];
    }

    public int notifyOff(int queue) {
        return notifyOff[queue];
    }

    public int notifyMultiplier() {
        return notifyMultiplier;
    }

    public int msixTableSize() {
        return msixTableSize;
    }

    public long barAddress(int bar) {
        return barAddress[bar];
    }

    public long barSize(int bar) {
        return barSize[bar];
    }

    public long commonBase() {
        return commonBase;
    }

    public long isrBase() {
        return isrBase;
    }

    public long deviceConfigBase() {
        return deviceBase;
    }

    public long deviceConfigLength() {
        return deviceLength;
    }

    public long notifyBase() {
        return notifyBase;
    }

    public long msixTableBase() {
        return msixTableBase;
    }

    public long pbaBase() {
        return pbaBase;
    }

    public int pciCfgCapability() {
        return pciCfgCap;
    }

    public int msixCapability() {
        return msixCap;
    }

    /** Offsets of the virtio capabilities found, by cfg_type (0 when absent). */
    public List<Integer> virtioCapabilities() {
        List<Integer> caps = new ArrayList<>();
        caps.add(commonCap);
        caps.add(notifyCap);
        caps.add(isrCap);
        caps.add(deviceCap);
        caps.add(pciCfgCap);
        return caps;
    }

    /** The fake bus of a driver made by {@link #plug}; a driver running through a real host has none. */
    public FakeMmioBus bus() {
        if (bus instanceof FakeMmioBus fake) {
            return fake;
        }
        throw new IllegalStateException("this driver performs MMIO through a host, not a FakeMmioBus");
    }

    /** How this driver performs MMIO. */
    public MmioAccess mmio() {
        return bus;
    }

    public PciInterruptDispatcher interrupts() {
        return irq;
    }

    /** The guest RAM the driver allocates its rings in. */
    public FakeGuestMemory memory() {
        return mem;
    }

    /** How this driver reaches configuration space. */
    public ConfigAccess config() {
        return config;
    }
}
