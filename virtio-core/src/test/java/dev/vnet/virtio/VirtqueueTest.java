package dev.vnet.virtio;

import static dev.vnet.virtio.QueueFixture.features;
import static dev.vnet.virtio.VirtioFeatures.VIRTIO_F_EVENT_IDX;
import static dev.vnet.virtio.VirtioFeatures.VIRTIO_F_INDIRECT_DESC;
import static org.assertj.core.api.Assertions.assertThat;

import dev.vnet.testkit.Buffer;
import dev.vnet.testkit.DriverQueue;
import dev.vnet.testkit.FakeGuestMemory;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The split-ring engine against a Linux-like driver and against hand-made hostile rings. */
class VirtqueueTest {

    private static final int F_NEXT = DriverQueue.F_NEXT;
    private static final int F_WRITE = DriverQueue.F_WRITE;
    private static final int F_INDIRECT = DriverQueue.F_INDIRECT;

    @Nested
    class WellFormedChains {

        @Test
        void directChainSplitsIntoReadableThenWritableParts() {
            try (QueueFixture f = new QueueFixture(16, features())) {
                Buffer hdr = f.buffer(12, 0x11);
                Buffer body = f.buffer(100, 0x22);
                Buffer in = f.buffer(64, 0);
                f.driver.add(List.of(hdr, body), List.of(in), "t");

                assertThat(f.queue.pop(f.chain)).isTrue();
                assertThat(f.chain.descriptorCount()).isEqualTo(3);
                assertThat(f.chain.readableLength()).isEqualTo(112);
                assertThat(f.chain.writableLength()).isEqualTo(64);
                assertThat(f.queue.pop(f.chain)).isFalse();
                assertThat(f.errors).isEmpty();
            }
        }

        @Test
        void oneDescriptorChainsReusingAChainObjectKeepOnlyTheirOwnRanges() {
            // One-descriptor chains take Virtqueue.popSingle, which rewrites only the chain fields that change.
            try (QueueFixture f = new QueueFixture(16, features())) {
                Buffer out = f.buffer(20, 0x33);
                Buffer in = f.buffer(24, 0);
                f.driver.add(List.of(f.buffer(12, 0x11), f.buffer(8, 0x22)), List.of(f.buffer(40, 0)), "long");
                f.driver.addIn("rx", in);
                f.driver.addOut("tx", out);

                assertThat(f.queue.pop(f.chain)).isTrue();
                assertThat(f.chain.descriptorCount()).isEqualTo(3);

                assertThat(f.queue.pop(f.chain)).isTrue();
                assertThat(f.chain.descriptorCount()).isEqualTo(1);
                assertThat(f.chain.readableLength()).isZero();
                assertThat(f.chain.writableLength()).isEqualTo(24);
                MemorySegment src = MemorySegment.ofArray(new byte[40]);
                src.fill((byte) 0x44);
                assertThat(f.chain.write(0, src, 0, 40)).isEqualTo(24);
                assertThat(f.mem.read(in.gpa(), 24)).containsOnly(0x44);

                assertThat(f.queue.pop(f.chain)).isTrue();
                assertThat(f.chain.descriptorCount()).isEqualTo(1);
                assertThat(f.chain.readableLength()).isEqualTo(20);
                assertThat(f.chain.writableLength()).isZero();
                assertThat(f.chain.readLittleEndian(19, 1)).isEqualTo(0x33);
                assertThat(f.chain.writeLittleEndian(0, 1, 0)).isFalse();
                assertThat(f.errors).isEmpty();
            }
        }

        @Test
        void indirectChainIsWalkedLikeADirectOne() {
            try (QueueFixture f = new QueueFixture(16, features(VIRTIO_F_INDIRECT_DESC))) {
                f.driver.add(List.of(f.buffer(12, 1), f.buffer(20, 2)), List.of(f.buffer(30, 0)), "t");
                assertThat(f.driver.numFree()).isEqualTo(15); // one ring descriptor, as Linux uses

                assertThat(f.queue.pop(f.chain)).isTrue();
                assertThat(f.chain.descriptorCount()).isEqualTo(3);
                assertThat(f.chain.readableLength()).isEqualTo(32);
                assertThat(f.chain.writableLength()).isEqualTo(30);
            }
        }

