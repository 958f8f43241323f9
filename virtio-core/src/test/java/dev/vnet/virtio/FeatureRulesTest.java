package dev.vnet.virtio;

import static dev.vnet.virtio.VirtioFeatures.VIRTIO_F_EVENT_IDX;
import static dev.vnet.virtio.VirtioFeatures.VIRTIO_F_INDIRECT_DESC;
import static dev.vnet.virtio.VirtioFeatures.VIRTIO_F_VERSION_1;
import static dev.vnet.virtio.VirtioFeatures.bit;
import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class FeatureRulesTest {

    private static final int CSUM = 0;
    private static final int GUEST_CSUM = 1;
    private static final int GUEST_TSO4 = 7;

    private final FeatureRules rules = FeatureRules
            .builder(bit(VIRTIO_F_VERSION_1) | bit(VIRTIO_F_EVENT_IDX) | bit(CSUM) | bit(GUEST_CSUM) | bit(GUEST_TSO4),
                    b -> "bit" + b)
            .require(GUEST_TSO4, GUEST_CSUM)
            .build();

    @Test
    void offeredSubsetWithDependenciesIsAccepted() {
        assertThat(rules.violation(bit(VIRTIO_F_VERSION_1) | bit(GUEST_TSO4) | bit(GUEST_CSUM))).isNull();
        assertThat(rules.violation(0)).isNull();
    }

    @Test
    void unofferedBitIsRefused() {
        assertThat(rules.violation(bit(VIRTIO_F_VERSION_1) | bit(VIRTIO_F_INDIRECT_DESC)))
                .isEqualTo("driver acked unoffered feature bit28");
        assertThat(rules.violation(1L << 63)).contains("bit63");
    }

    @Test
    void brokenDependencyIsRefused() {
        assertThat(rules.violation(bit(GUEST_TSO4))).isEqualTo("bit7 acked without bit1");
    }

    @Test
    void switchingOffADependencyWithdrawsTheFeaturesBuiltOnIt() {
        long configured = rules.offered() & ~bit(GUEST_CSUM);
        assertThat(rules.closeOverDependencies(configured)).isEqualTo(configured & ~bit(GUEST_TSO4));
    }
}
