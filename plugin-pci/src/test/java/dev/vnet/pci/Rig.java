package dev.vnet.pci;

import dev.vnet.testkit.Buffer;
import dev.vnet.testkit.DriverQueue;
import dev.vnet.testkit.FakeGuestMemory;
import dev.vnet.testkit.pci.VirtioPciDriver;
import dev.vnet.virtio.VirtioFeatures;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;

/** One echo device behind a real transport, a fake host and the Linux driver model. */
final class Rig implements AutoCloseable {

    static final Duration TIMEOUT = Duration.ofSeconds(5);
    static final long ALL = -1L;
    static final long EVENT_IDX = VirtioFeatures.bit(VirtioFeatures.VIRTIO_F_EVENT_IDX);
    static final long INDIRECT = VirtioFeatures.bit(VirtioFeatures.VIRTIO_F_INDIRECT_DESC);

    final FakeGuestMemory mem = FakeGuestMemory.standard();
    final EchoDevice device;
    final VirtioPciFunction function;
    final VirtioPciDriver driver;

    Rig() {
        this(new EchoDevice());
    }

    Rig(EchoDevice device) {
        this.device = device;
        this.function = new VirtioPciFunction(device, mem.memory(), VirtioPci.PCI_CLASS_NETWORK_ETHERNET);
        this.driver = VirtioPciDriver.plug(function, mem);
    }

    /** Sends {@code text} on {@code queue} and returns what the device echoed (null on timeout). */
    String echo(int queue, String text) {
        byte[] data = text.getBytes(StandardCharsets.UTF_8);
        long out = mem.alloc(data.length, 8);
        long in = mem.alloc(data.length, 8);
        mem.write(out, data);
        driver.send(queue, List.of(new Buffer(out, data.length)), List.of(new Buffer(in, data.length)), text);
        DriverQueue.Used used = driver.awaitUsed(queue, TIMEOUT);
        if (used == null) {
            return null;
        }
        if (!text.equals(used.token()) || used.length() != data.length) {
            throw new AssertionError("unexpected used " + used + " for " + text);
        }
        return new String(mem.read(in, used.length()), StandardCharsets.UTF_8);
    }

    @Override
    public void close() {
        function.close();
        mem.close();
    }
}