        @Test
        void readerGathersAHeaderSplitAcrossDescriptors() {
            try (QueueFixture f = new QueueFixture(16, features())) {
                long a = f.mem.alloc(5, 1);
                long b = f.mem.alloc(7, 1);
                f.mem.write(a, new byte[] {1, 2, 3, 4, 5});
                f.mem.write(b, new byte[] {6, 7, 8, 9, 10, 11, 12});
                f.driver.addOut("t", new Buffer(a, 5), new Buffer(b, 7));
                assertThat(f.queue.pop(f.chain)).isTrue();

                try (Arena arena = Arena.ofConfined()) {
                    MemorySegment dst = arena.allocate(12);
                    assertThat(f.chain.read(0, dst, 0, 12)).isEqualTo(12);
                    assertThat(dst.toArray(ValueLayout.JAVA_BYTE)).containsExactly(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12);
                }
                assertThat(f.chain.readLittleEndian(3, 4)).isEqualTo(0x07060504L);
                assertThat(f.chain.readLittleEndian(10, 4)).isEqualTo(-1); // past the end
            }
        }

        @Test
        void writerScattersAcrossDescriptorsAndUsedLenIsReturned() {
            try (QueueFixture f = new QueueFixture(16, features())) {
                Buffer in1 = f.buffer(3, 0);
                Buffer in2 = f.buffer(5, 0);
                f.driver.addIn("rx", in1, in2);
                assertThat(f.queue.pop(f.chain)).isTrue();

                MemorySegment src = MemorySegment.ofArray(new byte[] {9, 8, 7, 6, 5, 4});
                assertThat(f.chain.write(0, src, 0, 6)).isEqualTo(6);
                f.queue.addUsed(f.chain, 6);
                f.queue.flushUsed();

                assertThat(f.mem.read(in1.gpa(), 3)).containsExactly(9, 8, 7);
                assertThat(f.mem.read(in2.gpa(), 5)).containsExactly(6, 5, 4, 0, 0);
                DriverQueue.Used used = f.driver.getBuf();
                assertThat(used.token()).isEqualTo("rx");
                assertThat(used.length()).isEqualTo(6);
                assertThat(f.driver.numFree()).isEqualTo(16);
            }
        }

        @Test
        void usedLenNeverExceedsTheWritableBuffer() {
            try (QueueFixture f = new QueueFixture(16, features())) {
                f.driver.addIn("rx", f.buffer(10, 0));
                assertThat(f.queue.pop(f.chain)).isTrue();
                f.queue.addUsed(f.chain, 1_000_000);
                f.queue.flushUsed();
                assertThat(f.driver.getBuf().length()).isEqualTo(10);
            }
        }

        @Test
        void readerNeverSeesWritableBytesAndWriterNeverTouchesReadableOnes() {
            try (QueueFixture f = new QueueFixture(16, features())) {
                Buffer out = f.buffer(8, 0x55);
                Buffer in = f.buffer(8, 0x66);
                f.driver.add(List.of(out), List.of(in), "t");
                assertThat(f.queue.pop(f.chain)).isTrue();

                try (Arena arena = Arena.ofConfined()) {
                    MemorySegment dst = arena.allocate(16);
                    assertThat(f.chain.read(0, dst, 0, 16)).isEqualTo(8); // stops at the readable part
                }
                MemorySegment src = MemorySegment.ofArray(new byte[16]);
                assertThat(f.chain.write(0, src, 0, 16)).isEqualTo(8); // stops at the writable part
                assertThat(f.mem.read(out.gpa(), 8)).containsOnly(0x55);
            }
        }

