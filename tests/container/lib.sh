# Helpers for the container tests (sourced by run.sh after scripts/lib/{common,docker}.sh).
# shellcheck shell=bash

fail() { log "ASSERTION FAILED: $*"; return 1; }
assert_eq() { [ "$1" = "$2" ] || fail "${3:-values differ}: expected '$2', got '$1'"; }

# api LANE METHOD PATH [curl args...]: prints "BODY\nHTTP_CODE".
api() {
  local lane=$1 method=$2 path=$3; shift 3
  curl -sS --max-time 60 -X "$method" -H "X-API-Key: $(api_key "$lane")" -w '\n%{http_code}' "$@" \
    "$(lane_url "$lane")$path"
}
body_of() { printf '%s\n' "${1%$'\n'*}"; }
code_of() { printf '%s\n' "${1##*$'\n'}"; }

# submit LANE PDF [extra curl args]: prints the job id (202 or 200 expected).
submit() {
  local lane=$1 pdf=$2 r code; shift 2
  r=$(api "$lane" POST /v1/convert/jobs -F "file=@$pdf;type=application/pdf" "$@") || return 1
  code=$(code_of "$r")
  [ "$code" = 202 ] || [ "$code" = 200 ] || { fail "submit to $lane answered $code: $(body_of "$r")"; return 1; }
  body_of "$r" | jq -r .job.job_id
}

# job_status LANE ID: the job's status ("" when the API does not answer).
job_status() {
  local r
  r=$(api "$1" GET "/v1/convert/jobs/$2" 2>/dev/null) || { echo ""; return 0; }
  [ "$(code_of "$r")" = 200 ] || { echo ""; return 0; }
  body_of "$r" | jq -r '.job.status // empty'
}

# wait_terminal LANE TIMEOUT ID...: waits until every job is succeeded|failed|canceled; fails on timeout.
wait_terminal() {
  local lane=$1 timeout=$2 t0 id st pending; shift 2
  t0=$(date +%s)
  while :; do
    pending=0
    for id in "$@"; do
      st=$(job_status "$lane" "$id")
      case $st in succeeded|failed|canceled) ;; *) pending=$((pending + 1)) ;; esac
    done
    [ "$pending" = 0 ] && return 0
    [ $(( $(date +%s) - t0 )) -lt "$timeout" ] || { fail "$pending job(s) on $lane not finished after ${timeout}s"; return 1; }
    sleep 2
  done
}

# markdown_sha LANE ID: sha256 of the job's Markdown as served.
markdown_sha() {
  curl -sS --fail --max-time 30 -H "X-API-Key: $(api_key "$1")" "$(lane_url "$1")/v1/convert/jobs/$2/result/markdown" \
    | sha256sum | cut -d' ' -f1
}

# assert_results LANE FILE WHAT: every "ID SHA" line of FILE is served with that sha256. A request
# refused while the lane reconnects (after a restart) is retried for up to 60 s; a wrong result is not.
assert_results() {
  local lane=$1 file=$2 what=$3 id sha got t0
  while read -r id sha; do
    t0=$(date +%s)
    while ! got=$(curl -sS --fail --max-time 30 -H "X-API-Key: $(api_key "$lane")" \
        "$(lane_url "$lane")/v1/convert/jobs/$id/result/markdown" | sha256sum | cut -d' ' -f1) \
        || [ "$got" = e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855 ]; do
      [ $(( $(date +%s) - t0 )) -lt 60 ] || { fail "the result of $id is not served $what"; return 1; }
      sleep 2
    done
    assert_eq "$got" "$sha" "result of $id $what"
  done <"$file"
}

# sql LANE QUERY: runs QUERY in the lane database (superuser), tab-separated rows.
sql() { dc exec -T db psql -U postgres -d "quire_$1" -AtF $'\t' -v ON_ERROR_STOP=1 -c "$2" | tr -d '\r'; }

# make_pdf OUT PAGES: a text PDF of PAGES pages (10 distinct pages, repeated), slow enough to
# convert that a crash can catch it in flight.
make_pdf() {
  local out=$1 pages=$2 dir i l files=()
  dir=$(mktemp -d /tmp/quire-ct-pdf.XXXXXX)
  for i in $(seq 0 9); do
    {
      printf '%%%%MediaBox 0 0 612 792\n%%%%Font F1 Helvetica-Bold\n%%%%Font F2 Helvetica\n'
      printf 'BT /F1 16 Tf 72 740 Td (Section %d of the persistence test) Tj ET\n' "$i"
      printf 'BT /F2 10 Tf 72 715 Td 12 TL\n'
      for l in $(seq 1 50); do
        printf '(Line %d of section %d: quire keeps every accepted job across crashes and restarts.) Tj T*\n' "$l" "$i"
      done
      printf 'ET\n'
    } >"$dir/page$i.txt"
  done
  for i in $(seq 1 "$pages"); do files+=("page$((i % 10)).txt"); done
  (cd "$dir" && mutool create -o "$out" "${files[@]}")
  rm -rf "$dir"
}

# main_pid SERVICE: the host pid of the container's main process.
main_pid() { dk inspect -f '{{.State.Pid}}' "$(container_id "$1")"; }
restart_count() { dk inspect -f '{{.RestartCount}}' "$(container_id "$1")"; }

# compose_spec_validate FILE...: validates compose files against the Compose Specification JSON
# schema (what Compose v2 implements; only docker-compose 1.29 is installable here) with the pinned
# validator in tests/container/compose-schema, installed by `npm ci` into a cache dir on first use.
# Returns 0 valid, 1 invalid or broken, 3 when the validator cannot be installed because the npm
# registry is unreachable (the caller reports that as SKIPPED, never as a pass).
compose_spec_validate() {
  local src=$QUIRE_ROOT/tests/container/compose-schema
  local dir=${XDG_CACHE_HOME:-$HOME/.cache}/quire/compose-schema
  if [ ! -d "$dir/node_modules" ] || ! cmp -s "$src/package-lock.json" "$dir/package-lock.json"; then
    if ! command -v node >/dev/null || ! command -v npm >/dev/null; then ensure_packages nodejs npm; fi
    rm -rf "$dir"; mkdir -p "$dir"
    cp "$src/package.json" "$src/package-lock.json" "$dir/"
    if ! (cd "$dir" && timeout 300 npm ci --no-audit --no-fund --ignore-scripts >&2); then
      rm -rf "$dir"
      if ! timeout 30 npm ping >/dev/null 2>&1; then return 3; fi
      log "npm ci of the compose schema validator failed with the registry reachable"
      return 1
    fi
  fi
  NODE_PATH=$dir/node_modules node "$src/validate.js" "$@" >&2
}
