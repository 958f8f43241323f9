package dev.vnet.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.mockito.Mockito.mock;

import dev.vnet.config.ConfigProblem;
import dev.vnet.config.FeatureSwitches;
import dev.vnet.config.HostServices;
import dev.vnet.config.PluginRegistry;
import dev.vnet.config.Vnet;
import dev.vnet.config.VnetConfig;
import dev.vnet.config.VnetConfigException;
import dev.vnet.spi.PciHost;
import dev.vnet.spi.PluginKind;
import dev.vnet.testkit.FakeGuestMemory;
import org.junit.jupiter.api.Test;

/** Every plugin jar is found through its META-INF/services entry; unknown types name what exists. */
class PluginDiscoveryTest {

    private final PluginRegistry plugins = PluginRegistry.discover(getClass().getClassLoader());

    @Test
    void eachBuiltInProviderIsDiscovered() {
        assertThat(plugins.device("virtio-net")).isNotNull().extracting(p -> p.kind()).isEqualTo(PluginKind.DEVICE);
        for (String transport : new String[] {"pci", "vhost-user"}) {
            assertThat(plugins.transport(transport)).as(transport).isNotNull()
                    .extracting(p -> p.kind()).isEqualTo(PluginKind.TRANSPORT);
        }
        for (String backend : new String[] {"loopback", "cable", "tap"}) {
            assertThat(plugins.backend(backend)).as(backend).isNotNull()
                    .extracting(p -> p.kind()).isEqualTo(PluginKind.BACKEND);
        }
        assertThat(plugins.device("virtio-blk")).isNull();
    }

    @Test
    void unknownTypesAreReportedTogetherWithTheTypesAvailable() {
        VnetConfig config = VnetConfig.parse("""
                vnet.devices = [ { id = a, type = virtio-blk, transport.type = mmio, backend.type = vde } ]""");
        try (FakeGuestMemory mem = FakeGuestMemory.standard()) {
            assertThatThrownBy(() -> Vnet.start(config, new HostServices(mem.memory(), mock(PciHost.class)), plugins))
                    .isInstanceOfSatisfying(VnetConfigException.class, e -> assertThat(e.problems())
                            .extracting(ConfigProblem::path, ConfigProblem::value)
                            .containsExactly(
                                    org.assertj.core.groups.Tuple.tuple("vnet.devices[0].type", "\"virtio-blk\""),
                                    org.assertj.core.groups.Tuple.tuple("vnet.devices[0].transport.type", "\"mmio\""),
                                    org.assertj.core.groups.Tuple.tuple("vnet.devices[0].backend.type", "\"vde\"")))
                    .hasMessageContaining("one of the types on the class path: virtio-net")
                    .hasMessageContaining("pci (virtio-pci modern transport")
                    .hasMessageContaining("cable (").hasMessageContaining("loopback (").hasMessageContaining("tap (");
        }
    }

    @Test
    void backendOptionErrorsNameTheBackendPath() {
        VnetConfig config = VnetConfig.parse("vnet.devices = [ { id = a, backend { type = cable } } ]");
        try (FakeGuestMemory mem = FakeGuestMemory.standard()) {
            assertThatThrownBy(() -> Vnet.start(config, new HostServices(mem.memory(), mock(PciHost.class)), plugins))
                    .isInstanceOfSatisfying(VnetConfigException.class, e -> assertThat(e.problems()).singleElement()
                            .satisfies(p -> {
                                assertThat(p.path()).isEqualTo("vnet.devices[0].backend");
                                assertThat(p.allowed()).contains("name");
                            }));
        }
    }

    @Test
    void everyHoconFeatureSwitchMapsToAVirtioNetFeature() {
        VnetConfig all = VnetConfig.parse("vnet.devices = [ { id = a } ]");
        assertThat(all.devices().getFirst().features().keySet())
                .containsExactlyInAnyOrderElementsOf(FeatureSwitches.NAMES);
        try (FakeGuestMemory mem = FakeGuestMemory.standard();
             Vnet vnet = Vnet.start(all, new HostServices(mem.memory(), mock(PciHost.class)), plugins)) {
            assertThat(vnet.devices()).singleElement().extracting(d -> d.device().deviceId()).isEqualTo(1);
        }
    }

    @Test
    void unknownTypesAreReportedInTheSamePassAsFieldErrors() {
        com.typesafe.config.Config hocon = com.typesafe.config.ConfigFactory.parseString(
                "vnet.devices = [ { id = a, mtu = 1, backend.type = vde } ]");
        assertThatThrownBy(() -> VnetConfig.load(hocon, plugins))
                .isInstanceOfSatisfying(VnetConfigException.class, e -> assertThat(e.problems())
                        .extracting(ConfigProblem::path)
                        .containsExactlyInAnyOrder("vnet.devices[0].mtu", "vnet.devices[0].backend.type"));
    }
}
