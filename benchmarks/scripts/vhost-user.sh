#!/usr/bin/env bash
# vhost-user part of bin/bench (docs/PERFORMANCE.md): DPDK's virtio-user driver (dpdk-testpmd, txonly
# and rxonly) against two vhost-user back-ends in the same run: DPDK's own net_vhost (a second testpmd,
# rxonly / txonly) and ours (bin/vnet-vhost-user with the sink backend, busy poll off and on).
#   benchmarks/scripts/vhost-user.sh OUT ROUNDS SECONDS
# Writes OUT/vhost.tsv: round, direction (tx: virtio-user sends; rx: virtio-user receives), frame size,
# back-end, and one packets-per-second sample per second, counted by the virtio-user testpmd itself
# (`show port stats`, timed by this script). Placement: virtio-user forwards on CPU 0; the back-end
# gets CPU 1 (net_vhost's forwarding lcore, or the whole JVM through taskset).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
out=$1 rounds=$2 secs=$3
warmup=${VNET_BENCH_VHOST_WARMUP:-2}
sizes=${VNET_BENCH_VHOST_SIZES:-64 1514}
backends=${VNET_BENCH_VHOST_BACKENDS:-dpdk vnet vnet-poll}
directions=${VNET_BENCH_VHOST_DIRS:-tx rx}
sock=/tmp/vnet-bench-vhost.sock
work=$out/vhost
mkdir -p "$work"
tsv=$out/vhost.tsv
: > "$tsv"

if ! command -v dpdk-testpmd >/dev/null; then
  echo "bench: installing dpdk-dev (dpdk-testpmd)"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends dpdk-dev >/dev/null
fi
# VNET_BENCH_VHOST_LAUNCHER: another checkout's bin/vnet-vhost-user (benchmarks/scripts/vhost-compare.sh).
launcher=${VNET_BENCH_VHOST_LAUNCHER:-"$root/bin/vnet-vhost-user"}
# The launcher (re)builds its jars when they are older than the checkout's sources (bin/lib/stale.sh):
# let it do so here, outside the measurements.
"$launcher" --help >/dev/null


eal=(--no-pci --no-huge -m 512 --no-shconf)
peer_pid=
cleanup_peer() { # a line on its stdin ends testpmd; the JVM ends on SIGTERM
  if [ -n "$peer_pid" ]; then
    echo >&4 2>/dev/null || true
    kill "$peer_pid" 2>/dev/null || true
    wait "$peer_pid" 2>/dev/null || true
    exec 4>&-
  fi
  peer_pid=
  rm -f "$sock"
}
trap cleanup_peer EXIT

start_backend() { # backend direction size log
  local backend=$1 direction=$2 size=$3 log=$4
  rm -f "$sock"
  case $backend in
    dpdk)
      local mode=rxonly extra=()
      [ "$direction" = rx ] && { mode=txonly; extra=(--txpkts="$size"); }
      # testpmd forwards until it reads a line on stdin: a fifo this script holds open as fd 4.
      rm -f "$work/peer.fifo"; mkfifo "$work/peer.fifo"; exec 4<>"$work/peer.fifo"
      dpdk-testpmd -l 0,1 --main-lcore 0 "${eal[@]}" --file-prefix vnetbh \
        --vdev "net_vhost0,iface=$sock,queues=1" -- --forward-mode="$mode" --total-num-mbufs=16384 "${extra[@]}" \
        <"$work/peer.fifo" >"$log" 2>&1 &
      ;;
    vnet|vnet-poll)
      local rxsize=0 poll=0
      [ "$direction" = rx ] && rxsize=$size
      [ "$backend" = vnet-poll ] && poll=50
      cat > "$work/vnet.conf" <<EOF
vnet.devices = [ {
  id = bench0
  transport { type = vhost-user, socket = "$sock" }
  busy-poll-micros = $poll
  backend { type = sink, rx-frame-size = $rxsize }
} ]
EOF
      exec 4>/dev/null
      taskset -c 1 "$launcher" --config "$work/vnet.conf" >"$log" 2>&1 &
      ;;
  esac
  peer_pid=$!
  for _ in $(seq 300); do [ -S "$sock" ] && return 0; sleep 0.1; done
  echo "bench: $backend did not create $sock"; tail -20 "$log"; return 1
}

measure() { # direction size log -> prints the per-second pps samples
  local direction=$1 size=$2 log=$3 mode=txonly extra=() field=TX-packets
  [ "$direction" = rx ] && { mode=rxonly; field=RX-packets; }
  [ "$direction" = tx ] && extra=(--txpkts="$size")
  local fifo=$work/cmd.fifo
  rm -f "$fifo"; mkfifo "$fifo"
  timeout $((secs + warmup + 60)) stdbuf -oL dpdk-testpmd -l 0,1 --main-lcore 1 "${eal[@]}" --file-prefix vnetbv \
    --vdev "net_virtio_user0,path=$sock,queues=1" -- -i --forward-mode="$mode" --total-num-mbufs=16384 "${extra[@]}" \
    <"$fifo" >"$log" 2>&1 &
  local pid=$!
  exec 3>"$fifo"
  for _ in $(seq 300); do grep -q 'testpmd>' "$log" && break; sleep 0.1; done
  echo start >&3
  sleep "$warmup"
  local times=()
  for _ in $(seq 0 "$secs"); do
    times+=("$(date +%s.%N)")
    echo "show port stats 0" >&3
    sleep 1
  done
  echo stop >&3; echo quit >&3
  exec 3>&-
  wait "$pid" || true
  rm -f "$fifo"
  # The k-th stats block belongs to the k-th timestamp: pps = packet delta / time delta.
  grep -a "$field" "$log" | head -n $((secs + 1)) | sed 's/.*-packets: *\([0-9]*\).*/\1/' \
    | paste - <(printf '%s\n' "${times[@]}") \
    | awk 'NR > 1 { printf "%.0f\n", ($1 - p) / ($2 - t) } { p = $1; t = $2 }'
}

for r in $(seq 1 "$rounds"); do
  for direction in $directions; do
    for size in $sizes; do
      for backend in $backends; do
        tag=$direction-$size-$backend-$r
        start_backend "$backend" "$direction" "$size" "$work/backend-$tag.log"
        samples=$(measure "$direction" "$size" "$work/virtio-$tag.log" | tr '\n' ' ')
        cleanup_peer
        echo "bench: vhost-user $direction $size B, $backend, round $r: pps $samples"
        printf '%s\t%s\t%s\t%s\t%s\n' "$r" "$direction" "$size" "$backend" "$samples" >> "$tsv"
      done
    done
  done
done
