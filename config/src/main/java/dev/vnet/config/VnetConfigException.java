package dev.vnet.config;

import java.util.List;
import java.util.stream.Collectors;

/** A configuration with problems: all of them, found in one pass, before any device starts. */
public final class VnetConfigException extends RuntimeException {

    private final List<ConfigProblem> problems;

    public VnetConfigException(List<ConfigProblem> problems) {
        super(problems.size() + " configuration problem" + (problems.size() == 1 ? "" : "s") + ":\n"
                + problems.stream().map(p -> "  - " + p).collect(Collectors.joining("\n")));
        this.problems = List.copyOf(problems);
    }

    public List<ConfigProblem> problems() {
        return problems;
    }
}
