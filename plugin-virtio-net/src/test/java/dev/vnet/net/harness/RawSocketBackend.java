package dev.vnet.net.harness;

import dev.vnet.spi.NetBackend;
import dev.vnet.spi.SegmentList;
import java.lang.foreign.MemorySegment;

/**
 * What every test backend without vnet headers shares (a raw socket's view): no {@code virtio_net_hdr}
 * on either path, no offloads to advertise or set, so the device completes checksums and segments in
 * software; and {@link #bytes} to capture a frame the device wrote.
 */
public abstract class RawSocketBackend implements NetBackend {

    @Override
    public final boolean vnetHeader() {
        return false;
    }

    @Override
    public final int supportedOffloads() {
        return 0;
    }

    @Override
    public final void setOffloads(int offloads) {
    }

    /** A copy of the frame the device handed to {@code BackendQueue.write}. */
    protected static byte[] bytes(SegmentList frame) {
        byte[] b = new byte[(int) frame.totalLength()];
        frame.copyTo(0, MemorySegment.ofArray(b), 0, b.length);
        return b;
    }
}
