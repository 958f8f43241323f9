package dev.vnet.bench;

/**
 * How the lean drivers poll the device: spin briefly, then yield the CPU on every retry. Spinning
 * forever would, on a host with fewer free cores than spinning threads, take the time slice the device
 * worker needs (throughput then collapses to one ring per scheduler slice). The TX driver polls a full
 * ring this way for as long as it takes (halting there until the TX interrupt measured slower: see
 * docs/PERFORMANCE.md); the RX driver polls like this for a while, then halts ({@link Idle}).
 */
final class Waits {

    private static final int SPINS = 64;

    private Waits() {
    }

    static void pause(int spins) {
        if (spins < SPINS) {
            Thread.onSpinWait();
        } else {
            Thread.yield();
        }
    }
}
