package dev.vnet.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.vnet.config.ConfigProblem;
import dev.vnet.config.HostServices;
import dev.vnet.config.PciSlotTransport;
import dev.vnet.config.PluginRegistry;
import dev.vnet.config.Vnet;
import dev.vnet.config.VnetConfig;
import dev.vnet.config.VnetConfigException;
import dev.vnet.config.VnetDevice;
import dev.vnet.host.ReferenceHost;
import dev.vnet.net.VirtioNetDevice;
import dev.vnet.vhostuser.VhostUserTransport;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Both built-in transports through the {@link Vnet} entry point: pci needs the host's guest RAM and PCI
 * bus, vhost-user needs neither, and each host gets exactly the devices it can serve.
 */
class TransportHostTest {

    private final PluginRegistry plugins = PluginRegistry.discover(getClass().getClassLoader());

    @TempDir
    Path dir;

    @Test
    void pciNeedsAPciHostAndTheProblemNamesTheTransportsThatRunThere() {
        VnetConfig config = VnetConfig.parse("vnet.devices = [ { id = a }, { id = b, transport.slot = 4 } ]");
        assertThatThrownBy(() -> Vnet.start(config, HostServices.none(), plugins))
                .isInstanceOfSatisfying(VnetConfigException.class, e -> assertThat(e.problems())
                        .extracting(ConfigProblem::path)
                        .containsExactly("vnet.devices[0].transport.type", "vnet.devices[1].transport.type"))
                .hasMessageContaining("\"pci\" is not allowed; expected a transport this host can serve: pci needs"
                        + " guest RAM and a PCI bus, which this host does not provide; usable here: vhost-user (");
    }

    @Test
    void pciAndVhostUserDevicesRunSideBySideOnTheReferenceHost() {
        Path sock = dir.resolve("side.sock");
        VnetConfig config = VnetConfig.parse("""
                vnet.devices = [
                  { id = side-pci, transport.slot = 4 }
                  { id = side-vhu, transport { type = vhost-user, socket = "%s" }, queue-pairs = 2 }
                ]""".formatted(sock));
        try (ReferenceHost host = new ReferenceHost(32L << 20)) {
            try (Vnet vnet = Vnet.start(config, host.services(), plugins)) {
                VnetDevice pci = vnet.device("side-pci");
                assertThat(pci.transport()).isInstanceOf(PciSlotTransport.class);
                assertThat(pci.slot()).isEqualTo(4);
                assertThat(host.pci().function(4, 0)).isSameAs(pci.function());
                assertThat(host.guestDriver(4, 0).probe()).isEqualTo(1);

                VnetDevice vhu = vnet.device("side-vhu");
                assertThat(vhu.slot()).isEqualTo(-1);
                assertThat(vhu.function()).isNull();
                VhostUserTransport t = (VhostUserTransport) vhu.transport();
                assertThat(t.socket()).isEqualTo(sock);
                assertThat(t.backend().device()).isSameAs(vhu.instance(VirtioNetDevice.class));
                assertThat(t.server()).isNotNull();
                assertThat(sock).exists();
            }
            assertThat(host.pci().function(4, 0)).isNull();
            assertThat(sock).doesNotExist();
        }
    }
}
