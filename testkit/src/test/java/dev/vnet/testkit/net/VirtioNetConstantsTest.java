package dev.vnet.testkit.net;

import static dev.vnet.testkit.net.VirtioNetConstants.*;
import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class VirtioNetConstantsTest {

    @Test
    void switchingAFeatureOffDropsWhatDependsOnIt() {
        long f = closeOverDependencies(LINUX_FEATURES & ~bits(VIRTIO_NET_F_CTRL_VQ, VIRTIO_NET_F_GUEST_CSUM));
        for (int dep : new int[] {VIRTIO_NET_F_CTRL_RX, VIRTIO_NET_F_CTRL_VLAN, VIRTIO_NET_F_GUEST_ANNOUNCE,
            VIRTIO_NET_F_MQ, VIRTIO_NET_F_CTRL_MAC_ADDR, VIRTIO_NET_F_CTRL_GUEST_OFFLOADS, VIRTIO_NET_F_GUEST_TSO4,
            VIRTIO_NET_F_GUEST_TSO6, VIRTIO_NET_F_GUEST_ECN, VIRTIO_NET_F_GUEST_UFO, VIRTIO_NET_F_GUEST_USO4,
            VIRTIO_NET_F_GUEST_USO6}) {
            assertThat(f & (1L << dep)).as("bit %d", dep).isZero();
        }
        assertThat(f & bits(VIRTIO_NET_F_CSUM, VIRTIO_NET_F_HOST_TSO4, VIRTIO_NET_F_MRG_RXBUF, VIRTIO_F_VERSION_1))
                .isEqualTo(bits(VIRTIO_NET_F_CSUM, VIRTIO_NET_F_HOST_TSO4, VIRTIO_NET_F_MRG_RXBUF, VIRTIO_F_VERSION_1));
    }

    @Test
    void ecnNeedsTsoAndTheClosureIsTransitive() {
        long f = closeOverDependencies(bits(VIRTIO_NET_F_GUEST_CSUM, VIRTIO_NET_F_GUEST_ECN));
        assertThat(f).isEqualTo(bits(VIRTIO_NET_F_GUEST_CSUM));
        long g = closeOverDependencies(bits(VIRTIO_NET_F_CTRL_RX, VIRTIO_NET_F_CTRL_RX_EXTRA));
        assertThat(g).as("RX_EXTRA goes with CTRL_RX, which goes without CTRL_VQ").isZero();
        assertThat(LINUX_FEATURES & bits(VIRTIO_NET_F_CTRL_RX_EXTRA)).isZero();
        assertThat(closeOverDependencies(LINUX_FEATURES)).isEqualTo(LINUX_FEATURES);
    }
}
