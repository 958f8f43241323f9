package dev.vnet.virtio;

/** Arithmetic on the free-running 16-bit ring indexes (virtio 1.2, 2.7.6 and 2.7.8). */
public final class Ring16 {

    private Ring16() {
    }

    /** {@code (a - b) mod 2^16}: how far index {@code a} is ahead of {@code b}. */
    public static int distance(int a, int b) {
        return (a - b) & 0xFFFF;
    }

    public static int add(int a, int n) {
        return (a + n) & 0xFFFF;
    }

    /**
     * {@code vring_need_event} (2.7.10): whether moving an index from {@code old} to {@code now} passes
     * the other side's {@code event} index, i.e. the other side asked to be notified.
     */
    public static boolean needEvent(int event, int now, int old) {
        return distance(now, Ring16.add(event, 1)) < distance(now, old);
    }
}
