package dev.vnet.pci;

import static org.assertj.core.api.Assertions.assertThatCode;

import dev.vnet.spi.MmioHandler;
import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Nothing a guest does through config space or the BAR throws into the vCPU thread. */
class HostileDriverTest {

    private static final int[] SIZES = {0, 1, 2, 3, 4, 5, 8, 16, -1};

    @ParameterizedTest(name = "seed {0}")
    @ValueSource(longs = {1, 2, 3, 42, 4711})
    void randomConfigAndBarAccessesNeverThrow(long seed) {
        Random random = new Random(seed);
        try (Rig rig = new Rig()) {
            rig.driver.initialize(Rig.ALL, 2); // start from a live device so the datapath is in play
            MmioHandler bar = rig.function.barHandler();
            long barSize = rig.function.layout().barSize();
            assertThatCode(() -> {
                for (int i = 0; i < 20_000; i++) {
                    int size = SIZES[random.nextInt(SIZES.length)];
                    long value = random.nextInt(4) == 0 ? random.nextLong() : random.nextInt(0x10000);
                    switch (random.nextInt(4)) {
                        case 0 -> rig.function.configRead(random.nextInt(0x1100) - 0x80, size);
                        case 1 -> {
                            int offset = random.nextInt(0x100);
                            if (offset >= 0x10 && offset < 0x18 || offset == 0x04 && random.nextBoolean()) {
                                continue; // keep the BAR where it is most of the time
                            }
                            rig.function.configWrite(offset, size, (int) value);
                        }
                        case 2 -> bar.read(random.nextLong(barSize + 0x100) - 0x80, size);
                        default -> {
                            long offset = random.nextBoolean() ? random.nextInt(0x40)
                                    : random.nextLong(barSize + 0x100) - 0x80;
                            bar.write(offset, size, value);
                        }
                    }
                }
            }).doesNotThrowAnyException();
        }
    }
}