        @Test
        void writeOnlyChainHasNoReadableBytesAndReadOnlyChainTakesNoWrites() {
            try (QueueFixture f = new QueueFixture(16, features())) {
                f.driver.addIn("rx-only", f.buffer(8, 0));
                f.driver.addOut("tx-only", f.buffer(8, 1));
                assertThat(f.queue.pop(f.chain)).isTrue();
                assertThat(f.chain.readableLength()).isZero();
                assertThat(f.chain.readLittleEndian(0, 1)).isEqualTo(-1);
                assertThat(f.queue.pop(f.chain)).isTrue();
                assertThat(f.chain.writableLength()).isZero();
                assertThat(f.chain.writeLittleEndian(0, 1, 0xFF)).isFalse();
                assertThat(f.errors).isEmpty();
            }
        }

        @Test
        void zeroLengthDescriptorIsAcceptedAndContributesNothing() {
            try (QueueFixture f = new QueueFixture(16, features())) {
                f.driver.writeRawDescriptor(0, 0xdead_0000L, 0, F_NEXT, 1); // address is never touched
                Buffer b = f.buffer(4, 7);
                f.driver.writeRawDescriptor(1, b.gpa(), 4, 0, 0);
                f.driver.publishRawHead(0);

                assertThat(f.queue.pop(f.chain)).isTrue();
                assertThat(f.chain.descriptorCount()).isEqualTo(2);
                assertThat(f.chain.readableLength()).isEqualTo(4);
                assertThat(f.chain.readLittleEndian(0, 1)).isEqualTo(7);
                assertThat(f.errors).isEmpty();
            }
        }

        @Test
        void unpopHandsTheSameChainOutAgain() {
            try (QueueFixture f = new QueueFixture(16, features())) {
                f.driver.addIn("a", f.buffer(8, 0));
                f.driver.addIn("b", f.buffer(8, 0));
                assertThat(f.queue.pop(f.chain)).isTrue();
                int first = f.chain.head();
                assertThat(f.queue.pop(f.chain)).isTrue();
                f.queue.unpop(2);
                assertThat(f.queue.pop(f.chain)).isTrue();
                assertThat(f.chain.head()).isEqualTo(first);
            }
        }

        @Test
        void chainOfExactlyQueueSizeDescriptorsIsAccepted() {
            try (QueueFixture f = new QueueFixture(8, features())) {
                Buffer[] bufs = new Buffer[8];
                for (int i = 0; i < 8; i++) {
                    bufs[i] = f.buffer(4, i);
                }
                assertThat(f.driver.addOut("t", bufs)).isEqualTo(0);
                assertThat(f.queue.pop(f.chain)).isTrue();
                assertThat(f.chain.descriptorCount()).isEqualTo(8);
            }
        }
    }

    @Nested
    class HostileChains {

        @Test
        void nextAtOrAboveQueueSizeNeedsReset() {
            try (QueueFixture f = new QueueFixture(16, features())) {
                Buffer b = f.buffer(8, 0);
                f.driver.writeRawDescriptor(0, b.gpa(), 8, F_NEXT, 16);
                f.driver.publishRawHead(0);
                assertBroken(f, "next 16");
            }
        }

        @Test
        void headAtOrAboveQueueSizeNeedsReset() {
            try (QueueFixture f = new QueueFixture(16, features())) {
                f.driver.publishRawHead(16);
                assertBroken(f, "head 16");
            }
        }

        @Test
        void descriptorLoopNeedsReset() {
            try (QueueFixture f = new QueueFixture(16, features())) {
                Buffer b = f.buffer(8, 0);
                f.driver.writeRawDescriptor(0, b.gpa(), 8, F_NEXT, 1);
                f.driver.writeRawDescriptor(1, b.gpa(), 8, F_NEXT, 0);
                f.driver.publishRawHead(0);
                assertBroken(f, "longer than the queue size");
            }
        }

        @Test
        void selfLoopNeedsReset() {
            try (QueueFixture f = new QueueFixture(16, features())) {
                Buffer b = f.buffer(8, 0);
                f.driver.writeRawDescriptor(3, b.gpa(), 8, F_NEXT, 3);
                f.driver.publishRawHead(3);
                assertBroken(f, "loop");
            }
        }

