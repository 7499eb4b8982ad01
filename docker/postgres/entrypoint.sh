#!/usr/bin/env bash
# Entrypoint of the quire PostgreSQL image. On an empty $PGDATA: initdb (scram-sha-256 for TCP),
# start a private socket-only server, run /docker-entrypoint-initdb.d/*.sh|*.sql once, stop it.
# Then exec the server in the foreground as the postgres user. Root only drops privileges.
set -euo pipefail

: "${PGDATA:=/var/lib/postgresql/data}"
: "${POSTGRES_USER:=postgres}"
: "${POSTGRES_DB:=$POSTGRES_USER}"
export PGDATA POSTGRES_USER POSTGRES_DB

log() { printf 'quire-postgres: %s\n' "$*" >&2; }

if [ "${1:-postgres}" != postgres ]; then exec "$@"; fi

# Passwords arrive as files (Compose secrets, docker/compose.yaml: VAR_FILE=/run/secrets/…), so no
# password is part of the container's configuration (`docker inspect`). Read here, in the root phase
# (the files may be readable by root only); the values live on in this process's environment until
# initialisation is done, never in the server's.
for var in POSTGRES_PASSWORD QUIRE_DB_PROD_PASSWORD QUIRE_DB_EVAL_PASSWORD; do
  file_var=${var}_FILE
  [ -n "${!file_var:-}" ] || continue
  [ -z "${!var:-}" ] || { log "both $var and $file_var are set; set one"; exit 1; }
  [ -r "${!file_var}" ] || { log "$file_var: cannot read ${!file_var}"; exit 1; }
  export "$var=$(cat "${!file_var}")"
  unset "$file_var"
done

if [ "$(id -u)" = 0 ]; then
  mkdir -p "$PGDATA" /var/run/postgresql
  chown postgres:postgres "$PGDATA" /var/run/postgresql
  chmod 700 "$PGDATA"
  # setpriv execs (runuser would stay as PID 1 and not pass SIGINT on: an unclean shutdown).
  exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" "$@"
fi

if [ ! -s "$PGDATA/PG_VERSION" ]; then
  if [ -z "${POSTGRES_PASSWORD:-}" ]; then
    log "POSTGRES_PASSWORD must be set to initialise an empty data directory"; exit 1
  fi
  if [ -n "$(ls -A "$PGDATA" 2>/dev/null)" ]; then
    log "$PGDATA is not empty but has no PG_VERSION: refusing to initialise over it"; exit 1
  fi
  log "initialising an empty data directory in $PGDATA"
  pwfile=$(mktemp)
  printf '%s\n' "$POSTGRES_PASSWORD" >"$pwfile"
  # shellcheck disable=SC2086  # POSTGRES_INITDB_ARGS is a word list, as in the official image
  initdb -D "$PGDATA" -U "$POSTGRES_USER" --pwfile="$pwfile" --auth-local=trust --auth-host=scram-sha-256 \
    --encoding=UTF8 --locale=en_US.UTF-8 ${POSTGRES_INITDB_ARGS:-} >/dev/null
  rm -f "$pwfile"
  {
    echo "host all all 0.0.0.0/0 scram-sha-256"
    echo "host all all ::/0 scram-sha-256"
  } >>"$PGDATA/pg_hba.conf"
  printf "listen_addresses = '*'\n" >>"$PGDATA/postgresql.auto.conf"
  pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -k /var/run/postgresql" -w -t 60 start >/dev/null
  export PGHOST=/var/run/postgresql PGUSER=$POSTGRES_USER
  if [ "$POSTGRES_DB" != postgres ]; then
    psql -v ON_ERROR_STOP=1 -d postgres -q -c "CREATE DATABASE \"$POSTGRES_DB\""
  fi
  for f in /docker-entrypoint-initdb.d/*; do
    [ -e "$f" ] || continue
    case $f in
      *.sh) log "running $f"; bash "$f" ;;
      *.sql) log "running $f"; psql -v ON_ERROR_STOP=1 -d "$POSTGRES_DB" -q -f "$f" ;;
      *) log "ignoring $f" ;;
    esac
  done
  pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
  unset PGHOST PGUSER
  log "initialisation complete"
fi

unset POSTGRES_PASSWORD QUIRE_DB_PROD_PASSWORD QUIRE_DB_EVAL_PASSWORD
exec postgres -D "$PGDATA" "${@:2}"
