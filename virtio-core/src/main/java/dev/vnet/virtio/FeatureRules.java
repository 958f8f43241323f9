package dev.vnet.virtio;

import java.util.ArrayList;
import java.util.List;
import java.util.function.IntFunction;

/**
 * The negotiation rules a driver's acked features must satisfy before FEATURES_OK (virtio 1.2, 2.2 and
 * 3.1.1): no bit the device did not offer, and every feature's dependencies acked with it
 * (for example GUEST_TSO4 needs GUEST_CSUM). Immutable; build with {@link #builder}.
 */
public final class FeatureRules {

    private record Dependency(int feature, int requires) {
    }

    /** {@code feature} needs at least one of the bits in {@code anyOf} (for example HOST_ECN: TSO4 or TSO6). */
    private record AnyDependency(int feature, long anyOf) {
    }

    private final long offered;
    private final List<Dependency> dependencies;
    private final List<AnyDependency> anyDependencies;
    private final IntFunction<String> names;

    private FeatureRules(long offered, List<Dependency> dependencies, List<AnyDependency> anyDependencies,
                         IntFunction<String> names) {
        this.offered = offered;
        this.dependencies = List.copyOf(dependencies);
        this.anyDependencies = List.copyOf(anyDependencies);
        this.names = names;
    }

    /** @param offered the bits the device offers; {@code names} gives bit names for messages */
    public static Builder builder(long offered, IntFunction<String> names) {
        return new Builder(offered, names);
    }

    public long offered() {
        return offered;
    }

    /**
     * Checks a driver's acked set.
     *
     * @return null when acceptable, else why not (for the log; the guest only sees FEATURES_OK clear)
     */
    public String violation(long acked) {
        long unoffered = acked & ~offered;
        if (unoffered != 0) {
            return "driver acked unoffered feature " + names.apply(Long.numberOfTrailingZeros(unoffered));
        }
        for (Dependency d : dependencies) {
            if (VirtioFeatures.has(acked, d.feature) && !VirtioFeatures.has(acked, d.requires)) {
                return names.apply(d.feature) + " acked without " + names.apply(d.requires);
            }
        }
        for (AnyDependency d : anyDependencies) {
            if (VirtioFeatures.has(acked, d.feature) && (acked & d.anyOf) == 0) {
                return names.apply(d.feature) + " acked without any of " + describe(d.anyOf);
            }
        }
        return null;
    }

    /**
     * Removes from {@code features} every bit whose dependency is missing, repeatedly, so that a
     * configuration that switches one feature off also withdraws the features built on it.
     */
    public long closeOverDependencies(long features) {
        boolean changed = true;
        while (changed) {
            changed = false;
            for (Dependency d : dependencies) {
                if (VirtioFeatures.has(features, d.feature) && !VirtioFeatures.has(features, d.requires)) {
                    features &= ~VirtioFeatures.bit(d.feature);
                    changed = true;
                }
            }
            for (AnyDependency d : anyDependencies) {
                if (VirtioFeatures.has(features, d.feature) && (features & d.anyOf) == 0) {
                    features &= ~VirtioFeatures.bit(d.feature);
                    changed = true;
                }
            }
        }
        return features;
    }

    private String describe(long bits) {
        StringBuilder sb = new StringBuilder();
        for (long b = bits; b != 0; b &= b - 1) {
            sb.append(sb.isEmpty() ? "" : "|").append(names.apply(Long.numberOfTrailingZeros(b)));
        }
        return sb.toString();
    }

    public static final class Builder {
        private final long offered;
        private final IntFunction<String> names;
        private final List<Dependency> dependencies = new ArrayList<>();
        private final List<AnyDependency> anyDependencies = new ArrayList<>();

        private Builder(long offered, IntFunction<String> names) {
            this.offered = offered;
            this.names = names;
        }

        /** {@code feature} may only be acked together with every one of {@code required}. */
        public Builder require(int feature, int... required) {
            for (int r : required) {
                dependencies.add(new Dependency(feature, r));
            }
            return this;
        }

        /** {@code feature} may only be acked together with at least one of {@code anyOf}. */
        public Builder requireAny(int feature, int... anyOf) {
            long mask = 0;
            for (int r : anyOf) {
                mask |= VirtioFeatures.bit(r);
            }
            anyDependencies.add(new AnyDependency(feature, mask));
            return this;
        }

        public FeatureRules build() {
            return new FeatureRules(offered, dependencies, anyDependencies, names);
        }
    }
}
