#!/usr/bin/env bash
# bench/convert_bench.sh — conversion speed of `quire convert` against the floor set by plain text
# extraction with the same library (`mutool draw -F txt`), on the same file in the same run.
#
#   bench/convert_bench.sh [QUIRE_BIN] [PDF] [--repeat N]
#
# Defaults: build/app/quire and the eval corpus' long document (long_manual.pdf, 39 pages).
# Each tool runs N times (default 5) one after the other, single-threaded, whole process
# (start-up included); the fastest run counts. Prints pages/s of both, the ratio (target: quire
# >= 0.4x mutool) and quire's peak RSS (GNU time %M; target < 150 MB).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
bin=$root/build/app/quire
pdf=$root/../shared/eval/corpus/long_manual.pdf
repeat=5
pos=0
while [ $# -gt 0 ]; do
  case $1 in
    --repeat) repeat=$2; shift 2 ;;
    -h|--help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) if [ $pos = 0 ]; then bin=$1; else pdf=$1; fi; pos=$((pos + 1)); shift ;;
  esac
done
[ -x "$bin" ] || { echo "convert_bench: no quire binary at $bin" >&2; exit 2; }
[ -f "$pdf" ] || { echo "convert_bench: no PDF at $pdf" >&2; exit 2; }
command -v mutool >/dev/null || { echo "convert_bench: mutool (mupdf-tools) is needed" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "convert_bench: GNU time (/usr/bin/time) is needed" >&2; exit 2; }

pages=$(mutool info "$pdf" 2>/dev/null | awk '/^Pages:/ {print $2}')
tmp=$(mktemp -d /tmp/convert-bench.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

# best_of CMD...: fastest wall time (s, nanosecond clock) and the peak RSS (kB) of that run
best_of() {
  local best="" rss="" t0 t1 s kb
  for _ in $(seq "$repeat"); do
    t0=$(date +%s%N)
    /usr/bin/time -f "%M" -o "$tmp/time" "$@" >/dev/null 2>"$tmp/err" || { cat "$tmp/err" >&2; exit 1; }
    t1=$(date +%s%N)
    s=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.4f", (b - a) / 1e9}')
    kb=$(tail -n 1 "$tmp/time")
    if [ -z "$best" ] || awk -v a="$s" -v b="$best" 'BEGIN{exit !(a<b)}'; then best=$s; rss=$kb; fi
  done
  echo "$best $rss"
}

read -r q_s q_kb < <(best_of "$bin" convert "$pdf" -o "$tmp/out.md")
read -r m_s m_kb < <(best_of mutool draw -F txt -o "$tmp/out.txt" "$pdf")
awk -v p="$pages" -v qs="$q_s" -v ms="$m_s" -v qkb="$q_kb" -v mkb="$m_kb" -v f="$(basename "$pdf")" 'BEGIN {
  printf "document: %s (%d pages)\n", f, p
  printf "%-26s %8s %10s %12s\n", "tool", "wall s", "pages/s", "peak RSS MB"
  printf "%-26s %8.3f %10.1f %12.1f\n", "quire convert", qs, p / qs, qkb / 1024
  printf "%-26s %8.3f %10.1f %12.1f\n", "mutool draw -F txt", ms, p / ms, mkb / 1024
  printf "ratio quire/mutool pages/s: %.2fx (target >= 0.40x)\n", ms / qs
}'
