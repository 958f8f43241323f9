/**
 * The virtio-net device (virtio 1.2, 5.1), split by concern:
 *
 * <ul>
 *   <li>{@link dev.vnet.net.NetDeviceConfig} what the host configures (feature switches, MAC, MTU,
 *       speed/duplex, queue pairs and sizes), checked like QEMU's realize;</li>
 *   <li>{@link dev.vnet.net.NetFeatures} feature bits, the offer for a backend, the 5.1.3.1 rules;</li>
 *   <li>{@code NetConfigSpace} {@code struct virtio_net_config} sized by the offered features;</li>
 *   <li>{@code TxPath} / {@code RxPath} the datapath of one queue pair, run by a
 *       {@code QueuePairWorker} (one platform thread per pair);</li>
 *   <li>{@code ControlQueue} the control virtqueue; {@code RxFilter} the filter it programs;</li>
 *   <li>{@link dev.vnet.net.NetStats} / {@link dev.vnet.net.QueueStats} counters and JMX;</li>
 *   <li>{@link dev.vnet.net.SoftwareOffload} checksum completion and TSO/USO segmentation;</li>
 *   <li>{@link dev.vnet.net.VirtioNetDevice} the {@code VirtioDevice} tying them together, plus the
 *       host API (link, announce, stats).</li>
 * </ul>
 *
 * Built-in backends live in {@link dev.vnet.net.backend}.
 */
package dev.vnet.net;
