#!/usr/bin/env bash
# Builds the QEMU test guest into $1 (default: plugin-vhost-user/target/guest): Debian's cloud kernel
# (package linux-image-cloud-amd64, downloaded with apt-get, not installed) and a busybox initramfs whose
# /init loads virtio_pci + virtio_net, brings eth0 up as 10.0.2.15/24 and pings 10.0.2.2 (the host's TAP),
# prints "VNET-PING-RESULT ..." and powers off. Needs: apt-get, dpkg-deb, busybox-static, cpio.
set -euo pipefail
out=${1:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/target/guest}
mkdir -p "$out"
if [ -s "$out/vmlinuz" ] && [ -s "$out/initrd.cpio.gz" ]; then echo "guest ready in $out"; exit 0; fi
for tool in busybox cpio dpkg-deb; do
  command -v $tool >/dev/null || { echo "make-guest: $tool missing (apt-get install busybox-static cpio)" >&2; exit 1; }
done
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
pkg=$(apt-cache depends linux-image-cloud-amd64 | sed -n 's/.*Depends: \(linux-image-[0-9].*-cloud-amd64\)$/\1/p' | head -n 1)
[ -n "$pkg" ] || { echo "make-guest: cannot resolve linux-image-cloud-amd64 (apt-get update?)" >&2; exit 1; }
(cd "$work" && apt-get download "$pkg" >/dev/null 2>&1 && dpkg-deb -x ./*.deb kernel)
kver=$(ls "$work/kernel/lib/modules")
cp "$work"/kernel/boot/vmlinuz-* "$out/vmlinuz"

root="$work/root"
mkdir -p "$root"/{bin,sbin,proc,sys,dev,tmp,lib/modules}
cp "$(command -v busybox)" "$root/bin/busybox"
for m in virtio virtio_ring virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci failover net_failover virtio_net; do
  f=$(find "$work/kernel/lib/modules/$kver" -name "$m.ko*" | head -n 1)
  [ -n "$f" ] && cp "$f" "$root/lib/modules/"
done
cat > "$root/init" <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev 2>/dev/null
mkdir -p /tmp
# No depmod here: insert until nothing more loads (dependencies go in on a later pass).
for pass in 1 2 3 4 5; do
  for m in /lib/modules/*.ko; do insmod $m 2>/dev/null && rm $m; done
done
echo "VNET-GUEST: driver $(basename $(readlink /sys/class/net/eth0/device/driver 2>/dev/null) 2>/dev/null)" \
     "features $(cat /sys/class/net/eth0/device/features 2>/dev/null)"
ip link set lo up
ip link set eth0 up
ip addr add 10.0.2.15/24 dev eth0
sleep 1
ping -c 5 -W 2 10.0.2.2 > /tmp/ping.txt 2>&1
cat /tmp/ping.txt
echo "VNET-PING-RESULT $(grep 'packets transmitted' /tmp/ping.txt)"
cat /proc/net/dev | grep eth0 | sed 's/^/VNET-GUEST-NETDEV /'
poweroff -f
INIT
chmod +x "$root/init"
(cd "$root" && find . | cpio -o -H newc 2>/dev/null | gzip -9 > "$out/initrd.cpio.gz")
echo "guest ready in $out (kernel $kver)"
