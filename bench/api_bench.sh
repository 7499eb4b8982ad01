#!/usr/bin/env bash
# bench/api_bench.sh — API benchmark of `quire serve` on this machine (method: bench/README.md).
#
#   bench/api_bench.sh [--build-dir DIR] [--clients 64] [--seconds 10] [--converters 2] [--repeat 2]
#                      [--work-dir DIR] [--keep-alive] [--no-new-connections] [--submit-only] [--rate R]
#                      [--pg-stats] [--metrics] [--pg-work-dir DIR] [--wrk] [--warmup 1]
#
# Starts a throwaway PostgreSQL and one eval lane, then measures (1) submit latency and accepted
# jobs/s with N concurrent clients (a new connection per request; --keep-alive: then once more with
# persistent connections), with the CPU each accepted job cost the service, PostgreSQL and the
# client, (2) end-to-end throughput (submit → succeeded) over the public corpus, and (3) `quire
# convert` run directly on the same files with the same number of workers. --submit-only stops
# after (1). --work-dir: where the database and the data root live (default $TMPDIR or /tmp);
# --pg-work-dir: the database elsewhere (another filesystem: the data root's syncfs then does not
# also flush PostgreSQL's dirty pages).
# --rate R: (1) once more as an open loop, the clients together offering R submits/s on keep-alive
# connections (latency then shows the service time at that load, not the closed loop's queue).
# --no-new-connections: skip (1)'s run with a connection per request (A/B runs: bench/api_ab.sh).
# --warmup S: each submit run loads the service S seconds before its measured seconds (a fresh
# service's first requests open connections and warm caches; their latency is reported apart).
# --wrk: (1) with keep-alive once more, driven by wrk (one thread, one event loop, `clients`
# connections; bench/wrk_submit.lua) instead of api_bench's thread per client, if wrk is installed.
# --pg-stats: PostgreSQL with pg_stat_statements; its busiest statements are printed after (1).
# --metrics: after (1), the service's own view of it from /metrics: submits per batch, the wait
# for the data-root sync, and the server-side submit latency (mean and histogram).
set -euo pipefail
source "$(dirname "$0")/../scripts/lib/common.sh"
source "$QUIRE_ROOT/scripts/lib/pg.sh"

build_dir="$QUIRE_ROOT/build" clients=64 seconds=10 converters=2 repeat=2 warmup=1
work_base=${TMPDIR:-/tmp} pg_base='' keep_alive=0 submit_only=0 rate='' new_connections=1 pg_stats=0 metrics=0 use_wrk=0
while [ $# -gt 0 ]; do
  case $1 in
    --work-dir) work_base=$2; shift 2 ;;
    --pg-work-dir) pg_base=$2; shift 2 ;;
    --keep-alive) keep_alive=1; shift ;;
    --no-new-connections) new_connections=0; shift ;;
    --pg-stats) pg_stats=1; shift ;;
    --metrics) metrics=1; shift ;;
    --wrk) use_wrk=1; shift ;;
    --submit-only) submit_only=1; shift ;;
    --rate) rate=$2; shift 2 ;;
    --build-dir) build_dir=$2; shift 2 ;;
    --clients) clients=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    --warmup) warmup=$2; shift 2 ;;
    --converters) converters=$2; shift 2 ;;
    --repeat) repeat=$2; shift 2 ;;
    *) die "unknown argument: $1" ;;
  esac
done
quire="$build_dir/app/quire" bench="$build_dir/bench/api_bench"
[ "$use_wrk" = 0 ] || command -v wrk >/dev/null || die "--wrk: wrk is not installed (apt-get install wrk)"
[ -x "$quire" ] && [ -x "$bench" ] || die "build first: cmake --build $build_dir --target quire api_bench"
corpus=${QUIRE_EVAL_DIR:-$QUIRE_ROOT/../shared/eval}/corpus
work=$(mktemp -d "$work_base/quire-api-bench.XXXXXX")
pg_dir=$work/pg
[ -n "$pg_base" ] && pg_dir=$(mktemp -d "$pg_base/quire-api-bench-pg.XXXXXX")
# Below the ephemeral range (32768+): a previous run's tens of thousands of client connections
# leave local ports in TIME_WAIT there.
port=$(( 20000 + RANDOM % 6000 )) http_port=$(( 26000 + RANDOM % 6000 ))
serve_pid=
cleanup() {
  [ -n "$serve_pid" ] && kill -TERM "$serve_pid" 2>/dev/null && wait "$serve_pid" 2>/dev/null
  pg_stop "$pg_dir"; rm -rf "$work" "$pg_dir"
}
trap cleanup EXIT

mkdir -p "$pg_dir" "$work/root"
chmod 755 "$work" "$pg_dir"
[ "$pg_stats" = 1 ] && export PG_EXTRA_OPTS="-c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track=all"
pg_start "$pg_dir" "$port" || die "PostgreSQL did not start"
psql -q "$QUIRE_TEST_DATABASE_URL" -c "CREATE DATABASE bench"
db="postgresql://quire@127.0.0.1:$port/bench"
"$quire" migrate --database-url "$db" --profile eval >/dev/null
[ "$pg_stats" = 1 ] && psql -q "$db" -c "CREATE EXTENSION pg_stat_statements"

