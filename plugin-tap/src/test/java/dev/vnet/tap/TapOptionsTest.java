package dev.vnet.tap;

import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatIllegalArgumentException;

/** Option parsing needs no TAP: these run everywhere. */
class TapOptionsTest {

    @Test
    void defaultsCreateOrAttachWithTheDevicesQueuePairs() {
        TapOptions o = TapOptions.parse(Map.of(), 4);
        assertThat(o.mode()).isEqualTo(TapOptions.Mode.AUTO);
        assertThat(o.ifname()).isEmpty();
        assertThat(o.queues()).isEqualTo(4);
        assertThat(o.fds()).isEmpty();
        assertThat(o.sndbuf()).isZero();
    }

    @Test
    void namedCreateWithQueuesAndSndbuf() {
        TapOptions o = TapOptions.parse(Map.of("ifname", "vnet%d", "mode", "CREATE", "queues", 2L, "sndbuf", 65536),
                4);
        assertThat(o).isEqualTo(new TapOptions("vnet%d", TapOptions.Mode.CREATE, 2, List.of(), 65536));
    }

    @Test
    void handedInFdsSetTheQueueCount() {
        assertThat(TapOptions.parse(Map.of("fds", List.of(7, 8, 9)), 4).queues()).isEqualTo(3);
        assertThat(TapOptions.parse(Map.of("fd", 5), 1))
                .isEqualTo(new TapOptions("", TapOptions.Mode.FDS, 1, List.of(5), 0));
    }

    @Test
    void unknownOptionIsNamed() {
        assertThatIllegalArgumentException().isThrownBy(() -> TapOptions.parse(Map.of("ifnmae", "x"), 1))
                .withMessageContaining("unknown tap option ifnmae").withMessageContaining("known: fd, fds, ifname");
    }

    @Test
    void invalidValuesNameTheirOption() {
        assertThatIllegalArgumentException().isThrownBy(() -> TapOptions.parse(Map.of("queues", 0), 4))
                .withMessageContaining("'queues'");
        assertThatIllegalArgumentException().isThrownBy(() -> TapOptions.parse(Map.of("queues", "two"), 4))
                .withMessageContaining("'queues'").withMessageContaining("\"two\"");
        assertThatIllegalArgumentException().isThrownBy(() -> TapOptions.parse(Map.of("queues", 8), 4))
                .withMessageContaining("'queues' (8) exceeds");
        assertThatIllegalArgumentException().isThrownBy(() -> TapOptions.parse(Map.of("ifname", "a/b"), 1))
                .withMessageContaining("'ifname'");
        assertThatIllegalArgumentException().isThrownBy(() -> TapOptions.parse(Map.of("ifname", "sixteen-chars-xx"), 1))
                .withMessageContaining("'ifname'");
        assertThatIllegalArgumentException().isThrownBy(() -> TapOptions.parse(Map.of("ifname", 3), 1))
                .withMessageContaining("'ifname' must be a string");
        assertThatIllegalArgumentException().isThrownBy(() -> TapOptions.parse(Map.of("mode", "bridge"), 1))
                .withMessageContaining("'mode'");
        assertThatIllegalArgumentException().isThrownBy(() -> TapOptions.parse(Map.of("sndbuf", 1.5), 1))
                .withMessageContaining("'sndbuf'");
        assertThatIllegalArgumentException().isThrownBy(() -> TapOptions.parse(Map.of("fd", -1), 1))
                .withMessageContaining("'fd'");
        assertThatIllegalArgumentException().isThrownBy(() -> TapOptions.parse(Map.of("fds", List.of()), 1))
                .withMessageContaining("'fds'");
        assertThatIllegalArgumentException().isThrownBy(() -> TapOptions.parse(Map.of("fds", List.of(3, "4")), 2))
                .withMessageContaining("'fds' element 1");
        assertThatIllegalArgumentException().isThrownBy(() -> TapOptions.parse(Map.of("fds", List.of(3, 3)), 2))
                .withMessageContaining("fd 3 twice");
    }

    @Test
    void conflictingOptionsAreRefused() {
        assertThatIllegalArgumentException().isThrownBy(() -> TapOptions.parse(Map.of("fd", 3, "fds", List.of(4)), 1))
                .withMessageContaining("'fd' and 'fds'");
        assertThatIllegalArgumentException().isThrownBy(() -> TapOptions.parse(Map.of("fd", 3, "ifname", "x"), 1))
                .withMessageContaining("'ifname' cannot be combined with 'fd'");
        assertThatIllegalArgumentException().isThrownBy(() -> TapOptions.parse(
                Map.of("fds", List.of(3, 4), "queues", 3), 4)).withMessageContaining("'queues' (3) must equal");
        assertThatIllegalArgumentException().isThrownBy(() -> TapOptions.parse(Map.of("fds", List.of(3, 4)), 1))
                .withMessageContaining("has 2 fds but the device has 1 queue pair");
        assertThatIllegalArgumentException().isThrownBy(() -> TapOptions.parse(Map.of("mode", "attach"), 1))
                .withMessageContaining("needs option 'ifname'");
        assertThatIllegalArgumentException().isThrownBy(() -> TapOptions.parse(
                Map.of("mode", "attach", "ifname", "tap%d"), 1)).withMessageContaining("not the template");
    }
}
