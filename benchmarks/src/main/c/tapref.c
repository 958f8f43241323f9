/*
 * tapref: the kernel's TAP ceiling for bin/bench. Writes or reads the same frames as the Java
 * benchmarks (vnet header + frame, see dev.vnet.bench.BenchFrames) with one writev/readv per frame on a
 * TAP fd opened with IFF_TAP|IFF_NO_PI|IFF_VNET_HDR, vnet header size 12 -- what TapBackend does, with
 * nothing else around it.
 *
 *   tapref tx     IFNAME FRAME_SIZE SECONDS  writev loop; prints frames/s per second and the median
 *   tapref rx     IFNAME FRAME_SIZE SECONDS  readv loop (offloads on, as a guest with GUEST_CSUM/TSO/USO);
 *                                            also prints the average frame length and how many frames
 *                                            came as GSO super-frames (vnet header gso_type != NONE)
 *   tapref gen    IFNAME FRAME_SIZE          writev loop forever: the RX traffic source (see bin/bench)
 *   tapref udpgen DST_IPV4 FRAME_SIZE        sendfile loop forever on a UDP socket with UDP_SEGMENT:
 *                                            each datagram is one FRAME_SIZE-byte GSO_UDP_L4 super-frame
 *                                            that the kernel routes whole to a TAP with USO enabled (the
 *                                            64 KiB RX source, see bin/bench)
 *
 * Like the guest ring, it cycles through RING (256) buffers, so its memory footprint matches the
 * device's (256 TX buffers of the frame; for RX, buffers big enough for any frame): a reference that
 * reused one hot buffer would measure the cache, not the kernel.
 *
 * Built by bin/bench with: gcc -O2 -o tapref tapref.c
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define HDR 12
#define MSS 1448
#define RING 256
#define MAX_FRAME (HDR + 65550)
/* UDP GSO segment payload: 1472 B fills a 1500 B MTU, so the segments would be 1514 B frames. */
#define UDP_GSO_SIZE 1472
#define UDP_PORT 5001
#ifndef TUN_F_USO4
#define TUN_F_USO4 0x20
#define TUN_F_USO6 0x40
#endif

