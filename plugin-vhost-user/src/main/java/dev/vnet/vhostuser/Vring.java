package dev.vnet.vhostuser;

import dev.vnet.virtio.Virtqueue;

/**
 * What the front-end told the back-end about one vring (SET_VRING_*), and the {@link Virtqueue} built
 * from it while the ring runs. Written by the connection thread only; {@link #callFd} and
 * {@link #errFd} are read by device workers, so they are volatile and only replaced while the ring is
 * stopped.
 */
final class Vring {

    final int index;
    /** SET_VRING_NUM; 0 until set. */
    int num;
    /** SET_VRING_ADDR: front-end user addresses. */
    long descUser;
    long usedUser;
    long availUser;
    boolean addrSet;
    /** SET_VRING_BASE: the next available index to process. */
    int base;
    /** SET_VRING_KICK received: the ring is started. */
    boolean started;
    /** The kick eventfd, or -1 (polled when {@link #started}). */
    int kickFd = -1;
    volatile int callFd = -1;
    volatile int errFd = -1;
    /** SET_VRING_ENABLE, or true from the start without VHOST_USER_F_PROTOCOL_FEATURES. */
    boolean enabled;
    /** Non-null while the device uses the ring. */
    Virtqueue queue;

    Vring(int index) {
        this.index = index;
    }

    boolean running() {
        return queue != null;
    }

    /** Forgets everything and closes the descriptors (the ring must be stopped). */
    void clear() {
        num = 0;
        descUser = usedUser = availUser = 0;
        addrSet = false;
        base = 0;
        started = false;
        enabled = false;
        Native.close(kickFd);
        Native.close(callFd);
        Native.close(errFd);
        kickFd = callFd = errFd = -1;
    }
}
