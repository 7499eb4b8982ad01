#!/usr/bin/env bash
# bench/resource_bench.sh — peak memory and time of `quire convert` on a 1,000-page PDF and a PDF of
# 10,000 tiny pages, plus tenth-size versions of both: memory must stay bounded (flat in the page
# count), time may grow linearly. Figures go to bench/README.md ("Memory and resources").
#
#   bench/resource_bench.sh [QUIRE_BIN] [--pages N] [--tiny N]
#
# QUIRE_BIN defaults to build/app/quire. Prints one line per run: input, pages, peak RSS (MiB), wall
# seconds, Markdown bytes. Fails when a run fails, when going from a tenth of the pages to all of them
# adds 64 MiB or more of peak RSS (memory that grows with the page count: holding every page's
# layout would do that), when any peak passes 256 MiB, or when the last tenth of the tiny-page
# document converts over 3x slower than its first tenth (page lookups that cost O(page number)).
set -euo pipefail
source "$(dirname "$0")/../scripts/lib/common.sh"
quire=$QUIRE_ROOT/build/app/quire
pages=1000 tiny=10000
while [ $# -gt 0 ]; do
  case $1 in
    --pages) pages=$2; shift 2 ;;
    --tiny) tiny=$2; shift 2 ;;
    -h|--help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) quire=$1; shift ;;
  esac
done
[ -x "$quire" ] || die "no quire binary at $quire (build first: cmake --build build --target quire)"
[ -x /usr/bin/time ] || die "GNU time is missing (apt-get install time)"
work=$(mktemp -d /tmp/quire-resource.XXXXXX)
trap 'rm -rf "$work"' EXIT
python3 "$QUIRE_ROOT/bench/make_big_pdfs.py" "$work" --pages "$pages" --tiny "$tiny" >&2
python3 "$QUIRE_ROOT/bench/make_big_pdfs.py" "$work" --pages $((pages / 10)) --tiny $((tiny / 10)) >&2

# run NAME: prints "NAME pages rss_mib seconds md_bytes"; the RSS in KiB is GNU time's %M.
run() {
  local pdf=$work/$1 out=$work/$1.md stats
  /usr/bin/time -f '%M %e' -o "$work/time" "$quire" convert "$pdf" -o "$out" >/dev/null 2>"$work/err" \
    || { cat "$work/err" >&2; die "quire convert $1 failed"; }
  read -r rss secs <"$work/time"
  stats=$(awk -v r="$rss" 'BEGIN { printf "%.0f", r / 1024 }')
  printf '%-16s %6s %8s %8s %10s\n' "$1" "$(python3 -c 'import re,sys; d=open(sys.argv[1],"rb").read(); print(int(re.search(rb"/Count (\d+)", d).group(1)))' "$pdf")" \
    "$stats" "$secs" "$(stat -c %s "$out")"
}

printf '%-16s %6s %8s %8s %10s\n' input pages rss_mib seconds md_bytes
small_long=$(run "long_$((pages / 10)).pdf"); echo "$small_long"
big_long=$(run "long_$pages.pdf"); echo "$big_long"
small_tiny=$(run "tiny_$((tiny / 10)).pdf"); echo "$small_tiny"
big_tiny=$(run "tiny_$tiny.pdf"); echo "$big_tiny"

# Bounded: ten times the pages may not add 64 MiB; no run may pass 256 MiB.
check() {
  local a b
  a=$(awk '{print $3}' <<<"$1"); b=$(awk '{print $3}' <<<"$2")
  [ $((b - a)) -lt 64 ] || die "peak RSS grows with the page count: $a MiB -> $b MiB"
  [ "$b" -lt 256 ] || die "peak RSS $b MiB is over 256 MiB"
}
check "$small_long" "$big_long"
check "$small_tiny" "$big_tiny"
log "memory bounded: 10x the pages adds under 64 MiB of peak RSS"

# Linear: the last tenth of the tiny-page document costs about what its first tenth does.
span() {  # span A-B: wall seconds of converting pages A-B of the tiny document
  /usr/bin/time -f '%e' -o "$work/time" "$quire" convert "$work/tiny_$tiny.pdf" --pages "$1" -o "$work/span.md" \
    >/dev/null 2>"$work/err" || { cat "$work/err" >&2; die "quire convert --pages $1 failed"; }
  cat "$work/time"
}
tenth=$((tiny / 10))
head_s=$(span "1-$tenth")
tail_s=$(span "$((tiny - tenth + 1))-$tiny")
printf 'tiny_%s pages 1-%s: %s s, pages %s-%s: %s s\n' "$tiny" "$tenth" "$head_s" "$((tiny - tenth + 1))" "$tiny" "$tail_s"
awk -v h="$head_s" -v t="$tail_s" 'BEGIN { exit !(t <= 3 * h + 0.3) }' \
  || die "late pages are slower than early ones (${tail_s}s vs ${head_s}s): page lookup is not O(1)"
log "time linear in the page count"
