#!/usr/bin/env bash
# bench/api_ab.sh — A/B of the submit path on this shared, noisy machine (method: bench/README.md).
#
#   bench/api_ab.sh [--rounds 3] [--seconds 6] [--warmup 1] [--work-dir DIR] BUILD_DIR...
#
# Each BUILD_DIR holds app/quire and bench/api_bench (copy them aside per commit; use one
# api_bench, the newest, in every BUILD_DIR: older ones lack --warmup). Runs
# bench/api_bench.sh --submit-only --keep-alive --no-new-connections for every build in turn,
# `rounds` times (interleaved, so slow spells of the VM hit every build alike; every other round in
# reverse order, so that no build always runs first), and prints one
# line per run: accepts/s, client latency, and the CPU per accepted job by component. Compare the
# CPU columns first: they vary far less between identical runs than throughput and latency do.
set -euo pipefail
source "$(dirname "$0")/../scripts/lib/common.sh"

rounds=3 seconds=6 warmup=1 work_dir=${TMPDIR:-/tmp} builds=()
while [ $# -gt 0 ]; do
  case $1 in
    --rounds) rounds=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    --warmup) warmup=$2; shift 2 ;;
    --work-dir) work_dir=$2; shift 2 ;;
    -*) die "unknown option: $1" ;;
    *) builds+=("$1"); shift ;;
  esac
done
[ ${#builds[@]} -gt 0 ] || die "usage: bench/api_ab.sh [--rounds N] [--seconds S] [--work-dir DIR] BUILD_DIR..."

for round in $(seq 1 "$rounds"); do
  # Odd rounds in the order given, even rounds reversed: a build that always ran first would
  # always meet the same state (a cold page cache, a fresh database) and carry a bias.
  order=("${builds[@]}")
  if [ $((round % 2)) -eq 0 ]; then
    order=()
    for ((i = ${#builds[@]} - 1; i >= 0; i--)); do order+=("${builds[i]}"); done
  fi
  for b in "${order[@]}"; do
    sync
    sleep 2  # let the previous run's writeback and deletions settle
    out=$("$QUIRE_ROOT/bench/api_bench.sh" --build-dir "$b" --submit-only --keep-alive --no-new-connections \
            --seconds "$seconds" --warmup "$warmup" --work-dir "$work_dir" 2>&1) || { echo "$out" >&2; die "run failed: $b"; }
    python3 - "$b" "$out" <<'PY'
import json, re, sys
build, out = sys.argv[1], sys.argv[2]
start = out.index("{")
j = json.loads(out[start:out.index("\n}", start) + 2])
cpu = re.search(r"quire serve ([\d.]+) ms.*worker processes ([\d.]+) ms, PostgreSQL ([\d.]+) ms.*"
                r"client ([\d.]+) ms; whole machine ([\d.]+)", out).groups()
lat = j["latency_ms"]
print(f"{build:24.24s} {j['accepted_per_second']:6.0f}/s  p50 {lat['p50']:5.1f} p90 {lat['p90']:5.1f} "
      f"p99 {lat['p99']:5.1f} ms  refused {j['refused_503']} errors {j['errors']}  CPU ms/accept: "
      f"serve {cpu[0]} workers {cpu[1]} pg {cpu[2]} client {cpu[3]} machine {cpu[4]}", flush=True)
PY
  done
done
