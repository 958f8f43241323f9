package dev.vnet.testkit.net;

import static dev.vnet.testkit.net.VirtioNetConstants.PAGE_SIZE;

import dev.vnet.testkit.Buffer;
import dev.vnet.testkit.DriverQueue;
import dev.vnet.testkit.FakeGuestMemory;
import java.util.ArrayList;
import java.util.List;

/**
 * The guest page Linux {@code virtnet_send_command} builds a control command in (virtio 1.2, 5.1.6.5):
 * out {class, command}, out data (when not empty), in a 1-byte ack. How the driver then waits for the
 * answer is its own business; {@link #ack} reads it.
 */
public final class ControlBuffer {

    private static final int ACK = 8;
    private static final int DATA = 64;
    /** The ack byte before the device answers: no VIRTIO_NET_OK/ERR value. */
    public static final int NOT_ANSWERED = 0xFF;

    private final FakeGuestMemory mem;
    private long page;

    public ControlBuffer(FakeGuestMemory mem) {
        this.mem = mem;
    }

    /**
     * Writes the command, sets the ack to {@link #NOT_ANSWERED} and adds the chain to {@code q} (no kick).
     *
     * @return the head index, or the negative errno of {@link DriverQueue#add} when the ring is full
     * @throws IllegalArgumentException when {@code data} does not fit the page
     */
    public int add(DriverQueue q, int cls, int cmd, byte[] data) {
        if (data.length > PAGE_SIZE - DATA) {
            throw new IllegalArgumentException("command data of " + data.length + " bytes");
        }
        if (page == 0) {
            page = mem.alloc(PAGE_SIZE, 64);
        }
        mem.write(page, new byte[] {(byte) cls, (byte) cmd});
        mem.write(page + ACK, new byte[] {(byte) NOT_ANSWERED});
        List<Buffer> out = new ArrayList<>();
        out.add(new Buffer(page, 2));
        if (data.length > 0) {
            mem.write(page + DATA, data);
            out.add(new Buffer(page + DATA, data.length));
        }
        return q.add(out, List.of(new Buffer(page + ACK, 1)), "ctrl");
    }

    /** The ack byte of the last command: VIRTIO_NET_OK (0), VIRTIO_NET_ERR (1), or {@link #NOT_ANSWERED}. */
    public int ack() {
        return mem.read(page + ACK, 1)[0] & 0xFF;
    }
}
