package dev.vnet.linux;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The shared bindings against the real kernel: results, captured errno, struct layouts. */
class LibcTest {

    private final Arena arena = Arena.ofConfined();
    private final MemorySegment state = Libc.newCallState(arena);

    @AfterEach
    void close() {
        arena.close();
    }

    private int memfd(long size, int flags) {
        int fd = Libc.check(Libc.memfdCreate(state, arena.allocateFrom("libc-test"), Libc.MFD_CLOEXEC | flags), state,
                "memfd_create");
        Libc.check(Libc.ftruncate(state, fd, size), state, "ftruncate");
        return fd;
    }

    @Test
    void eventfdCountsWritesAndPollSeesIt() {
        int fd = Libc.check(Libc.eventfd(state, 0, Libc.EFD_NONBLOCK | Libc.EFD_CLOEXEC), state, "eventfd");
        MemorySegment u64 = arena.allocate(JAVA_LONG);
        MemorySegment pollfd = arena.allocate(Libc.POLLFD_SIZE, 8);
        Libc.setPollFd(pollfd, 0, fd, Libc.POLLIN);
        assertThat(Libc.poll(state, pollfd, 1, 0)).isZero();
        assertThat(Libc.read(state, fd, u64, 8)).isEqualTo(-1);
        assertThat(Libc.errno(state)).isEqualTo(Errno.EAGAIN);
        u64.set(JAVA_LONG, 0, 3);
        assertThat(Libc.write(state, fd, u64, 8)).isEqualTo(8);
        assertThat(Libc.write(state, fd, u64, 8)).isEqualTo(8);
        Libc.setPollFd(pollfd, 0, fd, Libc.POLLIN);
        assertThat(Libc.poll(state, pollfd, 1, 0)).isEqualTo(1);
        assertThat(Libc.revents(pollfd, 0) & Libc.POLLIN).isNotZero();
        assertThat(Libc.read(state, fd, u64, 8)).isEqualTo(8);
        assertThat(u64.get(JAVA_LONG, 0)).isEqualTo(6);
        assertThat(Libc.close(state, fd)).isZero();
    }

    @Test
    void failuresCarryTheirErrnoAndCheckNamesTheCall() {
        assertThat(Libc.close(state, -5)).isEqualTo(-1);
        assertThat(Libc.errno(state)).isEqualTo(Errno.EBADF);
        assertThatThrownBy(() -> Libc.check(Libc.fcntl(state, 1 << 20, Libc.F_GETFL, 0), state, "fcntl(F_GETFL)"))
                .isInstanceOfSatisfying(ErrnoException.class, e -> {
                    assertThat(e.errno()).isEqualTo(Errno.EBADF);
                    assertThat(e.call()).isEqualTo("fcntl(F_GETFL)");
                    assertThat(e.errnoName()).isEqualTo("EBADF");
                    assertThat(e.getMessage()).isEqualTo("fcntl(F_GETFL): EBADF (Bad file descriptor)");
                });
        assertThat(Libc.check(7L, state, "read")).isEqualTo(7L);
        assertThat(Errno.describe(4095)).isEqualTo("errno 4095 (Unknown error 4095)");
    }

    @Test
    void fstatTellsTypeAndSize() {
        int fd = memfd(12345, 0);
        FileStatus st = FileStatus.of(state, fd);
        assertThat(st.isRegular()).isTrue();
        assertThat(st.size()).isEqualTo(12345);
        MemorySegment sv = arena.allocate(8, 4);
        Libc.check(Libc.socketpair(state, Libc.AF_UNIX, Libc.SOCK_STREAM | Libc.SOCK_CLOEXEC, 0, sv), state, "socketpair");
        FileStatus socket = FileStatus.of(state, sv.get(JAVA_INT, 0));
        assertThat(socket.isRegular()).isFalse();
        assertThat(socket.mode() & FileStatus.S_IFMT).isEqualTo(0140000); // S_IFSOCK
        Libc.close(state, sv.get(JAVA_INT, 0));
        Libc.close(state, sv.get(JAVA_INT, 4));
        Libc.close(state, fd);
        assertThatThrownBy(() -> FileStatus.of(state, fd)).isInstanceOfSatisfying(ErrnoException.class,
                e -> assertThat(e.errno()).isEqualTo(Errno.EBADF));
    }

