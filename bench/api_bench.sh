#!/usr/bin/env bash
# bench/api_bench.sh — API benchmark of `quire serve` on this machine (method: bench/README.md).
#
#   bench/api_bench.sh [--build-dir DIR] [--clients 64] [--seconds 10] [--converters 2] [--repeat 2]
#
# Starts a throwaway PostgreSQL and one eval lane, then measures (1) submit latency and accepted
# jobs/s with N concurrent clients, (2) end-to-end throughput (submit → succeeded) over the public
# corpus, and (3) `quire convert` run directly on the same files with the same number of workers.
set -euo pipefail
source "$(dirname "$0")/../scripts/lib/common.sh"
source "$QUIRE_ROOT/scripts/lib/pg.sh"

build_dir="$QUIRE_ROOT/build" clients=64 seconds=10 converters=2 repeat=2
while [ $# -gt 0 ]; do
  case $1 in
    --build-dir) build_dir=$2; shift 2 ;;
    --clients) clients=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    --converters) converters=$2; shift 2 ;;
    --repeat) repeat=$2; shift 2 ;;
    *) die "unknown argument: $1" ;;
  esac
done
quire="$build_dir/app/quire" bench="$build_dir/bench/api_bench"
[ -x "$quire" ] && [ -x "$bench" ] || die "build first: cmake --build $build_dir --target quire api_bench"
corpus=${QUIRE_EVAL_DIR:-$QUIRE_ROOT/../shared/eval}/corpus
work=$(mktemp -d /tmp/quire-api-bench.XXXXXX)
port=$(( 20000 + RANDOM % 20000 )) http_port=$(( 40000 + RANDOM % 20000 ))
serve_pid=
cleanup() {
  [ -n "$serve_pid" ] && kill -TERM "$serve_pid" 2>/dev/null && wait "$serve_pid" 2>/dev/null
  pg_stop "$work/pg"; rm -rf "$work"
}
trap cleanup EXIT

chmod 755 "$work"
mkdir -p "$work/pg" "$work/root"
pg_start "$work/pg" "$port" || die "PostgreSQL did not start"
psql -q "$QUIRE_TEST_DATABASE_URL" -c "CREATE DATABASE bench"
db="postgresql://quire@127.0.0.1:$port/bench"
"$quire" migrate --database-url "$db" --profile eval >/dev/null

start_serve() {
  QUIRE_PROFILE=eval QUIRE_DATA_ROOT="$work/root" QUIRE_DATABASE_URL="$db" QUIRE_LISTEN="127.0.0.1:$http_port" \
  QUIRE_CPU_CONVERTERS="$converters" QUIRE_HTTP_THREADS="${QUIRE_HTTP_THREADS:-16}" QUIRE_MAX_QUEUE_DEPTH=1000000 \
  QUIRE_MAX_CONCURRENT_UPLOADS=1024 QUIRE_API_KEYS=bench-key "$quire" serve 2>>"$work/serve.log" &
  serve_pid=$!
  for _ in $(seq 1 100); do
    "$quire" healthcheck --url "http://127.0.0.1:$http_port/readyz" 2>/dev/null && return 0
    sleep 0.2
  done
  cat "$work/serve.log" >&2; die "quire serve did not become ready"
}

log "submit latency: $clients clients, ${seconds}s, $(nproc) cores, $converters converter(s)"
start_serve
"$bench" submit --port "$http_port" --key bench-key --clients "$clients" --seconds "$seconds" \
  --pdf "$QUIRE_ROOT/docker/sample/sample.pdf" | tee "$work/submit.json"
kill -TERM "$serve_pid"; wait "$serve_pid" || true; serve_pid=

# End to end on a fresh database so the submit run's backlog does not count.
psql -q "$QUIRE_TEST_DATABASE_URL" -c "DROP DATABASE bench" -c "CREATE DATABASE bench"
"$quire" migrate --database-url "$db" --profile eval >/dev/null
rm -rf "$work/root"; mkdir -p "$work/root"
mapfile -t files < <(ls "$corpus"/*.pdf)
log "end to end: ${#files[@]} corpus PDFs x $repeat through the service ($converters converters)"
start_serve
"$bench" e2e --port "$http_port" --key bench-key --repeat "$repeat" "${files[@]}" | tee "$work/e2e.json"
kill -TERM "$serve_pid"; wait "$serve_pid" || true; serve_pid=

log "direct: quire convert on the same files, $converters parallel processes"
list=()
for _ in $(seq 1 "$repeat"); do list+=("${files[@]}"); done
t0=$(date +%s.%N)
printf '%s\n' "${list[@]}" | xargs -P "$converters" -I{} sh -c '"$0" convert "$1" >/dev/null 2>&1' "$quire" {}
t1=$(date +%s.%N)
direct=$(python3 -c "print(round(${#list[@]} / ($t1 - $t0), 3))")
service=$(python3 -c "import json; print(round(json.load(open('$work/e2e.json'))['jobs_per_second'], 3))")
python3 - <<PY
direct, service = $direct, $service
print(f"direct quire convert: {direct} jobs/s; through the service: {service} jobs/s; "
      f"service/direct = {service / direct:.2f} (target >= 0.80)")
PY
