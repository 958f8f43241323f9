package dev.vnet.vhostuser;

import dev.vnet.linux.Errno;
import dev.vnet.linux.ErrnoException;
import dev.vnet.linux.FileStatus;
import dev.vnet.spi.GuestMemoryMap;
import dev.vnet.spi.GuestRegion;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

/**
 * The front-end's memory as a vhost-user SET_MEM_TABLE describes it: each region's descriptor mapped
 * shared into this process, exposed as a {@link GuestMemoryMap} keyed by guest-physical address (what
 * descriptors hold) plus the translation of front-end user addresses (what SET_VRING_ADDR holds) to
 * guest-physical ones.
 *
 * <p>A front-end could shrink a region's file after handing it over, and the next access past the new
 * end would fault (SIGBUS). So each region's file is sealed against shrinking where the kernel allows
 * it ({@code F_SEAL_SHRINK}: memfds made with {@code MFD_ALLOW_SEALING}, as QEMU's
 * {@code memory-backend-memfd} does by default), and must hold the whole region when the table is
 * mapped; where sealing is refused, a later shrink is contained by the device workers
 * ({@code DeviceWorker}, {@code GuestErrorListener.memoryFault}).
 *
 * <p>Immutable once built; {@link #close} unmaps, so the owner must first stop every queue that uses it.
 */
public final class MemoryTable implements AutoCloseable {

    /** One region as the message states it. */
    public record Region(long gpa, long size, long userAddr, long mmapOffset) {
    }

    private static final long PAGE = 4096;

    private final List<Region> regions;
    private final List<MemorySegment> mappings;
    private final List<Boolean> sealed;
    private final GuestMemoryMap memory;
    private boolean closed;

    private MemoryTable(List<Region> regions, List<MemorySegment> mappings, List<Boolean> sealed,
                        GuestMemoryMap memory) {
        this.regions = List.copyOf(regions);
        this.mappings = mappings;
        this.sealed = List.copyOf(sealed);
        this.memory = memory;
    }

