#!/usr/bin/env bash
# tests/fuzz/run.sh — fuzz with libFuzzer (scripts/test --only fuzz).
#
#   tests/fuzz/run.sh BUILD_DIR [SECONDS] [TARGET] [extra libFuzzer flags...]
#
# TARGET: convert (the conversion engine, the default), multipart or job_spec (the upload path's
# parsers). BUILD_DIR is a clang build configured with QUIRE_SANITIZE=fuzzer-no-link,address,undefined
# (scripts/test makes build-sanitize/ so); fuzz_TARGET is built there if missing. The engine's seeds
# come from make_seeds.py and the committed regressions/, the parsers' from seeds/TARGET/; the
# evolving corpus lives in BUILD_DIR/fuzz-corpus[-TARGET] (kept between runs, so longer runs build on
# shorter ones). A crash, leak, sanitizer report, contract failure or an input over the per-input
# timeout fails the run and leaves the input in BUILD_DIR/fuzz-artifacts[-TARGET]/: fix it, then add
# the file to tests/fuzz/regressions/ (the engine) or seeds/TARGET/ (docs/reliability.md).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:?usage: tests/fuzz/run.sh BUILD_DIR [SECONDS] [TARGET] [libFuzzer flags...]}
seconds=${2:-60}
shift $(( $# >= 2 ? 2 : 1 ))
target=convert
if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then target=$1; shift; fi
build=$(cd "$build" && pwd)

bin=$build/tests/fuzz/fuzz_$target
cmake --build "$build" --target "fuzz_$target" >&2
[ -x "$bin" ] || { echo "fuzz: $bin was not built (needs clang and QUIRE_SANITIZE with fuzzer-no-link)" >&2; exit 1; }

case $target in
  convert)
    seeds=$build/tests/fuzz/seeds
    python3 "$here/make_seeds.py" "$seeds" >&2
    inputs=("$seeds" "$here/regressions")
    corpus=$build/fuzz-corpus
    artifacts=$build/fuzz-artifacts
    max_len=65536 ;;
  multipart|job_spec)
    inputs=("$here/seeds/$target")
    corpus=$build/fuzz-corpus-$target
    artifacts=$build/fuzz-artifacts-$target
    max_len=8192 ;;
  *) echo "fuzz: unknown target $target (convert, multipart, job_spec)" >&2; exit 2 ;;
esac
mkdir -p "$corpus" "$artifacts"

# Per-input limit: the engine's harness gives it a 10 s deadline (QUIRE_FUZZ_TIMEOUT); an input still
# running at 30 s (sanitizer overhead included) is a hang. rss_limit_mb bounds one input's memory.
# A fixed seed (QUIRE_FUZZ_SEED, default 1) keeps the short CI run reproducible: a red run points at
# a change, not at luck. Long exploratory runs pass QUIRE_FUZZ_SEED=0 (libFuzzer picks one).
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
log=$artifacts/last-run.log
echo "fuzz: ${seconds}s of fuzz_$target, corpus $corpus (log $log)" >&2
set +e
"$bin" "$corpus" "${inputs[@]}" \
  -seed="${QUIRE_FUZZ_SEED:-1}" -max_total_time="$seconds" -max_len="$max_len" -timeout=30 -rss_limit_mb=3072 -malloc_limit_mb=3072 \
  -artifact_prefix="$artifacts/" -print_final_stats=1 -close_fd_mask=1 "$@" >"$log" 2>&1
rc=$?
set -e
grep -E '^#[0-9]+ +(INITED|DONE)|stat::number_of_executed_units|stat::peak_rss_mb|cov:' "$log" | tail -n 4 >&2 || true
if [ $rc -ne 0 ]; then
  tail -n 60 "$log" >&2
  echo "fuzz: FAILED (rc $rc); inputs: $(find "$artifacts" -type f ! -name last-run.log | tr "\n" " ")" >&2
  exit 1
fi
echo "fuzz: clean" >&2
