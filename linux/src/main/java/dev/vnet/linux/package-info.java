/**
 * The Linux C library through the FFM API ({@code java.lang.foreign}), shared by the plugins that talk
 * to the kernel (plugin-tap, plugin-vhost-user): no JNI, no native library of its own, JDK only.
 *
 * <ul>
 *   <li>{@link dev.vnet.linux.Libc}: the downcalls, each capturing {@code errno} into a per-thread
 *       segment, plus iovec/pollfd helpers;</li>
 *   <li>{@link dev.vnet.linux.FileStatus}: {@code fstat} (type and size);</li>
 *   <li>{@link dev.vnet.linux.Errno}, {@link dev.vnet.linux.ErrnoException}: errno names and texts, and
 *       the typed exception of a failed call.</li>
 * </ul>
 *
 * <p>The JVM should run with {@code --enable-native-access=ALL-UNNAMED}; without it JDK 25 prints a
 * warning on first use.
 */
package dev.vnet.linux;
