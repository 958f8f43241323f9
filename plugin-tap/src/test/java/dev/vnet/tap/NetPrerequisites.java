package dev.vnet.tap;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.vnet.tap.Tap;
import dev.vnet.testkit.netns.NetNs;

/**
 * Skips a real-network test, printing why, where this machine cannot run it. Shared with integration-tests
 * through this module's test jar.
 */
public final class NetPrerequisites {

    private NetPrerequisites() {
    }

    /** TAP works, we are root and iproute2 runs. */
    public static void assumeTapRootAndIp() {
        assumeTrue(Tap.isAvailable(), () -> skip("TAP unavailable: " + Tap.unavailabilityCause()));
        String missing = NetNs.missingPrerequisite();
        assumeTrue(missing == null, () -> skip(missing));
    }

    /** python3 runs. */
    public static void assumePython() {
        String missing = NetNs.missingPython();
        assumeTrue(missing == null, () -> skip(missing));
    }

    private static String skip(String cause) {
        System.out.println("SKIPPED: " + cause);
        return cause;
    }
}
