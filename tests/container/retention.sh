# The retention case of the container tests (sourced by run.sh; runs last: it ages every job).
#
# Retention is measured in hours and days, so the test moves the lane's clock instead of waiting: the
# job store reads time only through quire_now(), which honours the quire.now setting (migrations/0001).
# ALTER DATABASE ... SET quire.now makes every new connection of the eval lane see a later time; the
# lane is restarted to reconnect, and its own periodic sweeper (QUIRE_SWEEP_INTERVAL_SECONDS=2 in
# run.sh) applies the default policy: raw input 24 h after finish, result 7 days, tombstone 30 days,
# pinned jobs never.
# shellcheck shell=bash

# travel DAYS: the eval lane's database clock = real time + DAYS (0 = real time); restart the lane.
travel() {
  if [ "$1" = 0 ]; then
    sql eval "ALTER DATABASE quire_eval RESET quire.now" >/dev/null
  else
    sql eval "ALTER DATABASE quire_eval SET quire.now = '$(date -u -d "+$1 days" '+%Y-%m-%d %H:%M:%S+00')'" >/dev/null
  fi
  dc restart quire-eval >&2
  wait_ready eval 120
}

# job_file ID NAME: path of the job's file NAME in the eval data root ("" when absent): its upload
# (input.pdf) is inputs/<shard>/ID.pdf, the rest is in its job directory.
job_file() {
  if [ "$2" = input.pdf ]; then
    dc exec -T quire-eval sh -c "find /data/eval/inputs -name '$1.pdf' 2>/dev/null | head -n 1" | tr -d '\r'
  else
    dc exec -T quire-eval sh -c "find /data/eval/jobs -path '*$1*' -name '$2' 2>/dev/null | head -n 1" | tr -d '\r'
  fi
}

# wait_until TIMEOUT CMD...: polls CMD every 2 s.
wait_until() {
  local timeout=$1 t0; shift
  t0=$(date +%s)
  until "$@"; do
    [ $(( $(date +%s) - t0 )) -lt "$timeout" ] || { fail "timed out after ${timeout}s: $*"; return 1; }
    sleep 2
  done
}
input_gone() { [ -z "$(job_file "$1" input.pdf)" ]; }
http_code_is() { [ "$(code_of "$(api eval GET "$1")")" = "$2" ]; }

retention_case() {
  local plain pinned sha_pinned
  plain=$(submit eval "$QUIRE_ROOT/docker/sample/sample.pdf")
  pinned=$(submit eval "$QUIRE_ROOT/docker/sample/sample.pdf" -F 'job_spec={"retention":{"pin":true}}')
  wait_terminal eval 120 "$plain" "$pinned"
  sha_pinned=$(markdown_sha eval "$pinned")
  [ -n "$(job_file "$plain" input.pdf)" ] || fail "the raw input of $plain is not in the data root"

  log "clock +2 days: raw inputs go, results stay"
  travel 2
  wait_until 60 input_gone "$plain"
  http_code_is "/v1/convert/jobs/$plain/result/markdown" 200 || fail "the result of $plain went with its input"
  [ -n "$(job_file "$pinned" input.pdf)" ] || fail "the pinned job lost its input"

  log "clock +8 days: results go, a tombstone answers job_expired"
  travel 8
  wait_until 60 http_code_is "/v1/convert/jobs/$plain/result/markdown" 410
  local r
  r=$(api eval GET "/v1/convert/jobs/$plain/result")
  assert_eq "$(body_of "$r" | jq -r .error.code)" job_expired "error code of an expired job"
  [ -z "$(job_file "$plain" result.md)" ] || fail "the result file of $plain is still in the data root"
  assert_eq "$(markdown_sha eval "$pinned")" "$sha_pinned" "pinned job after +8 days"

  log "clock +40 days: the tombstone goes, the pinned job stays"
  travel 40
  wait_until 60 http_code_is "/v1/convert/jobs/$plain" 404
  assert_eq "$(sql eval "SELECT count(*) FROM jobs WHERE id = '$plain'")" 0 "tombstone row"
  assert_eq "$(markdown_sha eval "$pinned")" "$sha_pinned" "pinned job after +40 days"

  travel 0
}