    @Test
    void sealShrinkMakesTheKernelRefuseTruncationOnlyWhereSealingIsAllowed() {
        int sealable = memfd(8192, Libc.MFD_ALLOW_SEALING);
        assertThat(Libc.fcntl(state, sealable, Libc.F_ADD_SEALS, Libc.F_SEAL_SHRINK)).isZero();
        assertThat(Libc.fcntl(state, sealable, Libc.F_GET_SEALS, 0) & Libc.F_SEAL_SHRINK).isNotZero();
        assertThat(Libc.ftruncate(state, sealable, 0)).isEqualTo(-1);
        assertThat(Libc.errno(state)).isEqualTo(Errno.EPERM);
        assertThat(Libc.ftruncate(state, sealable, 16384)).isZero(); // growing is still allowed
        assertThat(FileStatus.of(state, sealable).size()).isEqualTo(16384);

        int unsealable = memfd(8192, 0);
        assertThat(Libc.fcntl(state, unsealable, Libc.F_GET_SEALS, 0)).isEqualTo(Libc.F_SEAL_SEAL);
        assertThat(Libc.fcntl(state, unsealable, Libc.F_ADD_SEALS, Libc.F_SEAL_SHRINK)).isEqualTo(-1);
        assertThat(Libc.errno(state)).isEqualTo(Errno.EPERM);
        assertThat(Libc.ftruncate(state, unsealable, 0)).isZero();
        Libc.close(state, sealable);
        Libc.close(state, unsealable);
    }

    @Test
    void sharedMappingSeesTheFile() {
        int fd = memfd(4096, 0);
        MemorySegment map = Libc.mmap(state, 4096, Libc.PROT_READ | Libc.PROT_WRITE, Libc.MAP_SHARED, fd, 0);
        assertThat(map.address()).isNotEqualTo(-1L);
        map.reinterpret(4096).set(JAVA_BYTE, 100, (byte) 0x5A);
        MemorySegment buf = arena.allocate(4096);
        assertThat(Libc.read(state, fd, buf, 4096)).isEqualTo(4096);
        assertThat(buf.get(JAVA_BYTE, 100)).isEqualTo((byte) 0x5A);
        assertThat(Libc.munmap(state, map, 4096)).isZero();
        MemorySegment failed = Libc.mmap(state, 4096, Libc.PROT_READ, Libc.MAP_SHARED, -1, 0);
        assertThat(failed.address()).isEqualTo(-1L);
        assertThat(Libc.errno(state)).isEqualTo(Errno.EBADF);
        Libc.close(state, fd);
    }

    @Test
    void iovecAndNonBlockingHelpers() {
        MemorySegment iov = arena.allocate(2 * Libc.IOVEC_SIZE, 8);
        Libc.setIovec(iov, 1, 0x1234, 99);
        assertThat(iov.get(JAVA_LONG, 16)).isEqualTo(0x1234);
        assertThat(iov.get(JAVA_LONG, 24)).isEqualTo(99);
        int fd = Libc.check(Libc.eventfd(state, 0, Libc.EFD_CLOEXEC), state, "eventfd");
        assertThat(Libc.fcntl(state, fd, Libc.F_GETFL, 0) & Libc.O_NONBLOCK).isZero();
        Libc.setNonBlocking(state, fd);
        assertThat(Libc.fcntl(state, fd, Libc.F_GETFL, 0) & Libc.O_NONBLOCK).isNotZero();
        Libc.closeQuietly(state, fd);
        Libc.closeQuietly(state, -1);
    }
}
