# A throwaway PostgreSQL 15 for tests: its own data dir, a loopback port and a socket dir.
# shellcheck shell=bash

PG_BIN=/usr/lib/postgresql/15/bin

# pg_start DIR PORT: initialise (if needed) and start; exports QUIRE_TEST_DATABASE_URL.
# PG_EXTRA_OPTS: more server options (bench/api_bench.sh --pg-stats loads pg_stat_statements).
pg_start() {
  local dir=$1 port=$2
  mkdir -p "$dir/sock"
  chmod 777 "$dir" "$dir/sock"
  local run=()
  [ "$(id -u)" -eq 0 ] && { chown -R postgres:postgres "$dir"; run=(runuser -u postgres --); }
  if [ ! -f "$dir/data/PG_VERSION" ]; then
    "${run[@]}" "$PG_BIN/initdb" -D "$dir/data" -A trust -U quire >"$dir/initdb.log" 2>&1 \
      || { cat "$dir/initdb.log" >&2; return 1; }
  fi
  "${run[@]}" "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
    -o "-p $port -k $dir/sock -c listen_addresses=127.0.0.1 -c fsync=on -c max_connections=200 ${PG_EXTRA_OPTS:-}" start >/dev/null \
    || { cat "$dir/server.log" >&2; return 1; }
  export QUIRE_TEST_DATABASE_URL="postgresql://quire@127.0.0.1:$port/postgres"
  export QUIRE_TEST_PG_DIR=$dir QUIRE_TEST_PG_PORT=$port
}

# pg_stop DIR: fast shutdown (no-op when not running).
pg_stop() {
  local dir=$1 run=()
  [ -f "$dir/data/postmaster.pid" ] || return 0
  [ "$(id -u)" -eq 0 ] && run=(runuser -u postgres --)
  "${run[@]}" "$PG_BIN/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
}