        @Test
        void chainLongerThanTheQueueNeedsReset() {
            // 9 descriptors through an indirect table on a queue of 8.
            try (QueueFixture f = new QueueFixture(8, features(VIRTIO_F_INDIRECT_DESC))) {
                Buffer b = f.buffer(8, 0);
                long table = f.mem.alloc(16 * 9, 16);
                for (int i = 0; i < 9; i++) {
                    f.driver.writeRawDescriptorAt(table, i, b.gpa(), 8, i < 8 ? F_NEXT : 0, i + 1);
                }
                f.driver.writeRawDescriptor(0, table, 16 * 9, F_INDIRECT, 0);
                f.driver.publishRawHead(0);
                assertBroken(f, "exceeds the queue size");
            }
        }

        @Test
        void totalLengthAbove2To32NeedsReset() {
            // QEMU's large_tx shape: many descriptors aliasing one area until the sum passes UINT32_MAX.
            FakeGuestMemory mem = new FakeGuestMemory(new long[] {0x10_0000L, 16L << 20}, new long[] {1L << 32, 1L << 31});
            try (QueueFixture f = new QueueFixture(mem, 64, features())) {
                long big = 1L << 32;
                for (int i = 0; i < 3; i++) {
                    f.driver.writeRawDescriptor(i, big, Integer.MIN_VALUE /* 2^31 bytes */, F_NEXT, i + 1);
                }
                f.driver.writeRawDescriptor(3, big, 16, 0, 0);
                f.driver.publishRawHead(0);
                assertBroken(f, "longer than 2^32 - 1 bytes");
            }
        }

        @Test
        void addrPlusLenOverflowNeedsReset() {
            try (QueueFixture f = new QueueFixture(16, features())) {
                f.driver.writeRawDescriptor(0, -16L, 64, 0, 0);
                f.driver.publishRawHead(0);
                assertBroken(f, "OVERFLOW");
            }
        }

        @Test
        void addressOutsideGuestRamNeedsReset() {
            try (QueueFixture f = new QueueFixture(16, features())) {
                f.driver.writeRawDescriptor(0, 0x4000_0000L, 64, 0, 0);
                f.driver.publishRawHead(0);
                assertBroken(f, "UNMAPPED");
            }
        }

        @Test
        void bufferRunningOffTheEndOfRamNeedsReset() {
            try (QueueFixture f = new QueueFixture(16, features())) {
                long end = 0x10_0000L + (16L << 20);
                f.driver.writeRawDescriptor(0, end - 8, 64, F_WRITE, 0);
                f.driver.publishRawHead(0);
                assertBroken(f, "CROSSES_REGION");
            }
        }

        @Test
        void bufferRunningOffTheEndOfACachedRegionNeedsReset() {
            // The first pop caches RAM's region; the next one-descriptor chain is checked against it (popSingle).
            try (QueueFixture f = new QueueFixture(16, features())) {
                f.driver.addIn("warm", f.buffer(8, 0));
                assertThat(f.queue.pop(f.chain)).isTrue();
                long end = 0x10_0000L + (16L << 20);
                f.driver.writeRawDescriptor(5, end - 8, 64, F_WRITE, 0);
                f.driver.publishRawHead(5);
                assertBroken(f, "CROSSES_REGION");
            }
        }

        @Test
        void readableDescriptorAfterAWritableOneNeedsReset() {
            try (QueueFixture f = new QueueFixture(16, features())) {
                Buffer b = f.buffer(8, 0);
                f.driver.writeRawDescriptor(0, b.gpa(), 8, F_WRITE | F_NEXT, 1);
                f.driver.writeRawDescriptor(1, b.gpa(), 8, 0, 0);
                f.driver.publishRawHead(0);
                assertBroken(f, "device-readable descriptor 1 after a device-writable one");
            }
        }