    /**
     * Parses a SET_MEM_TABLE payload ({@code u32 nregions, u32 padding, nregions x {gpa, size, uaddr,
     * mmap_offset}}) and checks every field: 1..8 regions, one descriptor per region, non-empty regions
     * that do not wrap and do not overlap, in guest-physical or in user address space.
     */
    public static List<Region> parse(Message m) throws ProtocolException {
        if (m.size() < 8) {
            throw new ProtocolException("SET_MEM_TABLE: payload of " + m.size() + " bytes");
        }
        ByteBuffer b = m.buffer();
        int n = b.getInt(0);
        if (n < 1 || n > VhostUser.MAX_MEM_REGIONS) {
            throw new ProtocolException("SET_MEM_TABLE: " + Integer.toUnsignedString(n) + " regions, expected 1.."
                    + VhostUser.MAX_MEM_REGIONS);
        }
        // QEMU sends exactly the regions used; some front-ends send the whole 8-entry array.
        int exact = 8 + n * VhostUser.MEM_REGION_SIZE;
        int full = 8 + VhostUser.MAX_MEM_REGIONS * VhostUser.MEM_REGION_SIZE;
        if (m.size() != exact && m.size() != full) {
            throw new ProtocolException("SET_MEM_TABLE: payload of " + m.size() + " bytes for " + n + " regions");
        }
        m.expectFds(n);
        List<Region> out = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            int o = 8 + i * VhostUser.MEM_REGION_SIZE;
            Region r = new Region(b.getLong(o), b.getLong(o + 8), b.getLong(o + 16), b.getLong(o + 24));
            checkRegion(i, r);
            for (Region other : out) {
                if (overlaps(r.gpa, other.gpa, r.size, other.size)
                        || overlaps(r.userAddr, other.userAddr, r.size, other.size)) {
                    throw new ProtocolException("SET_MEM_TABLE: region " + i + " overlaps another");
                }
            }
            out.add(r);
        }
        return out;
    }

    private static void checkRegion(int i, Region r) throws ProtocolException {
        if (r.size <= 0) {
            throw new ProtocolException("SET_MEM_TABLE: region " + i + " has size " + Long.toUnsignedString(r.size));
        }
        if (wraps(r.gpa, r.size) || wraps(r.userAddr, r.size) || r.mmapOffset < 0 || wraps(r.mmapOffset, r.size)) {
            throw new ProtocolException("SET_MEM_TABLE: region " + i + " wraps the address space");
        }
    }

    private static boolean wraps(long start, long size) {
        return Long.compareUnsigned(start + size - 1, start) < 0;
    }

    private static boolean overlaps(long a, long b, long aSize, long bSize) {
        return Long.compareUnsigned(a, b + bSize - 1) <= 0 && Long.compareUnsigned(b, a + aSize - 1) <= 0;
    }

    /**
     * Maps every region (consuming the descriptors: each is closed once mapped, or on failure). Per
     * region: seal its file against shrinking if the kernel lets us, then {@code fstat} it, then map it.
     * Sealing comes first so that the size checked is one the file can no longer go below.
     *
     * @throws ErrnoException when a region's {@code mmap_offset + size} passes the end of its regular
     *         file (a memfd, a tmpfs or hugetlbfs file), or a mapping fails; nothing stays mapped
     */
    public static MemoryTable map(List<Region> regions, int[] fds) {
        List<MemorySegment> mappings = new ArrayList<>();
        List<GuestRegion> guest = new ArrayList<>();
        List<Boolean> sealed = new ArrayList<>();
        try {
            for (int i = 0; i < regions.size(); i++) {
                Region r = regions.get(i);
                long aligned = r.mmapOffset & -PAGE;
                long skip = r.mmapOffset - aligned;
                sealed.add(Native.sealShrink(fds[i]));
                // A region past the end of its file maps fine, but the first access there raises SIGBUS
                // (an InternalError in the accessing thread): refuse it here (found by fuzzing).
                FileStatus file = Native.fileStatus(fds[i]);
                if (file.isRegular() && (Long.compareUnsigned(r.mmapOffset, file.size()) > 0
                        || r.size > file.size() - r.mmapOffset)) {
                    throw new ErrnoException("SET_MEM_TABLE region " + i + ": offset "
                            + Long.toUnsignedString(r.mmapOffset) + " + size " + r.size + " beyond the file's "
                            + file.size() + " bytes", Errno.EINVAL);
                }
                MemorySegment map = Native.mmap(fds[i], r.size + skip, aligned);
                mappings.add(map);
                guest.add(new GuestRegion(r.gpa, map.asSlice(skip, r.size), false));
            }
            return new MemoryTable(regions, mappings, sealed, new GuestMemoryMap(guest));
        } catch (RuntimeException e) {
            mappings.forEach(Native::munmap);
            throw e;
        } finally {
            for (int fd : fds) {
                Native.close(fd);
            }
        }
    }

    public GuestMemoryMap memory() {
        return memory;
    }

    public List<Region> regions() {
        return regions;
    }

    /** Per region, in table order: whether its file is sealed against shrinking ({@code F_SEAL_SHRINK}). */
    public List<Boolean> sealed() {
        return sealed;
    }

    /**
     * The guest-physical address of front-end user address {@code userAddr}, when
     * {@code [userAddr, userAddr + length)} lies inside one region.
     *
     * @return the address, or -1 when it does not
     */
    public long userToGuest(long userAddr, long length) {
        for (Region r : regions) {
            long off = userAddr - r.userAddr;
            if (Long.compareUnsigned(userAddr, r.userAddr) >= 0 && Long.compareUnsigned(off, r.size) < 0
                    && length >= 0 && length <= r.size - off) {
                return r.gpa + off;
            }
        }
        return -1;
    }

    /** Unmaps every region; idempotent. No queue may use the memory any more. */
    @Override
    public synchronized void close() {
        if (!closed) {
            closed = true;
            mappings.forEach(Native::munmap);
        }
    }
}
