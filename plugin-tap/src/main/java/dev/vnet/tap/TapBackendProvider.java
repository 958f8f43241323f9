package dev.vnet.tap;

import dev.vnet.spi.BackendRequest;
import dev.vnet.spi.NetBackend;
import dev.vnet.spi.NetBackendProvider;

/**
 * The {@code tap} backend: a Linux TAP interface, as QEMU's {@code -netdev tap} offers it. Registered in
 * {@code META-INF/services/dev.vnet.spi.NetBackendProvider}.
 *
 * <h2>Options</h2>
 * Given in {@link BackendRequest#options()} as plain JDK types. Any other key is refused, as is a value
 * of the wrong type or range; the {@link IllegalArgumentException} names the option.
 *
 * <table>
 * <caption>tap options</caption>
 * <tr><th>option</th><th>type</th><th>default</th><th>meaning</th></tr>
 * <tr><td>{@code ifname}</td><td>String</td><td>kernel picks {@code tapN}</td>
 *     <td>Interface name, 1 to 15 characters; may be a template with one {@code %d} (such as
 *     {@code vnet%d}) when creating.</td></tr>
 * <tr><td>{@code mode}</td><td>String</td><td>{@code "auto"}</td>
 *     <td>{@code "auto"}: attach to {@code ifname} if it exists, else create it (QEMU's behaviour);
 *     {@code "create"}: create it, fail if it exists; {@code "attach"}: attach to an existing TAP
 *     interface (for example one made with {@code ip tuntap add dev NAME mode tap vnet_hdr multi_queue
 *     user USER}), fail if there is none.</td></tr>
 * <tr><td>{@code queues}</td><td>Integer 1..256</td><td>the device's queue pairs</td>
 *     <td>Queue pairs = fds opened; above 1 the interface is multiqueue ({@code IFF_MULTI_QUEUE}).
 *     At most {@link BackendRequest#queuePairs()}.</td></tr>
 * <tr><td>{@code fd}</td><td>Integer</td><td>-</td>
 *     <td>One fd handed in by the host (libvirt style), already set up with {@code TUNSETIFF}
 *     {@code IFF_TAP|IFF_NO_PI|IFF_VNET_HDR}. Excludes {@code ifname}, {@code mode} and {@code fds}.</td></tr>
 * <tr><td>{@code fds}</td><td>List of Integer</td><td>-</td>
 *     <td>One handed-in fd per queue pair, all of one interface, with {@code IFF_MULTI_QUEUE} when more
 *     than one. Excludes {@code ifname}, {@code mode} and {@code fd}.</td></tr>
 * <tr><td>{@code sndbuf}</td><td>Integer (bytes)</td><td>unlimited</td>
 *     <td>{@code TUNSETSNDBUF}: bytes of frames in flight towards the kernel before writes report
 *     "full" and wait for {@code POLLOUT}.</td></tr>
 * </table>
 *
 * <p>Handed-in fds belong to the backend once {@link #open} returns (it sets them non-blocking, sets
 * the vnet header size to 12 and closes them on {@link NetBackend#close()}); if open fails they stay
 * the host's.
 *
 * <p>The backend never brings an interface up nor gives it addresses: that is the host's or the
 * administrator's part ({@code ip link set NAME up}, a bridge, ...), as with QEMU's {@code script=no}.
 * Creating an interface needs {@code CAP_NET_ADMIN}; attaching to one created for the current user does
 * not. A non-persistent interface created here disappears when the backend closes.
 */
public final class TapBackendProvider implements NetBackendProvider {

    @Override
    public String type() {
        return "tap";
    }

    @Override
    public String description() {
        return "tap: Linux TAP interface (vnet headers, offloads, multiqueue)"
                + (Tap.isAvailable() ? "" : " - unavailable: " + Tap.unavailabilityCause().getMessage());
    }

    /**
     * @throws IllegalArgumentException for an unknown or invalid option, naming it
     * @throws dev.vnet.spi.BackendException when the host cannot provide the interface
     */
    @Override
    public NetBackend open(BackendRequest request) {
        return TapBackend.open(request.options(), request.queuePairs());
    }
}
