#!/usr/bin/env bash
# Runs once, when the database volume is initialised (quire's image or the official postgres image).
# One role and one database per lane; a lane's role can reach only its own database.
# Passwords come from QUIRE_DB_PROD_PASSWORD / QUIRE_DB_EVAL_PASSWORD.
set -euo pipefail
for lane in prod eval; do
  var="QUIRE_DB_${lane^^}_PASSWORD"
  pw=${!var:-}
  [ -n "$pw" ] || { echo "10-quire-lanes: $var is not set" >&2; exit 1; }
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
