package dev.vnet.testkit.net;

import dev.vnet.testkit.Buffer;
import dev.vnet.testkit.DriverQueue;
import dev.vnet.testkit.FakeGuestMemory;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * TX buffers as Linux {@code xmit_skb} hands them to the device (virtio 1.2, 5.1.6.2): the 12-byte header
 * and the frame, in one sg entry or with the header in its own; and {@code free_old_xmit}, which takes
 * them back. Buffers come from power-of-two size classes and are reused, so guest RAM stays bounded.
 * Shared by {@link VirtioNetDriver} and other driver models of this shape.
 */
public final class TxBuffers {

    private record TxBuf(long gpa, int sizeClass) {
    }

    private final FakeGuestMemory mem;
    private final Map<Integer, ArrayDeque<Long>> free = new HashMap<>();

    public TxBuffers(FakeGuestMemory mem) {
        this.mem = mem;
    }

    /**
     * Copies {@code header} and {@code frame} into a buffer and adds it to {@code q} (no kick).
     *
     * @return the head index, or the negative errno of {@link DriverQueue#add} when the ring is full
     */
    public int add(DriverQueue q, byte[] header, byte[] frame, boolean headerOwnSg) {
        int total = header.length + frame.length;
        int sizeClass = Integer.highestOneBit(Math.max(total, 64) * 2 - 1);
        ArrayDeque<Long> pool = free.computeIfAbsent(sizeClass, k -> new ArrayDeque<>());
        long gpa = pool.isEmpty() ? mem.alloc(sizeClass, 64) : pool.pop();
        mem.write(gpa, header);
        mem.write(gpa + header.length, frame);
        List<Buffer> out = headerOwnSg && frame.length > 0
                ? List.of(new Buffer(gpa, header.length), new Buffer(gpa + header.length, frame.length))
                : List.of(new Buffer(gpa, total));
        int r = q.add(out, List.of(), new TxBuf(gpa, sizeClass));
        if (r < 0) {
            pool.push(gpa);
        }
        return r;
    }

    /** {@code free_old_xmit}: takes back the buffers the device used on {@code q}; returns their used lengths. */
    public List<Integer> reclaim(DriverQueue q) {
        List<Integer> lengths = new ArrayList<>();
        DriverQueue.Used u;
        while ((u = q.getBuf()) != null) {
            TxBuf b = (TxBuf) u.token();
            free.computeIfAbsent(b.sizeClass(), k -> new ArrayDeque<>()).push(b.gpa());
            lengths.add(u.length());
        }
        return lengths;
    }
}
