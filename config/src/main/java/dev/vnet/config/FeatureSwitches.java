package dev.vnet.config;

import java.util.List;

/** The HOCON names of the virtio-net feature switches, in spec bit order (5.1.3). */
public final class FeatureSwitches {

    /** Every switch {@code features { ... }} accepts. */
    public static final List<String> NAMES = List.of(
            "csum", "guest-csum", "ctrl-guest-offloads", "mtu", "mac", "guest-tso4", "guest-tso6", "guest-ecn",
            "guest-ufo", "host-tso4", "host-tso6", "host-ecn", "host-ufo", "mrg-rxbuf", "status", "ctrl-vq",
            "ctrl-rx", "ctrl-vlan", "ctrl-rx-extra", "guest-announce", "mq", "ctrl-mac-addr", "guest-uso4",
            "guest-uso6", "host-uso", "speed-duplex", "indirect-desc", "event-idx", "version-1", "ring-reset");

    private FeatureSwitches() {
    }
}
