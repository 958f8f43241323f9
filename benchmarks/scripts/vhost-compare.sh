#!/usr/bin/env bash
# Before/after for the vhost-user path in one session: alternating rounds of DPDK's net_vhost, a base
# checkout's vnet-vhost-user and a candidate's, all driven by the same DPDK virtio-user (vhost-user.sh),
# so that the host's phases hit all three alike. Prints each round's medians and, over all per-second
# samples, the medians and the ratios to DPDK and to the base.
#   vhost-compare.sh BASE_CHECKOUT CANDIDATE_CHECKOUT ROUNDS OUTDIR [rx|tx] [frame size] [seconds]
#   vhost-compare.sh /tmp/base . 4 /tmp/vcmp rx 64
# A checkout is a clone of this repository at the commit to measure (its bin/vnet-vhost-user builds it).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
base=$(cd "$1" && pwd) cand=$(cd "$2" && pwd) rounds=$3 out=$4
direction=${5:-rx} size=${6:-64} secs=${7:-6}
mkdir -p "$out"
for checkout in "$base" "$cand"; do # build each once: an older checkout's launcher may not check staleness
  VNET_REBUILD=1 "$checkout/bin/vnet-vhost-user" --help >/dev/null
done
run() { # label backend checkout round
  local dir="$out/$1-$4"
  rm -rf "$dir"; mkdir -p "$dir"
  VNET_BENCH_VHOST_DIRS=$direction VNET_BENCH_VHOST_SIZES=$size VNET_BENCH_VHOST_BACKENDS=$2 \
    VNET_BENCH_VHOST_LAUNCHER="$3/bin/vnet-vhost-user" "$root/benchmarks/scripts/vhost-user.sh" "$dir" 1 "$secs" \
    >"$dir/run.log" 2>&1 || { tail -20 "$dir/run.log"; return 1; }
}
for r in $(seq 1 "$rounds"); do
  run dpdk dpdk "$root" "$r"
  run base vnet "$base" "$r"
  run candidate vnet "$cand" "$r"
done
python3 - "$out" "$rounds" <<'PY'
import statistics, sys
out, rounds = sys.argv[1], int(sys.argv[2])
labels = ['dpdk', 'base', 'candidate']
samples = {l: [] for l in labels}
for r in range(1, rounds + 1):
    line = []
    for l in labels:
        v = [float(x) / 1e6 for row in open('%s/%s-%d/vhost.tsv' % (out, l, r)) for x in row.split()[4:]]
        samples[l] += v
        line.append('%s %.2f' % (l, statistics.median(v)))
    print('round %d: %s Mpps' % (r, ', '.join(line)))
m = {l: statistics.median(samples[l]) for l in labels}
print('medians of all samples: ' + ', '.join('%s %.2f' % (l, m[l]) for l in labels))
print('base/dpdk %.2f, candidate/dpdk %.2f, candidate/base %.2f'
      % (m['base'] / m['dpdk'], m['candidate'] / m['dpdk'], m['candidate'] / m['base']))
PY
