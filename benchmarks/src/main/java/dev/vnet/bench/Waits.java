package dev.vnet.bench;

/**
 * How the lean drivers wait for the device: spin briefly, then yield the CPU on every retry. A guest
 * would sleep until an interrupt; spinning forever would, on a host with fewer free cores than spinning
 * threads, take the time slice the device worker needs (throughput then collapses to one ring per
 * scheduler slice).
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