start_serve() {
  QUIRE_PROFILE=eval QUIRE_DATA_ROOT="$work/root" QUIRE_DATABASE_URL="$db" QUIRE_LISTEN="127.0.0.1:$http_port" \
  QUIRE_CPU_CONVERTERS="$converters" QUIRE_HTTP_THREADS="${QUIRE_HTTP_THREADS:-16}" QUIRE_MAX_QUEUE_DEPTH=1000000 \
  QUIRE_MAX_CONCURRENT_UPLOADS=1024 QUIRE_API_KEYS=bench-key QUIRE_MAX_JOBS_PER_KEY=0 "$quire" serve 2>>"$work/serve.log" &
  serve_pid=$!
  for _ in $(seq 1 100); do
    "$quire" healthcheck --url "http://127.0.0.1:$http_port/readyz" 2>/dev/null && return 0
    sleep 0.2
  done
  cat "$work/serve.log" >&2; die "quire serve did not become ready"
}

# CPU ticks (user + system) of one process, and of PostgreSQL (postmaster and its backends).
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
# The converters' worker processes (children of quire serve).
worker_ticks() {
  local total=0 p
  for p in $(pgrep -P "$serve_pid"); do total=$(( total + $(ticks "$p") )); done
  echo "$total"
}
# Busy ticks of the whole machine (every CPU; user + nice + system + irq + softirq + steal).
machine_ticks() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat; }
pg_ticks() {
  local master total=0 p
  master=$(head -1 "$pg_dir/data/postmaster.pid")
  for p in "$master" $(pgrep -P "$master"); do total=$(( total + $(ticks "$p") )); done
  echo "$total"
}

# wrk for SECONDS against the submit route (bench/wrk_submit.lua prints one JSON line).
run_wrk() {
  PDF="$QUIRE_ROOT/docker/sample/sample.pdf" KEY=bench-key wrk -t1 -c"$clients" -d"${1}s" \
    -s "$QUIRE_ROOT/bench/wrk_submit.lua" "http://127.0.0.1:$http_port/v1/convert/jobs"
}

# One submit run; prints the client's JSON and the CPU per accepted job. --wrk: wrk is the client.
submit_run() {
  local s0 p0 w0 m0 s1 p1 w1 m1 hz
  hz=$(getconf CLK_TCK)
  # wrk has no warm-up of its own: a short run first, outside the measurement.
  if [ "${1:-}" = --wrk ] && [ "$warmup" != 0 ]; then run_wrk "$warmup" >/dev/null; fi
  s0=$(ticks "$serve_pid") p0=$(pg_ticks) w0=$(worker_ticks) m0=$(machine_ticks)
  local TIMEFORMAT="%U %S"
  if [ "${1:-}" = --wrk ]; then
    { time run_wrk "$seconds" | grep '^{' >"$work/submit.json"; } 2>"$work/client.time"
  else
    { time "$bench" submit --port "$http_port" --key bench-key --clients "$clients" --seconds "$seconds" \
        --warmup "$warmup" --pdf "$QUIRE_ROOT/docker/sample/sample.pdf" "$@" >"$work/submit.json"; } 2>"$work/client.time"
  fi
  s1=$(ticks "$serve_pid") p1=$(pg_ticks) w1=$(worker_ticks) m1=$(machine_ticks)
  cat "$work/submit.json"
  python3 - "$work/submit.json" "$work/client.time" "$hz" "$(( s1 - s0 ))" "$(( p1 - p0 ))" \
    "$(( w1 - w0 ))" "$(( m1 - m0 ))" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
user, system = map(float, open(sys.argv[2]).read().split())
hz, serve, pg, workers, machine = float(sys.argv[3]), *map(int, sys.argv[4:8])
n = max(1, j.get("accepted_including_warmup", j["accepted"]))  # the CPU ticks cover the warm-up too
ms = lambda ticks: ticks / hz / n * 1e3
print(f"CPU per accepted job: quire serve {ms(serve):.3f} ms (its converter threads included), "
      f"worker processes {ms(workers):.3f} ms, PostgreSQL {ms(pg):.3f} ms, "
      f"bench client {(user + system) / n * 1e3:.3f} ms; whole machine {ms(machine):.3f} ms")
PY
}

log "submit latency: $clients clients, ${seconds}s, $(nproc) cores, $converters converter(s), load average$(uptime | sed 's/.*load average//')"
start_serve
[ "$new_connections" = 1 ] && submit_run
if [ "$keep_alive" = 1 ]; then
  log "submit latency with keep-alive connections"
  submit_run --keep-alive
fi
if [ "$use_wrk" = 1 ]; then
  log "submit latency with keep-alive connections, wrk as the client"
  submit_run --wrk
fi
if [ -n "$rate" ]; then
  log "submit latency, open loop: $clients clients offering $rate submits/s together (keep-alive)"
  submit_run --keep-alive --rate "$rate"
fi
if [ "$pg_stats" = 1 ]; then
  psql "$db" -c "SELECT calls, rows, round(total_exec_time::numeric, 1) AS ms,
                        round((total_exec_time / calls)::numeric, 3) AS ms_per_call,
                        left(regexp_replace(query, '\s+', ' ', 'g'), 100) AS statement
                 FROM pg_stat_statements ORDER BY total_exec_time DESC LIMIT 12"
fi
if [ "$metrics" = 1 ]; then
  curl -fsS "http://127.0.0.1:$http_port/metrics" | python3 "$QUIRE_ROOT/bench/metrics_summary.py"
fi
kill -TERM "$serve_pid"; wait "$serve_pid" || true; serve_pid=
[ "$submit_only" = 1 ] && exit 0

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
