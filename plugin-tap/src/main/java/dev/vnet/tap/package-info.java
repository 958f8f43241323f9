/**
 * The Linux TAP backend, through the FFM API ({@code java.lang.foreign}): no JNI, no native library of
 * its own.
 *
 * <ul>
 *   <li>{@link dev.vnet.tap.TapBackendProvider}: the {@code tap} provider and its options table;</li>
 *   <li>{@link dev.vnet.tap.TapBackend}: the {@link dev.vnet.spi.NetBackend} (set-up, offloads,
 *       multiqueue attach/detach, close);</li>
 *   <li>{@code TapQueue}: one fd's zero-copy {@code readv}/{@code writev} and its poll thread;</li>
 *   <li>{@link dev.vnet.tap.Tap}: whether TAP works here, and why not;</li>
 *   <li>{@code Tun}: the if_tun.h ioctls and {@code struct ifreq}.</li>
 * </ul>
 *
 * <p>The C library calls themselves ({@link dev.vnet.linux.Libc}, errno handling with
 * {@link dev.vnet.linux.ErrnoException}) are the shared module {@code linux}.
 *
 * <p>The JVM should run with {@code --enable-native-access=ALL-UNNAMED} (or this jar's module name);
 * without it JDK 25 prints a warning on first use.
 */
package dev.vnet.tap;
