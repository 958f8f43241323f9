package dev.vnet.vhostuser;

import dev.vnet.config.VnetConfigException;
import java.util.concurrent.CountDownLatch;

/**
 * {@code vnet-vhost-user}: serves virtio-net devices to vhost-user front-ends (QEMU, DPDK virtio-user,
 * cloud-hypervisor), described in HOCON ({@code --config}) or by the simple options; see {@link #USAGE}.
 * Exits 2, before any socket is opened, on a bad command line or configuration.
 */
public final class Main {

    static final String USAGE = """
            usage: vnet-vhost-user --config FILE [--stats SECONDS]
                   vnet-vhost-user --socket PATH [--socket PATH2] [--client] [--backend loopback|tap|cable]
                                   [--ifname NAME] [--queues N] [--queue-size N] [--mac MAC] [--mtu N]
                                   [--stats SECONDS]
              --config FILE    HOCON devices, each with transport { type = vhost-user, socket = PATH,
                               mode = server|client } (keys: config/src/main/resources/reference.conf,
                               docs/VHOST-USER.md). The file describes the devices: the device options
                               below are refused beside it; --stats applies either way.
              --socket PATH    vhost-user socket; repeat for more devices (cable needs exactly two)
              --client         connect to a front-end listening at PATH (default: listen at PATH)
              --backend TYPE   loopback (default: frames sent come back), tap (a Linux TAP interface),
                               cable (joins the two devices of two sockets)
              --ifname NAME    TAP interface name (tap backend); created when missing; %d for a template
              --queues N       queue pairs per device (default 1)
              --queue-size N   largest ring size accepted (default 1024)
              --mac MAC        the device MAC (default 52:54:00:12:34:56, last byte + device index)
              --mtu N          MTU (default 1500)
              --stats SECONDS  print per-queue counters every SECONDS (and at exit)
            """;

    private Main() {
    }

    public static void main(String[] args) throws InterruptedException {
        Launcher launcher;
        int statsSeconds;
        try {
            LauncherOptions options = LauncherOptions.parse(args);
            if (options.help()) {
                System.out.print(USAGE);
                return;
            }
            statsSeconds = options.statsSeconds();
            launcher = Launcher.start(options, System.out);
        } catch (LauncherOptions.UsageException e) {
            System.err.println("vnet-vhost-user: " + e.getMessage());
            System.err.print(USAGE);
            System.exit(2);
            return;
        } catch (VnetConfigException e) {
            System.err.println("vnet-vhost-user: " + e.getMessage());
            System.exit(2);
            return;
        }
        CountDownLatch done = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            launcher.stopServing();
            if (statsSeconds > 0) {
                launcher.printStats(System.out, false);
            }
            launcher.close();
            done.countDown();
        }));
        if (statsSeconds > 0) {
            Thread.ofPlatform().daemon(true).name("stats").start(() -> {
                while (true) {
                    try {
                        Thread.sleep(statsSeconds * 1000L);
                    } catch (InterruptedException e) {
                        return;
                    }
                    launcher.printStats(System.out, true);
                }
            });
        }
        done.await();
    }
}
