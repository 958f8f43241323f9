#!/usr/bin/env bash
# Before/after in one session: runs the same JMH selection from two benchmark jars, alternating
# (base, candidate, base, candidate, ...) so that machine noise hits both alike, then prints medians
# and candidate/base ratios.
#   compare.sh BASE.jar CANDIDATE.jar ROUNDS OUTDIR -- JMH-ARGS...
# The JMH args apply to both jars. Parameters only the candidate knows go after a second "--":
#   compare.sh base.jar new.jar 3 /tmp/cmp -- 'InJvmBenchmark.tx$' -p frameSize=64 -- -p busyPollMicros=0,50
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
. "$root/bin/lib/jdk.sh"
base=$1 cand=$2 rounds=$3 out=$4; shift 4
[ "$1" = "--" ] && shift
common=() extra=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do common+=("$1"); shift; done
[ $# -gt 0 ] && shift && extra=("$@")
mkdir -p "$out"
for r in $(seq 1 "$rounds"); do
  echo "== round $r/$rounds: base ($(uptime | sed 's/.*load/load/'))"
  java -jar "$base" "${common[@]}" -rf json -rff "$out/base-$r.json" >"$out/base-$r.log" 2>&1 || tail -20 "$out/base-$r.log"
  echo "== round $r/$rounds: candidate ($(uptime | sed 's/.*load/load/'))"
  java -jar "$cand" "${common[@]}" "${extra[@]}" -rf json -rff "$out/cand-$r.json" >"$out/cand-$r.log" 2>&1 || tail -20 "$out/cand-$r.log"
done
python3 "$root/benchmarks/scripts/report.py" compare "$out"
