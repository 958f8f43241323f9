package dev.vnet.testkit.net;

import static dev.vnet.testkit.net.VirtioNetConstants.BIG_BUFFER_LEN;
import static dev.vnet.testkit.net.VirtioNetConstants.GOOD_PACKET_LEN;
import static dev.vnet.testkit.net.VirtioNetConstants.MERGEABLE_BUFFER_LEN;
import static dev.vnet.testkit.net.VirtioNetConstants.PAGE_SIZE;
import static dev.vnet.testkit.net.VirtioNetConstants.VIRTIO_NET_HDR_LEN;

import dev.vnet.testkit.Buffer;
import dev.vnet.testkit.FakeGuestMemory;
import dev.vnet.testkit.net.VirtioNetDriver.RxMode;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;

/**
 * The RX buffers of one receive queue, shaped as Linux {@code add_recvbuf_mergeable/big/small} posts them
 * for an {@link RxMode} (virtio 1.2, 5.1.6.3): one 1536-byte buffer; a header descriptor then pages for
 * 64 KiB; or one buffer of header + 1518 bytes. Used buffers are recycled (last in, first out), so guest
 * RAM stays bounded. Shared by {@link VirtioNetDriver} and other driver models of this shape.
 */
public final class RxBuffers {

    /** One RX buffer the driver owns: its sg list and how many bytes it holds. */
    public record RxBuf(List<Buffer> sgs, int capacity) {
    }

    private final FakeGuestMemory mem;
    private final RxMode mode;
    private final ArrayDeque<RxBuf> free = new ArrayDeque<>();

    public RxBuffers(FakeGuestMemory mem, RxMode mode) {
        this.mem = mem;
        this.mode = mode;
    }

    /** A recycled buffer, or a new one of the mode's shape. */
    public RxBuf take() {
        RxBuf b = free.poll();
        if (b != null) {
            return b;
        }
        return switch (mode) {
            case MERGEABLE -> single(MERGEABLE_BUFFER_LEN);
            case SMALL -> single(VIRTIO_NET_HDR_LEN + GOOD_PACKET_LEN);
            case BIG -> {
                List<Buffer> sgs = new ArrayList<>();
                sgs.add(new Buffer(mem.alloc(VIRTIO_NET_HDR_LEN, 16), VIRTIO_NET_HDR_LEN));
                int left = BIG_BUFFER_LEN - VIRTIO_NET_HDR_LEN;
                while (left > 0) {
                    int n = Math.min(PAGE_SIZE, left);
                    sgs.add(new Buffer(mem.alloc(PAGE_SIZE, PAGE_SIZE), n));
                    left -= n;
                }
                yield new RxBuf(sgs, BIG_BUFFER_LEN);
            }
        };
    }

    private RxBuf single(int length) {
        return new RxBuf(List.of(new Buffer(mem.alloc(length, 64), length)), length);
    }

    /** Gives {@code b} back for the next {@link #take}. */
    public void recycle(RxBuf b) {
        free.push(b);
    }

    /** Forgets the recycled buffers (a queue reset drops them). */
    public void clear() {
        free.clear();
    }

    /** The first {@code length} bytes the device wrote into {@code b}, across its sg entries. */
    public byte[] gather(RxBuf b, int length) {
        byte[] out = new byte[length];
        int at = 0;
        for (Buffer sg : b.sgs()) {
            int n = Math.min(sg.length(), length - at);
            if (n <= 0) {
                break;
            }
            System.arraycopy(mem.read(sg.gpa(), n), 0, out, at, n);
            at += n;
        }
        return out;
    }
}