        @ParameterizedTest(name = "region cached by an earlier read: {0}")
        @ValueSource(booleans = {false, true})
        void writableDescriptorInReadOnlyRegionNeedsReset(boolean cached) {
            FakeGuestMemory mem = FakeGuestMemory.standard();
            try (Arena arena = Arena.ofShared()) {
                var rom = new dev.vnet.spi.GuestRegion(0x8000_0000L, arena.allocate(4096), true);
                var map = new dev.vnet.spi.GuestMemoryMap(List.of(mem.regions().get(0), rom));
                DriverQueue d = new DriverQueue(mem, 16, false, false);
                List<String> errors = new java.util.ArrayList<>();
                Virtqueue q = Virtqueue.open(0, new QueueConfig(16, d.descAddr(), d.availAddr(), d.usedAddr()), 16, map,
                        features(), errors::add);
                DescriptorChain chain = q.newChain();
                if (cached) { // the next one-descriptor chain then meets the cached region (popSingle)
                    d.writeRawDescriptor(1, 0x8000_0040L, 64, 0, 0);
                    d.publishRawHead(1);
                    assertThat(q.pop(chain)).as("reading the read-only region is fine").isTrue();
                }
                d.writeRawDescriptor(0, 0x8000_0000L, 64, F_WRITE, 0);
                d.publishRawHead(0);
                assertThat(q.pop(chain)).isFalse();
                assertThat(errors).singleElement().asString().contains("READ_ONLY");
            } catch (VirtqueueException e) {
                throw new AssertionError(e);
            } finally {
                mem.close();
            }
        }

        @Test
        void indirectWithoutTheFeatureNeedsReset() {
            try (QueueFixture f = new QueueFixture(16, features())) {
                long table = f.mem.alloc(32, 16);
                f.driver.writeRawDescriptor(0, table, 32, F_INDIRECT, 0);
                f.driver.publishRawHead(0);
                assertBroken(f, "without VIRTIO_F_INDIRECT_DESC");
            }
        }

        @ParameterizedTest(name = "indirect table of {0} bytes")
        @ValueSource(ints = {0, 8, 17, 33})
        void indirectTableLengthNotANonZeroMultipleOf16NeedsReset(int len) {
            try (QueueFixture f = new QueueFixture(16, features(VIRTIO_F_INDIRECT_DESC))) {
                long table = f.mem.alloc(64, 16);
                f.driver.writeRawDescriptor(0, table, len, F_INDIRECT, 0);
                f.driver.publishRawHead(0);
                assertBroken(f, "not a non-zero multiple of 16");
            }
        }

        @Test
        void nestedIndirectTableNeedsReset() {
            try (QueueFixture f = new QueueFixture(16, features(VIRTIO_F_INDIRECT_DESC))) {
                long inner = f.mem.alloc(16, 16);
                long outer = f.mem.alloc(16, 16);
                f.driver.writeRawDescriptorAt(inner, 0, f.buffer(8, 0).gpa(), 8, 0, 0);
                f.driver.writeRawDescriptorAt(outer, 0, inner, 16, F_INDIRECT, 0);
                f.driver.writeRawDescriptor(0, outer, 16, F_INDIRECT, 0);
                f.driver.publishRawHead(0);
                assertBroken(f, "nested indirect");
            }
        }

        @Test
        void indirectWithNextNeedsReset() {
            try (QueueFixture f = new QueueFixture(16, features(VIRTIO_F_INDIRECT_DESC))) {
                long table = f.mem.alloc(16, 16);
                f.driver.writeRawDescriptorAt(table, 0, f.buffer(8, 0).gpa(), 8, 0, 0);
                f.driver.writeRawDescriptor(0, table, 16, F_INDIRECT | F_NEXT, 1);
                f.driver.writeRawDescriptor(1, f.buffer(8, 0).gpa(), 8, 0, 0);
                f.driver.publishRawHead(0);
                assertBroken(f, "both INDIRECT and NEXT");
            }
        }

        @Test
        void indirectTableOutsideRamNeedsReset() {
            try (QueueFixture f = new QueueFixture(16, features(VIRTIO_F_INDIRECT_DESC))) {
                f.driver.writeRawDescriptor(0, 0x7000_0000L, 32, F_INDIRECT, 0);
                f.driver.publishRawHead(0);
                assertBroken(f, "UNMAPPED");
            }
        }

