package dev.vnet.testkit;

/**
 * One scatter-gather element the driver adds to a queue: guest address and length (Linux's
 * {@code struct scatterlist} entry).
 */
public record Buffer(long gpa, int length) {
}
