package dev.vnet.pci;

/**
 * Little-endian byte arithmetic for register blocks that keep 32-bit registers and accept 1-, 2- and
 * 4-byte accesses inside one of them (PCI configuration space semantics).
 */
final class RegisterBytes {

    private RegisterBytes() {
    }

    /** All ones in the low {@code size} bytes. */
    static int mask(int size) {
        return size >= 4 ? -1 : (1 << (8 * size)) - 1;
    }

    /** The {@code size} bytes at {@code byteOffset} (0..3) of {@code dword}, zero-extended. */
    static int extract(int dword, int byteOffset, int size) {
        return (dword >>> (8 * byteOffset)) & mask(size);
    }

    /** {@code dword} with the {@code size} bytes at {@code byteOffset} replaced by {@code value}. */
    static int merge(int dword, int byteOffset, int size, int value) {
        int m = mask(size) << (8 * byteOffset);
        return (dword & ~m) | ((value << (8 * byteOffset)) & m);
    }

    /**
     * A configuration-space access the function decodes: 1, 2 or 4 bytes that stay inside one dword of
     * the 4 KiB space (what mechanism #1 and ECAM can produce). Anything else reads 0 and is ignored.
     */
    static boolean validConfigAccess(int offset, int size) {
        return (size == 1 || size == 2 || size == 4) && offset >= 0 && offset + size <= 4096
                && (offset & 3) + size <= 4;
    }
}