        @Test
        void indirectTableCrossingARegionBoundaryNeedsReset() {
            // CVE-2018-1059 shape: two adjacent regions; the table starts in one and ends in the other.
            long base = 0x10_0000L;
            long size = 16L << 20;
            FakeGuestMemory mem = new FakeGuestMemory(new long[] {base, size}, new long[] {base + size, 1 << 20});
            try (QueueFixture f = new QueueFixture(mem, 16, features(VIRTIO_F_INDIRECT_DESC))) {
                long table = base + size - 16;
                f.driver.writeRawDescriptor(0, table, 32, F_INDIRECT, 0);
                f.driver.publishRawHead(0);
                assertBroken(f, "CROSSES_REGION");
            }
        }

        @Test
        void indirectNextBeyondTheTableNeedsReset() {
            try (QueueFixture f = new QueueFixture(16, features(VIRTIO_F_INDIRECT_DESC))) {
                long table = f.mem.alloc(32, 16);
                Buffer b = f.buffer(8, 0);
                f.driver.writeRawDescriptorAt(table, 0, b.gpa(), 8, F_NEXT, 2);
                f.driver.writeRawDescriptorAt(table, 1, b.gpa(), 8, 0, 0);
                f.driver.writeRawDescriptor(0, table, 32, F_INDIRECT, 0);
                f.driver.publishRawHead(0);
                assertBroken(f, "indirect table size 2");
            }
        }

        @Test
        void availIdxJumpingByMoreThanTheQueueSizeNeedsReset() {
            try (QueueFixture f = new QueueFixture(16, features())) {
                f.driver.setRawAvailIdx(17);
                assertBroken(f, "more than the queue size");
            }
        }

        @Test
        void availIdxGoingBackwardsNeedsReset() {
            try (QueueFixture f = new QueueFixture(16, features())) {
                f.driver.addIn("a", f.buffer(8, 0));
                f.driver.addIn("b", f.buffer(8, 0));
                assertThat(f.completeAll()).isEqualTo(2);
                f.driver.setRawAvailIdx(1); // went back from 2 to 1: 0xFFFF ahead in u16 terms
                assertBroken(f, "avail.idx moved from 2 to 1");
            }
        }

        @Test
        void brokenQueueStaysSilentAndReportsOnce() {
            try (QueueFixture f = new QueueFixture(16, features())) {
                f.driver.publishRawHead(99);
                assertThat(f.queue.pop(f.chain)).isFalse();
                f.driver.addIn("ok", f.buffer(8, 0));
                assertThat(f.queue.pop(f.chain)).isFalse();
                f.queue.addUsed(0, 1);
                f.queue.flushUsed();
                assertThat(f.driver.usedIdx()).isZero();
                assertThat(f.queue.needsNotification()).isFalse();
                assertThat(f.errors).hasSize(1);
            }
        }

        @Test
        void vanishedMemoryRegionBreaksTheQueueWithoutThrowing() {
            QueueFixture f = new QueueFixture(16, features());
            f.driver.addIn("a", f.buffer(8, 0));
            f.mem.close(); // the host unmapped guest RAM mid-flight
            assertThat(f.queue.pop(f.chain)).isFalse();
            assertThat(f.queue.isBroken()).isTrue();
            assertThat(f.errors).singleElement().asString().contains("unavailable");
        }

        private void assertBroken(QueueFixture f, String reason) {
            assertThat(f.queue.pop(f.chain)).isFalse();
            assertThat(f.queue.isBroken()).isTrue();
            assertThat(f.errors).singleElement().asString().contains(reason);
        }
    }

    @Nested
    class RingIndexWrap {

