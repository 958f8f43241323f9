package dev.vnet.tap;

import dev.vnet.spi.BackendQueue;
import dev.vnet.spi.ReadinessListener;
import dev.vnet.spi.SegmentList;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Predicate;

import static org.assertj.core.api.Assertions.fail;

/**
 * Test side of a backend: native "guest memory", scatter-gather lists over it, and a
 * {@link ReadinessListener} that counts calls and wakes the test thread.
 */
final class Wire implements ReadinessListener, AutoCloseable {

    final Arena arena = Arena.ofShared();
    /** A 128 KiB stand-in for guest RAM; TX frames at 0, RX buffers at 64 KiB. */
    final MemorySegment ram = arena.allocate(128 * 1024, 4096);
    final SegmentList tx = new SegmentList(256);
    final SegmentList rx = new SegmentList(256);
    final Semaphore[] readable;
    final Semaphore[] writable;
    /** Released on every readable call, whatever the queue. */
    final Semaphore anyReadable = new Semaphore(0);
    final AtomicInteger readableCalls = new AtomicInteger();
    final AtomicInteger writableCalls = new AtomicInteger();

    Wire(int queues) {
        readable = new Semaphore[queues];
        writable = new Semaphore[queues];
        for (int i = 0; i < queues; i++) {
            readable[i] = new Semaphore(0);
            writable[i] = new Semaphore(0);
        }
    }

    @Override
    public void readable(int queue) {
        readableCalls.incrementAndGet();
        readable[queue].release();
        anyReadable.release();
    }

    @Override
    public void writable(int queue) {
        writableCalls.incrementAndGet();
        writable[queue].release();
    }

    /**
     * Copies {@code frame} (vnet header included) into RAM and lists it as several ranges: the header
     * alone, then chunks of at most {@code chunk} bytes, as a guest's descriptor chain would.
     */
    SegmentList txFrame(byte[] frame, int chunk) {
        tx.clear();
        MemorySegment.copy(frame, 0, ram, java.lang.foreign.ValueLayout.JAVA_BYTE, 0, frame.length);
        tx.add(ram, 0, Math.min(Packets.VNET_HDR, frame.length));
        for (int off = Packets.VNET_HDR; off < frame.length; off += chunk) {
            tx.add(ram, off, Math.min(chunk, frame.length - off));
        }
        return tx;
    }

    boolean send(BackendQueue queue, byte[] frame) {
        return queue.write(txFrame(frame, 700));
    }

    /** RX buffers: 12-byte header range, then 4 KiB ranges, {@code total} bytes in all (at most 64 KiB). */
    SegmentList rxBuffers(int total) {
        rx.clear();
        long base = 64 * 1024;
        rx.add(ram, base, Packets.VNET_HDR);
        for (long off = Packets.VNET_HDR; off < total; off += 4096) {
            rx.add(ram, base + off, Math.min(4096, total - off));
        }
        return rx;
    }

    /**
     * Reads frames from {@code queue} until one matches, waiting for the readiness listener whenever
     * {@code read} returns 0.
     *
     * @return the matching frame, vnet header included
     */
    byte[] receive(BackendQueue queue, int index, Predicate<byte[]> match, long timeoutMillis) {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMillis);
        for (;;) {
            int n = queue.read(rxBuffers(64 * 1024));
            if (n > 0) {
                byte[] frame = new byte[n];
                rx.copyTo(0, MemorySegment.ofArray(frame), 0, n);
                if (match.test(frame)) {
                    return frame;
                }
                continue;
            }
            long left = deadline - System.nanoTime();
            try {
                if (left <= 0 || !readable[index].tryAcquire(left, TimeUnit.NANOSECONDS)) {
                    fail("no matching frame on queue " + index + " within " + timeoutMillis + " ms");
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException(e);
            }
        }
    }

    static Predicate<byte[]> ethertype(int type) {
        return f -> f.length >= Packets.VNET_HDR + Packets.ETH
                && Packets.u16(f, Packets.VNET_HDR + 12) == type;
    }

    /** IPv4 frames of {@code protocol} (17 UDP, 6 TCP) to {@code dport}. */
    static Predicate<byte[]> ipv4(int protocol, int dport) {
        return f -> {
            int ip = Packets.VNET_HDR + Packets.ETH;
            if (!ethertype(0x0800).test(f) || (f[ip + 9] & 0xff) != protocol) {
                return false;
            }
            int l4 = ip + (f[ip] & 0x0f) * 4;
            return Packets.u16(f, l4 + 2) == dport;
        };
    }

    static byte[] strip(byte[] frame) {
        return Arrays.copyOfRange(frame, Packets.VNET_HDR, frame.length);
    }

    @Override
    public void close() {
        arena.close();
    }
}
