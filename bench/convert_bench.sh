#!/usr/bin/env bash
# bench/convert_bench.sh — conversion speed of `quire convert` against the floor set by plain text
# extraction with the same library (`mutool draw -F txt`), on the same files in the same run.
#
#   bench/convert_bench.sh [QUIRE_BIN] [PDF|DIR ...] [--repeat N]
#
# Defaults: build/app/quire and the eval corpus' long document (long_manual.pdf, 39 pages). A DIR
# stands for every *.pdf in it (e.g. the eval kit's realworld/ PDFs, fetched by its fetch.sh or by
# tests/quality/gate.sh). Each tool runs N times (default 5) on each file, one after the other,
# single-threaded, whole process (start-up included); the fastest run counts. Prints pages/s of
# both per file and over the whole set (total pages / total best times), the ratio (target:
# quire >= 0.4x mutool) and quire's peak RSS (GNU time %M; target < 150 MB).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
bin=$root/build/app/quire
repeat=5
pos=0
pdfs=()
while [ $# -gt 0 ]; do
  case $1 in
    --repeat) repeat=$2; shift 2 ;;
    -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *)
      if [ $pos = 0 ]; then bin=$1
      elif [ -d "$1" ]; then for f in "$1"/*.pdf; do [ -f "$f" ] && pdfs+=("$f"); done
      else pdfs+=("$1"); fi
      pos=$((pos + 1)); shift ;;
  esac
done
[ ${#pdfs[@]} -gt 0 ] || pdfs=("$root/../shared/eval/corpus/long_manual.pdf")
[ -x "$bin" ] || { echo "convert_bench: no quire binary at $bin" >&2; exit 2; }
for pdf in "${pdfs[@]}"; do [ -f "$pdf" ] || { echo "convert_bench: no PDF at $pdf" >&2; exit 2; }; done
command -v mutool >/dev/null || { echo "convert_bench: mutool (mupdf-tools) is needed" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "convert_bench: GNU time (/usr/bin/time) is needed" >&2; exit 2; }

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

rows=$tmp/rows
: >"$rows"
for pdf in "${pdfs[@]}"; do
  pages=$(mutool info "$pdf" 2>/dev/null | awk '/^Pages:/ {print $2}')
  read -r q_s q_kb < <(best_of "$bin" convert "$pdf" -o "$tmp/out.md")
  read -r m_s _ < <(best_of mutool draw -F txt -o "$tmp/out.txt" "$pdf")
  echo "$(basename "$pdf" .pdf) $pages $q_s $m_s $q_kb" >>"$rows"
done
awk -v n="${#pdfs[@]}" '
  BEGIN {
    printf "%-24s %6s %9s %10s %10s %7s %9s\n", "document", "pages", "quire s", "quire p/s", "mutool p/s", "ratio", "RSS MB"
  }
  {
    printf "%-24s %6d %9.3f %10.1f %10.1f %6.2fx %9.1f\n", $1, $2, $3, $2 / $3, $2 / $4, $4 / $3, $5 / 1024
    pages += $2; qs += $3; ms += $4; if ($5 > rss) rss = $5
  }
  END {
    if (n > 1) printf "%-24s %6d %9.3f %10.1f %10.1f %6.2fx %9.1f\n", "ALL (" n " files)", pages, qs, pages / qs, pages / ms, ms / qs, rss / 1024
    printf "ratio quire/mutool pages/s: %.2fx (target >= 0.40x); peak RSS %.1f MB (target < 150 MB)\n", ms / qs, rss / 1024
  }' "$rows"
