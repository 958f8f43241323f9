package dev.vnet.virtio;

/**
 * The {@code device_status} field (virtio 1.2, 2.1) and its legal transitions as a table.
 *
 * <p>The driver only ever adds bits, in the order of 3.1.1: ACKNOWLEDGE, DRIVER, FEATURES_OK,
 * DRIVER_OK. It may rewrite the current value, set FAILED at any time, and write 0 to reset (handled by
 * the transport before this table is asked). DEVICE_NEEDS_RESET is the device's to set; a driver that
 * writes it back unchanged is allowed.
 */
public final class DeviceStatus {

    public static final int ACKNOWLEDGE = 1;
    public static final int DRIVER = 2;
    public static final int DRIVER_OK = 4;
    public static final int FEATURES_OK = 8;
    public static final int DEVICE_NEEDS_RESET = 0x40;
    public static final int FAILED = 0x80;

    /** The steps of initialization (3.1.1), each the full set of driver bits at that point. */
    private static final int[] STEPS = {
        0,
        ACKNOWLEDGE,
        ACKNOWLEDGE | DRIVER,
        ACKNOWLEDGE | DRIVER | FEATURES_OK,
        ACKNOWLEDGE | DRIVER | FEATURES_OK | DRIVER_OK,
    };

    /** LEGAL[from][to] over the indexes of {@link #STEPS}: stay, or move one step forward. */
    private static final boolean[][] LEGAL = new boolean[STEPS.length][STEPS.length];

    static {
        for (int from = 0; from < STEPS.length; from++) {
            LEGAL[from][from] = true;
            if (from + 1 < STEPS.length) {
                LEGAL[from][from + 1] = true;
            }
        }
    }

    private DeviceStatus() {
    }

    /**
     * Whether the driver may write {@code to} when the status is {@code from} ({@code to != 0}).
     * {@code DEVICE_NEEDS_RESET} in {@code from} may be echoed back; {@code FAILED} may be added any time
     * but never cleared except by reset.
     */
    public static boolean isLegal(int from, int to) {
        if ((to & ~(ACKNOWLEDGE | DRIVER | DRIVER_OK | FEATURES_OK | DEVICE_NEEDS_RESET | FAILED)) != 0) {
            return false;
        }
        if ((from & FAILED) != 0 && (to & FAILED) == 0) {
            return false;
        }
        if ((to & DEVICE_NEEDS_RESET) != 0 && (from & DEVICE_NEEDS_RESET) == 0) {
            return false;
        }
        int fromStep = step(from & ~(FAILED | DEVICE_NEEDS_RESET));
        int toStep = step(to & ~(FAILED | DEVICE_NEEDS_RESET));
        if (fromStep < 0 || toStep < 0) {
            return false;
        }
        return LEGAL[fromStep][toStep];
    }

    private static int step(int driverBits) {
        for (int i = 0; i < STEPS.length; i++) {
            if (STEPS[i] == driverBits) {
                return i;
            }
        }
        return -1;
    }

    /** {@code ACKNOWLEDGE|DRIVER|...} for logs and the demo transcript. */
    public static String toString(int status) {
        if (status == 0) {
            return "RESET";
        }
        StringBuilder sb = new StringBuilder();
        String[] names = {"ACKNOWLEDGE", "DRIVER", "DRIVER_OK", "FEATURES_OK", "0x10", "0x20", "DEVICE_NEEDS_RESET",
            "FAILED"};
        for (int bit = 0; bit < 8; bit++) {
            if ((status & (1 << bit)) != 0) {
                sb.append(sb.isEmpty() ? "" : "|").append(names[bit]);
            }
        }
        return sb.toString();
    }
}
