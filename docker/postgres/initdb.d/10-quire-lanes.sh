#!/usr/bin/env bash
# Runs once, when the database volume is initialised (quire's image or the official postgres image).
# One role and one database per lane; a lane's role can reach only its own database.
# Passwords come from QUIRE_DB_PROD_PASSWORD / QUIRE_DB_EVAL_PASSWORD, or the files that
# QUIRE_DB_PROD_PASSWORD_FILE / QUIRE_DB_EVAL_PASSWORD_FILE name (Compose secrets; quire's image
# reads them in its entrypoint, the official image leaves them to this script).
set -euo pipefail
for lane in prod eval; do
  var="QUIRE_DB_${lane^^}_PASSWORD"
  file_var="${var}_FILE"
  pw=${!var:-}
  if [ -z "$pw" ] && [ -n "${!file_var:-}" ]; then
    [ -r "${!file_var}" ] || { echo "10-quire-lanes: $file_var: cannot read ${!file_var}" >&2; exit 1; }
    pw=$(cat "${!file_var}")
  fi
  [ -n "$pw" ] || { echo "10-quire-lanes: neither $var nor $file_var is set" >&2; exit 1; }
  psql -v ON_ERROR_STOP=1 -q -d postgres -v role="quire_$lane" -v pw="$pw" <<'SQL'
CREATE ROLE :"role" LOGIN PASSWORD :'pw';
CREATE DATABASE :"role" OWNER :"role";
REVOKE ALL ON DATABASE :"role" FROM PUBLIC;
GRANT ALL ON DATABASE :"role" TO :"role";
SQL
  psql -v ON_ERROR_STOP=1 -q -d "quire_$lane" -v role="quire_$lane" <<'SQL'
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
ALTER SCHEMA public OWNER TO :"role";
COMMENT ON DATABASE :"role" IS 'quire lane database';
SQL
  echo "10-quire-lanes: created role and database quire_$lane" >&2
done