static const uint8_t DEVICE_MAC[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
static const uint8_t TAP_MAC[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x01};
static const uint8_t GEN_MAC[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x02};

static void die(const char *what) {
    perror(what);
    exit(1);
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void put16(uint8_t *p, unsigned v) { p[0] = v >> 8; p[1] = v; }
static void put32(uint8_t *p, unsigned v) { p[0] = v >> 24; p[1] = v >> 16; p[2] = v >> 8; p[3] = v; }

/* Same bytes as BenchFrames.frame(size, dst, src). */
static uint8_t *frame(int size, const uint8_t *dst, const uint8_t *src) {
    uint8_t *b = calloc(1, HDR + size);
    int gso = size > 1514;
    if (gso) {
        b[0] = 1; b[1] = 1;
        b[2] = 54; b[4] = MSS & 0xff; b[5] = MSS >> 8; b[6] = 34; b[8] = 16;
    }
    uint8_t *e = b + HDR;
    memcpy(e, dst, 6);
    memcpy(e + 6, src, 6);
    put16(e + 12, 0x0800);
    uint8_t *ip = e + 14;
    int ipLen = size - 14;
    ip[0] = 0x45; put16(ip + 2, ipLen); put16(ip + 4, 1); put16(ip + 6, 0x4000);
    ip[8] = 64; ip[9] = gso ? 6 : 17;
    ip[12] = 10; ip[13] = 77; ip[14] = 0; ip[15] = 2;
    ip[16] = 10; ip[17] = 99; ip[18] = 0; ip[19] = 1;
    uint32_t sum = 0;
    for (int i = 0; i < 20; i += 2) sum += (ip[i] << 8) | ip[i + 1];
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    put16(ip + 10, ~sum & 0xffff);
    uint8_t *l4 = ip + 20;
    int pos;
    if (gso) {
        put16(l4, 40000); put16(l4 + 2, 5001); put32(l4 + 4, 1); put32(l4 + 8, 0);
        l4[12] = 0x50; l4[13] = 0x18; put16(l4 + 14, 65535);
        pos = HDR + 14 + 20 + 20;
    } else {
        put16(l4, 40000); put16(l4 + 2, 5001); put16(l4 + 4, ipLen - 20);
        pos = HDR + 14 + 20 + 8;
    }
    for (int i = pos; i < HDR + size; i++) b[i] = (uint8_t) i;
    return b;
}

static int tap(const char *name, int offloads) {
    int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
    if (fd < 0) die("open /dev/net/tun");
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
    strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
    if (ioctl(fd, TUNSETIFF, &ifr) < 0) die("TUNSETIFF");
    int hdr = HDR;
    if (ioctl(fd, TUNSETVNETHDRSZ, &hdr) < 0) die("TUNSETVNETHDRSZ");
    unsigned tso = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6;
    /* USO (kernel >= 6.2) as TapBackend enables it for a guest with GUEST_USO4/6; older kernels: TSO only. */
    if (offloads && ioctl(fd, TUNSETOFFLOAD, tso | TUN_F_USO4 | TUN_F_USO6) < 0
        && (errno != EINVAL || ioctl(fd, TUNSETOFFLOAD, tso) < 0)) die("TUNSETOFFLOAD");
    return fd;
}

/*
 * Sends size-byte frames (Ethernet + IPv4 + UDP + payload) as UDP_SEGMENT datagrams to dst:5001 forever,
 * cycling through RING payloads. The route and a permanent neighbour entry (bin/bench) take them out of
 * the TAP under test. While that TAP has no checksum offload (TapBackend's open-time probe ends with
 * none; the guest's offloads come at activation) the kernel refuses GSO sends with EIO: then it waits a
 * millisecond and tries again. Frames of 65536 B and more would reach the TAP's gso_max_size and be
 * segmented, hence the upper bound.
 */
static int udpgen(const char *dst, int size) {
    int payload = size - 14 - 20 - 8;
    if (payload <= UDP_GSO_SIZE || size > 65535) {
        fprintf(stderr, "udpgen: frame size must be between %d and 65535\n", 14 + 20 + 8 + UDP_GSO_SIZE + 1);
        return 2;
    }
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0) die("socket");
    int gso = UDP_GSO_SIZE;
    if (setsockopt(s, SOL_UDP, UDP_SEGMENT, &gso, sizeof gso) < 0) die("setsockopt UDP_SEGMENT");
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(UDP_PORT)};
    if (inet_pton(AF_INET, dst, &to.sin_addr) != 1) {
        fprintf(stderr, "udpgen: not an IPv4 address: %s\n", dst);
        return 2;
    }
    if (connect(s, (struct sockaddr *) &to, sizeof to) < 0) die("connect");
    /* The payloads live in a memfd that sendfile() hands to the socket by page reference: the reader's
     * copy out of the skb is the only copy of a frame, so the sender stays ahead of the reader. */
    size_t span = (size_t) RING * 65536;
    int mfd = memfd_create("udpgen", MFD_CLOEXEC);
    if (mfd < 0 || ftruncate(mfd, span) < 0) die("memfd");
    uint8_t *pattern = malloc(65536);
    if (!pattern) die("malloc");
    for (int i = 0; i < 65536; i++) pattern[i] = (uint8_t) i;
    for (size_t at = 0; at < span; at += 65536) {
        if (pwrite(mfd, pattern, 65536, at) != 65536) die("pwrite");
    }
    for (unsigned slot = 0;; slot++) {
        off_t at = (off_t) (slot % RING) * 65536;
        if (sendfile(s, mfd, &at, payload) < 0) {
            if (errno == EINVAL || errno == EMSGSIZE || errno == EBADF) die("sendfile");
            if (errno == EIO || errno == ENETUNREACH || errno == EHOSTUNREACH) usleep(1000);
        }
    }
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *) a, y = *(const double *) b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: tapref tx|rx|gen IFNAME FRAME_SIZE [SECONDS] | tapref udpgen DST_IPV4 FRAME_SIZE\n");
        return 2;
    }
    const char *mode = argv[1];
    int size = atoi(argv[3]);
    if (strcmp(mode, "udpgen") == 0) return udpgen(argv[2], size);
    int seconds = argc > 4 ? atoi(argv[4]) : 0;
    int rx = strcmp(mode, "rx") == 0;
    int gen = strcmp(mode, "gen") == 0;
    int fd = tap(argv[2], rx);
    uint8_t *one = frame(size, gen ? DEVICE_MAC : TAP_MAC, gen ? GEN_MAC : DEVICE_MAC);
    size_t stride = rx ? MAX_FRAME : ((size_t) HDR + size + 63) & ~(size_t) 63;
    uint8_t *bufs = aligned_alloc(4096, (RING * stride + 4095) & ~(size_t) 4095);
    if (!bufs) die("aligned_alloc");
    for (int i = 0; i < RING; i++) {
        if (rx) memset(bufs + i * stride, 0, stride); else memcpy(bufs + i * stride, one, HDR + size);
    }
    struct iovec iov = {bufs, rx ? MAX_FRAME : (size_t) (HDR + size)};
    unsigned slot = 0;
    double rates[600];
    int n = 0;
    long frames = 0, bad = 0, total = 0, gsoFrames = 0;
    double bytes = 0;
    double start = now(), mark = start;
    for (;;) {
        for (int k = 0; k < 256; k++) {
            iov.iov_base = bufs + (slot++ % RING) * stride;
            ssize_t r = rx ? readv(fd, &iov, 1) : writev(fd, &iov, 1);
            if (r < 0) {
                if (errno == EINTR || errno == EAGAIN) continue;
                die(rx ? "readv" : "writev");
            }
            if (rx) {
                if (r != HDR + size) bad++;
                bytes += r - HDR;
                total++;
                if (((uint8_t *) iov.iov_base)[1] != 0) gsoFrames++; /* gso_type != VIRTIO_NET_HDR_GSO_NONE */
            }
            frames++;
        }
        if (gen) continue;
        double t = now();
        if (t - mark >= 1.0) {
            rates[n++] = frames / (t - mark);
            printf("second %d: %.0f frames/s\n", n, rates[n - 1]);
            fflush(stdout);
            frames = 0;
            mark = t;
            if (n >= seconds || n >= 600) break;
        }
    }
    qsort(rates, n, sizeof rates[0], cmp);
    printf("RESULT mode=%s frameSize=%d median_pps=%.0f samples=%d wrong_length=%ld", mode, size, rates[n / 2], n,
           bad);
    if (rx) printf(" avg_frame=%.0f gso_frames=%ld frames=%ld", total ? bytes / total : 0.0, gsoFrames, total);
    printf("\n");
    return 0;
}