        @ParameterizedTest(name = "event_idx={0}")
        @ValueSource(booleans = {false, true})
        void availAndUsedIndexesCrossTheU16Wrap(boolean eventIdx) {
            try (QueueFixture f = new QueueFixture(8, eventIdx ? features(VIRTIO_F_EVENT_IDX) : features())) {
                f.driver.startIndexesAt(0xFFFC);
                // Re-open the device side at the same starting point, as after a migration.
                Virtqueue q = reopenAt(f, 0xFFFC);
                DescriptorChain c = q.newChain();
                int interrupts = 0;
                for (int round = 0; round < 3; round++) {
                    for (int i = 0; i < 5; i++) {
                        f.driver.addIn(round * 10 + i, f.buffer(4, 0));
                    }
                    int popped = 0;
                    while (q.pop(c)) {
                        q.addUsed(c, 4);
                        popped++;
                    }
                    q.flushUsed();
                    if (q.needsNotification()) {
                        interrupts++;
                    }
                    assertThat(popped).isEqualTo(5);
                    for (int i = 0; i < 5; i++) {
                        assertThat(f.driver.getBuf().token()).isEqualTo(round * 10 + i);
                    }
                }
                assertThat(f.driver.usedIdx()).isEqualTo((0xFFFC + 15) & 0xFFFF);
                assertThat(interrupts).isEqualTo(3);
                assertThat(f.errors).isEmpty();
            }
        }

        @Test
        void usedEventAcrossTheWrapSuppressesAndThenRequestsInterrupts() {
            try (QueueFixture f = new QueueFixture(8, features(VIRTIO_F_EVENT_IDX))) {
                f.driver.startIndexesAt(0xFFFE);
                Virtqueue q = reopenAt(f, 0xFFFE);
                DescriptorChain c = q.newChain();
                for (int i = 0; i < 4; i++) {
                    f.driver.addIn(i, f.buffer(4, 0));
                }
                // used_event 0x0000: wake the driver once the entry at ring index 0x0000 is used, i.e. when
                // used.idx moves past it to 0x0001, on the far side of the wrap.
                f.mem.u16(f.driver.availAddr() + 4 + 2 * 8, 0x0000);
                assertThat(q.pop(c)).isTrue();
                q.addUsed(c, 4);
                q.flushUsed();
                assertThat(q.needsNotification()).as("first check always notifies").isTrue();
                for (int i = 0; i < 2; i++) {
                    assertThat(q.pop(c)).isTrue();
                    q.addUsed(c, 4);
                    q.flushUsed();
                    assertThat(q.needsNotification()).as("used.idx 0x%04x", f.driver.usedIdx()).isEqualTo(i == 1);
                }
                assertThat(f.driver.usedIdx()).isEqualTo(0x0001);
            }
        }

        @Test
        void availEventAcrossTheWrapControlsKicks() {
            try (QueueFixture f = new QueueFixture(8, features(VIRTIO_F_EVENT_IDX))) {
                f.driver.startIndexesAt(0xFFFF);
                Virtqueue q = reopenAt(f, 0xFFFF);
                DescriptorChain c = q.newChain();
                assertThat(q.enableNotifications()).isFalse();
                assertThat(f.driver.availEvent()).isEqualTo(0xFFFF);

                f.driver.addIn("a", f.buffer(4, 0));
                assertThat(f.driver.kickPrepare()).as("crossing avail_event 0xFFFF").isTrue();
                f.driver.addIn("b", f.buffer(4, 0));
                assertThat(f.driver.kickPrepare()).as("device did not re-arm").isFalse();

                assertThat(q.pop(c)).isTrue();
                assertThat(q.pop(c)).isTrue();
                assertThat(q.enableNotifications()).isFalse();
                assertThat(f.driver.availEvent()).isEqualTo(0x0001);
                f.driver.addIn("c", f.buffer(4, 0));
                assertThat(f.driver.kickPrepare()).isTrue();
            }
        }

        /** A device-side queue resumed at the driver's starting index. */
        private Virtqueue reopenAt(QueueFixture f, int idx) {
            try {
                Virtqueue q = Virtqueue.open(0, f.config(), f.driver.size(), f.mem.memory(), f.features, f.errors::add);
                q.restoreIndexes(idx);
                return q;
            } catch (VirtqueueException e) {
                throw new AssertionError(e);
            }
        }
    }
}
