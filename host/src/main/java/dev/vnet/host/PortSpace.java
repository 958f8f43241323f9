package dev.vnet.host;

import dev.vnet.spi.MmioBus;
import dev.vnet.spi.PioBus;
import dev.vnet.spi.PioHandler;

/** The x86 I/O port space (64 Ki ports) of the reference host; reads of unclaimed ports give all-ones. */
public final class PortSpace implements PioBus {

    private final AddressSpace ports = new AddressSpace();

    @Override
    public MmioBus.Mapping map(int basePort, int size, PioHandler handler) {
        if (basePort < 0 || size <= 0 || basePort + size > 0x1_0000) {
            throw new IllegalArgumentException("bad port range " + basePort + "+" + size);
        }
        return ports.map(basePort, size, new dev.vnet.spi.MmioHandler() {
            @Override
            public long read(long offset, int sz) {
                return Integer.toUnsignedLong(handler.in((int) offset, sz));
            }

            @Override
            public void write(long offset, int sz, long value) {
                handler.out((int) offset, sz, (int) value);
            }
        });
    }

    /** A vCPU's {@code in} instruction. */
    public int in(int port, int size) {
        return (int) ports.read(port, size);
    }

    /** A vCPU's {@code out} instruction. */
    public void out(int port, int size, int value) {
        ports.write(port, size, Integer.toUnsignedLong(value));
    }
}
