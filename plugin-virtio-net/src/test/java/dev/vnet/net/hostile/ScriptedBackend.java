package dev.vnet.net.hostile;

import dev.vnet.spi.BackendException;
import dev.vnet.spi.BackendQueue;
import dev.vnet.spi.NetBackend;
import dev.vnet.spi.Offloads;
import dev.vnet.spi.ReadinessListener;
import dev.vnet.spi.SegmentList;
import java.lang.foreign.MemorySegment;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A backend whose faults are scripted, the way a TAP fd misbehaves: writes that report "full"
 * (EAGAIN) or throw {@link BackendException} with an errno (EIO, EINVAL, EBADF after close), reads that
 * throw, a peek that throws or cannot tell (-1), and frames injected as the host would deliver them,
 * vnet header included when {@link #vnetHeader()} is true (nothing here validates them).
 */
final class ScriptedBackend implements NetBackend {

    static final int EIO = 5;
    static final int EBADF = 9;
    static final int EAGAIN = 11;
    static final int EINVAL = 22;

    private final boolean vnetHeader;
    private final int pairs;
    private final List<ArrayDeque<byte[]>> inbound = new ArrayList<>();
    private final List<byte[]> sent = new ArrayList<>();
    private volatile ReadinessListener listener;
    private volatile boolean closed;
    private volatile boolean peekUnknown;

    /** Errno thrown by the next {@code n} writes (0 = EAGAIN: the write reports full instead). */
    volatile int writeErrno;
    final AtomicInteger writeFaults = new AtomicInteger();
    volatile int readErrno;
    final AtomicInteger readFaults = new AtomicInteger();
    final AtomicInteger peekFaults = new AtomicInteger();
    final AtomicLong writes = new AtomicLong();
    final AtomicLong reads = new AtomicLong();
    final AtomicLong peekCalls = new AtomicLong();
    /** Runs inside the next write/read, before the frame is copied (then cleared): a host action mid-copy. */
    volatile Runnable beforeCopy;

    ScriptedBackend(boolean vnetHeader, int pairs) {
        this.vnetHeader = vnetHeader;
        this.pairs = pairs;
        for (int i = 0; i < pairs; i++) {
            inbound.add(new ArrayDeque<>());
        }
    }

    /** Makes the next {@code n} writes fail with {@code errno} (EAGAIN: return false, then signal writable). */
    void failWrites(int errno, int n) {
        writeErrno = errno;
        writeFaults.set(n);
    }

    void failReads(int errno, int n) {
        readErrno = errno;
        readFaults.set(n);
    }

    void failPeeks(int n) {
        peekFaults.set(n);
    }

    void peekUnknown(boolean unknown) {
        peekUnknown = unknown;
    }

    /** Lets writes blocked by EAGAIN go on, as POLLOUT would. */
    void signalWritable() {
        ReadinessListener l = listener;
        if (l != null) {
            for (int q = 0; q < pairs; q++) {
                l.writable(q);
            }
        }
    }

    void inject(int q, byte[] frame) {
        synchronized (this) {
            inbound.get(q).add(frame);
        }
        ReadinessListener l = listener;
        if (l != null) {
            l.readable(q);
        }
    }

    synchronized List<byte[]> sent() {
        return List.copyOf(sent);
    }

    synchronized int pending(int q) {
        return inbound.get(q).size();
    }

    /** Re-opens after {@link #close} (a host that reconnects the backend). */
    void reopen() {
        closed = false;
    }

    @Override
    public boolean vnetHeader() {
        return vnetHeader;
    }

    @Override
    public int supportedOffloads() {
        return vnetHeader ? Offloads.ALL : 0;
    }

    @Override
    public void setOffloads(int offloads) {
        checkOpen();
    }

    @Override
    public int maxQueuePairs() {
        return pairs;
    }

    @Override
    public void setActiveQueues(int n) {
        checkOpen();
    }

    @Override
    public void setReadinessListener(ReadinessListener l) {
        listener = l;
    }

    @Override
    public void close() {
        closed = true;
    }

    private void checkOpen() {
        if (closed) {
            throw new BackendException("backend is closed", EBADF);
        }
    }

    private void runHook() {
        Runnable hook = beforeCopy;
        if (hook != null) {
            beforeCopy = null;
            hook.run();
        }
    }

    @Override
    public BackendQueue queue(int index) {
        return new BackendQueue() {
            @Override
            public boolean write(SegmentList frame) {
                checkOpen();
                if (writeFaults.get() > 0 && writeFaults.decrementAndGet() >= 0) {
                    if (writeErrno == EAGAIN) {
                        return false;
                    }
                    throw new BackendException("scripted write fault", writeErrno);
                }
                runHook();
                byte[] b = new byte[(int) frame.totalLength()];
                frame.copyTo(0, MemorySegment.ofArray(b), 0, b.length);
                writes.incrementAndGet();
                synchronized (ScriptedBackend.this) {
                    if (sent.size() < 10_000) {
                        sent.add(b);
                    }
                }
                return true;
            }

            @Override
            public int read(SegmentList buffers) {
                checkOpen();
                if (readFaults.get() > 0 && readFaults.decrementAndGet() >= 0) {
                    if (readErrno == EAGAIN) {
                        return 0;
                    }
                    throw new BackendException("scripted read fault", readErrno);
                }
                byte[] f;
                synchronized (ScriptedBackend.this) {
                    f = inbound.get(index).poll();
                }
                if (f == null) {
                    return 0;
                }
                reads.incrementAndGet();
                runHook();
                buffers.copyFrom(MemorySegment.ofArray(f), 0, 0, Math.min(f.length, buffers.totalLength()));
                return f.length;
            }

            @Override
            public int peekLength() {
                peekCalls.incrementAndGet();
                if (peekUnknown) {
                    return -1; // TAP: cannot tell, and does not look at the fd
                }
                checkOpen();
                if (peekFaults.get() > 0 && peekFaults.decrementAndGet() >= 0) {
                    throw new BackendException("scripted peek fault", EIO);
                }
                synchronized (ScriptedBackend.this) {
                    byte[] f = inbound.get(index).peek();
                    return f == null ? 0 : f.length;
                }
            }
        };
    }
}
