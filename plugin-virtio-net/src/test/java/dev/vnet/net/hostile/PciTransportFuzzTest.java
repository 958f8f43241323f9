package dev.vnet.net.hostile;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.vnet.net.NetDeviceConfig;
import dev.vnet.net.VirtioNetDevice;
import dev.vnet.net.backend.InJvmBackend;
import dev.vnet.pci.BarLayout;
import dev.vnet.pci.VirtioPci;
import dev.vnet.pci.VirtioPciFunction;
import dev.vnet.spi.MmioHandler;
import dev.vnet.spi.PciFunctionContext;
import dev.vnet.testkit.FakeGuestMemory;
import dev.vnet.testkit.pci.FakeMmioBus;
import dev.vnet.testkit.pci.PciInterruptDispatcher;
import dev.vnet.virtio.DeviceWorker;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Timeout;

/**
 * Fuzzes the PCI surface of a {@link VirtioPciFunction} around a real {@link VirtioNetDevice}: random
 * sequences of sized reads and writes to configuration space and to the BAR (common configuration,
 * ISR, device configuration, notify area, MSI-X table and PBA), mixed with the steps a driver takes
 * (status writes, queue setup with rings anywhere in or outside fake RAM, MSI-X enable, a complete
 * init to DRIVER_OK) over guest RAM seeded with fuzzer bytes, so the started workers chew on hostile
 * rings while the registers change under them.
 *
 * <p>Invariants on every input: no access throws or is swallowed as an internal error
 * ({@link VirtioPciFunction#internalErrors()}); no worker throws; every access returns within 5 s
 * (reset joins the workers); writing 0 to {@code device_status} reads back 0 at once; num_queues and
 * the device id never change; a final reset leaves no queue pair running.
 */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class PciTransportFuzzTest {

    private static final long RAM = 0x10_0000;
    private static final int RAM_SIZE = 256 << 10;
    private static final long OP_LIMIT_NANOS = TimeUnit.SECONDS.toNanos(5);
    private static final int[] COMMON = {0x00, 0x04, 0x08, 0x0C, 0x10, 0x12, 0x14, 0x15, 0x16, 0x18, 0x1A, 0x1C, 0x1E,
        0x20, 0x24, 0x28, 0x2C, 0x30, 0x34, 0x38, 0x3A};
    private static final int[] COMMON_SIZE = {4, 4, 4, 4, 2, 2, 1, 1, 2, 2, 2, 2, 2, 8, 4, 8, 4, 8, 4, 2, 2};
    private static final int[] SIZES = {1, 2, 4, 8, 0, 3, 16, -1};

    private static final FakeGuestMemory MEM = new FakeGuestMemory(RAM, RAM_SIZE);
    private static final VirtioNetDevice DEVICE = new VirtioNetDevice(
            NetDeviceConfig.builder().id("fuzz-pci").queuePairs(2).queueSizes(64, 64).ctrlQueueSize(64).build(),
            InJvmBackend.loopback("fuzz-pci", 2, InJvmBackend.DEFAULT_RING_BYTES));
    private static final VirtioPciFunction FUNCTION =
            new VirtioPciFunction(DEVICE, MEM.memory(), VirtioPci.PCI_CLASS_NETWORK_ETHERNET);
    private static final PciInterruptDispatcher IRQ = new PciInterruptDispatcher();
    private static final MmioHandler BAR;
    private static final long BAR_SIZE;
    private static final int QUEUES;
    private static final int DEVICE_ID;

    static {
        FUNCTION.attach(new PciFunctionContext(new FakeMmioBus(), null, IRQ, IRQ));
        BAR = FUNCTION.barHandler();
        BAR_SIZE = FUNCTION.layout().barSize();
        QUEUES = DEVICE.queueCount();
        DEVICE_ID = FUNCTION.configRead(0, 4);
    }

    @FuzzTest(maxDuration = "30s")
    void registerSequencesNeverThrowHangOrLeak(FuzzedDataProvider data) {
        long workerFailures = DeviceWorker.failures();
        long internal = FUNCTION.internalErrors();
        MEM.fill(RAM, RAM_SIZE, (byte) 0);
        int blobs = data.consumeInt(0, 4);
        for (int i = 0; i < blobs; i++) {
            byte[] blob = data.consumeBytes(data.consumeInt(0, 2048));
            MEM.write(RAM + data.consumeInt(0, RAM_SIZE - 2048), blob);
        }
        try {
            for (int ops = 0; ops < 256 && data.remainingBytes() > 0; ops++) {
                long t0 = System.nanoTime();
                step(data);
                check(System.nanoTime() - t0 < OP_LIMIT_NANOS, "a register access took more than 5 s");
                check(readCommon(0x12, 2) == QUEUES, "num_queues changed");
            }
            check(FUNCTION.configRead(0, 4) == DEVICE_ID, "vendor/device id changed");
            long t0 = System.nanoTime();
            writeCommon(0x14, 1, 0);
            check(System.nanoTime() - t0 < OP_LIMIT_NANOS, "reset took more than 5 s");
            check(readCommon(0x14, 1) == 0, "device_status did not read 0 after a reset");
            check(DEVICE.activeQueuePairs() == 0, "queue pairs still active after a reset");
        } finally {
            FUNCTION.close();
        }
        check(FUNCTION.internalErrors() == internal, "a register access threw inside the transport");
        check(DeviceWorker.failures() == workerFailures, "a device worker threw");
    }

    private static void step(FuzzedDataProvider data) {
        switch (data.consumeInt(0, 10)) {
            case 0 -> FUNCTION.configRead(offset(data, 0x100), size(data));
            case 1 -> FUNCTION.configWrite(offset(data, 0x100), size(data), data.consumeInt());
            case 2 -> BAR.read(barOffset(data), size(data));
            case 3 -> {
                int f = data.consumeInt(0, COMMON.length - 1);
                int size = data.consumeInt(0, 7) == 0 ? size(data) : COMMON_SIZE[f];
                BAR.write(COMMON[f], size, value(data));
            }
            case 4 -> {
                int status = data.pickValue(new int[] {0, 1, 3, 11, 15, 0x40, 0x80, data.consumeInt(0, 255)});
                writeCommon(0x14, 1, status);
                if (status == 0) {
                    check(readCommon(0x14, 1) == 0, "device_status did not read 0 after a reset");
                }
            }
            case 5 -> setupQueue(data, queueIndex(data));
            case 6 -> BAR.write(BarLayout.NOTIFY_CFG_OFFSET + (long) BarLayout.NOTIFY_OFF_MULTIPLIER * queueIndex(data)
                    + (data.consumeInt(0, 7) == 0 ? data.consumeInt(1, 3) : 0), data.pickValue(new int[] {2, 4, 1, 8}),
                    data.consumeInt(0, 0xFFFF));
            case 7 -> {
                long at = FUNCTION.layout().msixTableOffset() + data.consumeInt(0, FUNCTION.layout().msixTableLength()
                        + FUNCTION.layout().pbaLength() + 16);
                if (data.consumeBoolean()) {
                    BAR.write(at, size(data), value(data));
                } else {
                    BAR.read(at, size(data));
                }
            }
            case 8 -> enableMsix(data.consumeBoolean());
            case 9 -> initialize(data);
            default -> BAR.read(BarLayout.ISR_CFG_OFFSET + data.consumeInt(0, 3), size(data));
        }
    }

    /** The Linux order: reset, ACK, DRIVER, features, FEATURES_OK, queues, DRIVER_OK; each value fuzzed a bit. */
    private static void initialize(FuzzedDataProvider data) {
        writeCommon(0x14, 1, 0);
        writeCommon(0x14, 1, 1);
        writeCommon(0x14, 1, 3);
        writeCommon(0x00, 4, 0);
        long offered = readCommon(0x04, 4);
        writeCommon(0x00, 4, 1);
        offered |= readCommon(0x04, 4) << 32;
        long acked = offered & (data.consumeBoolean() ? -1L : data.consumeLong());
        writeCommon(0x08, 4, 0);
        writeCommon(0x0C, 4, acked);
        writeCommon(0x08, 4, 1);
        writeCommon(0x0C, 4, acked >>> 32);
        writeCommon(0x14, 1, 11);
        int queues = data.consumeInt(0, QUEUES);
        for (int q = 0; q < queues; q++) {
            writeCommon(0x16, 2, q);
            int max = (int) readCommon(0x18, 2);
            int size = data.consumeBoolean() ? max : Math.max(1, max >> data.consumeInt(0, 6));
            writeCommon(0x18, 2, size);
            long base = RAM + 0x4000L * q;
            writeCommon(0x20, 8, base);
            writeCommon(0x28, 8, base + 16L * size);
            writeCommon(0x30, 8, (base + 16L * size + 6 + 2L * size + 3) & ~3L);
            writeCommon(0x1A, 2, data.consumeBoolean() ? q + 1 : 0xFFFF);
            writeCommon(0x1C, 2, 1);
        }
        writeCommon(0x10, 2, 0);
        writeCommon(0x14, 1, 15);
        for (int q = 0; q < queues; q++) {
            if (data.consumeBoolean()) {
                BAR.write(BarLayout.NOTIFY_CFG_OFFSET + (long) BarLayout.NOTIFY_OFF_MULTIPLIER * q, 2, q);
            }
        }
    }

    private static void setupQueue(FuzzedDataProvider data, int q) {
        writeCommon(0x16, 2, q);
        writeCommon(0x18, 2, data.consumeBoolean() ? 1 << data.consumeInt(0, 10) : data.consumeInt(0, 0xFFFF));
        writeCommon(0x20, 8, address(data, 16));
        writeCommon(0x28, 8, address(data, 2));
        writeCommon(0x30, 8, address(data, 4));
        if (data.consumeBoolean()) {
            writeCommon(0x1A, 2, data.consumeInt(0, 0xFFFF));
        }
        if (data.consumeInt(0, 3) != 0) {
            writeCommon(0x1C, 2, data.consumeBoolean() ? 1 : data.consumeInt(0, 0xFFFF));
        }
        if (data.consumeInt(0, 3) == 0) {
            writeCommon(0x3A, 2, 1);
        }
    }

    private static void enableMsix(boolean on) {
        int cap = FUNCTION.configRead(0x34, 1) & 0xFC;
        for (int ttl = 0; cap != 0 && ttl < 48; ttl++) {
            if ((FUNCTION.configRead(cap, 1) & 0xFF) == 0x11) {
                int control = FUNCTION.configRead(cap + 2, 2);
                FUNCTION.configWrite(cap + 2, 2, on ? control | 0x8000 : control & ~0x8000);
                return;
            }
            cap = FUNCTION.configRead(cap + 1, 1) & 0xFC;
        }
    }

    private static long address(FuzzedDataProvider data, int align) {
        return switch (data.consumeInt(0, 3)) {
            case 0 -> data.consumeLong();
            case 1 -> RAM + RAM_SIZE - data.consumeInt(0, 64);
            default -> (RAM + data.consumeInt(0, RAM_SIZE)) & -align;
        };
    }

    private static int queueIndex(FuzzedDataProvider data) {
        return switch (data.consumeInt(0, 4)) {
            case 0 -> data.consumeInt(0, 0xFFFF);
            case 1 -> 0xFFFF;
            default -> data.consumeInt(0, QUEUES + 1);
        };
    }

    private static int offset(FuzzedDataProvider data, int bias) {
        return data.consumeInt(0, 3) == 0 ? data.consumeInt() : data.consumeInt(0, bias);
    }

    private static long barOffset(FuzzedDataProvider data) {
        return data.consumeInt(0, 5) == 0 ? data.consumeLong() : data.consumeLong(0, BAR_SIZE + 16);
    }

    private static int size(FuzzedDataProvider data) {
        return data.pickValue(SIZES);
    }

    private static long value(FuzzedDataProvider data) {
        return data.consumeBoolean() ? data.consumeLong() : data.consumeInt(0, 0xFFFF);
    }

    private static void writeCommon(int offset, int size, long value) {
        BAR.write(BarLayout.COMMON_CFG_OFFSET + offset, size, value);
    }

    private static long readCommon(int offset, int size) {
        return BAR.read(BarLayout.COMMON_CFG_OFFSET + offset, size);
    }

    private static void check(boolean ok, String invariant) {
        if (!ok) {
            throw new AssertionError(invariant);
        }
    }
}
