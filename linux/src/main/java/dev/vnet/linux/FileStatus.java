package dev.vnet.linux;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * What {@code fstat(2)} says about a descriptor that matters here: its type ({@code st_mode & S_IFMT})
 * and size ({@code st_size}). {@code struct stat} differs between ABIs: x86-64 has its own layout
 * ({@code st_nlink} before {@code st_mode}), aarch64 and riscv64 the asm-generic one; {@code st_size}
 * is at offset 48 in both.
 *
 * @param mode {@code st_mode}: file type and permission bits
 * @param size {@code st_size}: bytes, for a regular file (memfd, tmpfs, hugetlbfs and disk files alike)
 */
public record FileStatus(int mode, long size) {

    /** {@code S_IFMT}: the file-type bits of {@code st_mode}. */
    public static final int S_IFMT = 0170000;
    /** {@code S_IFREG}: a regular file. */
    public static final int S_IFREG = 0100000;

    /** Bytes to allocate for a {@code struct stat}: the larger of the two layouts (x86-64: 144). */
    static final long STAT_SIZE = 144;
    private static final long ST_SIZE = 48;
    private static final long ST_MODE = isX86() ? 24 : 16;

    private static boolean isX86() {
        String arch = System.getProperty("os.arch", "");
        return arch.equals("amd64") || arch.equals("x86_64");
    }

    /**
     * {@code fstat(fd)}.
     *
     * @throws ErrnoException when the call fails (EBADF, ...)
     */
    public static FileStatus of(MemorySegment state, int fd) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment st = arena.allocate(STAT_SIZE, 8);
            Libc.check(Libc.fstat(state, fd, st), state, "fstat(" + fd + ")");
            return new FileStatus(st.get(JAVA_INT, ST_MODE), st.get(JAVA_LONG, ST_SIZE));
        }
    }

    /** Whether it is a regular file, so that {@link #size} is what a mapping of it may cover. */
    public boolean isRegular() {
        return (mode & S_IFMT) == S_IFREG;
    }
}
