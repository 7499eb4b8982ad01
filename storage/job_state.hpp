// quire::storage — THE job state machine. The one place a reader finds the states and the legal
// transitions. PostgreSQL enforces the same machine (migrations/0001_jobs.sql: CHECK constraints
// plus the `quire_job_transition` trigger, which refuses any status change not listed here,
// even one typed by hand in psql); tests/pg/test_job_transitions.cpp checks that the two agree.
//
//   submit:  (new) → queued
//   queued   ─claim→ running ─complete→ succeeded
//                    running ─fail_final | rescue_final→ failed
//                    running ─fail_retry | release | rescue→ queued   (retry, drain, lost worker)
//   queued | running ─cancel→ canceled
//   succeeded | failed | canceled ─expire→ expired   (retention; the row becomes a tombstone)
//
// - queued:    waiting; claimable once next_attempt_at has passed (retry backoff).
// - running:   exactly one lease holder (lease_owner, lease_expires_at, attempt = fencing token).
// - succeeded: result size + sha256 recorded; files in the data root.
// - failed:    error code/message/retryable recorded; no more attempts.
// - canceled:  by the client (queued or running); a late complete/fail is discarded.
// - expired:   retention removed the files; the row is a tombstone so the API can answer
//              `job_expired` instead of `job_not_found`. Removed for good after the tombstone TTL.
#pragma once

#include <array>
#include <optional>
#include <string_view>

namespace quire::storage {

enum class job_status { queued, running, succeeded, failed, canceled, expired };

std::string_view to_string(job_status s);                      // "queued", ...
std::optional<job_status> parse_job_status(std::string_view s);  // inverse of to_string

// succeeded, failed, canceled, expired: no worker will touch the job again.
constexpr bool is_terminal(job_status s) {
  return s == job_status::succeeded || s == job_status::failed || s == job_status::canceled ||
         s == job_status::expired;
}

// The operations that change a job's status. Lease-holder operations (renew, progress) keep the
// status and are therefore not listed; they are legal only in `running` with the caller's lease.
enum class transition {
  claim,        // queued    → running    coordinator, FOR UPDATE SKIP LOCKED
  complete,     // running   → succeeded  lease holder only
  fail_retry,   // running   → queued     lease holder; retryable error, attempts left (backoff)
  fail_final,   // running   → failed     lease holder; non-retryable, or attempts exhausted
  release,      // running   → queued     lease holder hands the job back (drain); attempt not spent
  rescue,       // running   → queued     anyone, only once the lease has expired (attempts left)
  rescue_final, // running   → failed     anyone, lease expired and attempts exhausted
  cancel_queued,   // queued  → canceled
  cancel_running,  // running → canceled  the lease holder learns it from renew/complete (job_canceled)
  expire,       // succeeded|failed|canceled → expired   retention sweeper
};

struct transition_rule {
  transition op;
  job_status from;
  job_status to;
  bool needs_lease;  // only the current lease holder (owner + attempt) may apply it
};

// Every legal status change. Anything else is illegal (and refused by the database too).
inline constexpr std::array<transition_rule, 12> legal_transitions{{
    {transition::claim, job_status::queued, job_status::running, false},
    {transition::complete, job_status::running, job_status::succeeded, true},
    {transition::fail_retry, job_status::running, job_status::queued, true},
    {transition::fail_final, job_status::running, job_status::failed, true},
    {transition::release, job_status::running, job_status::queued, true},
    {transition::rescue, job_status::running, job_status::queued, false},
    {transition::rescue_final, job_status::running, job_status::failed, false},
    {transition::cancel_queued, job_status::queued, job_status::canceled, false},
    {transition::cancel_running, job_status::running, job_status::canceled, false},
    {transition::expire, job_status::succeeded, job_status::expired, false},
    {transition::expire, job_status::failed, job_status::expired, false},
    {transition::expire, job_status::canceled, job_status::expired, false},
}};

constexpr bool is_legal(job_status from, job_status to) {
  for (const auto& r : legal_transitions)
    if (r.from == from && r.to == to) return true;
  return false;
}

std::string_view to_string(transition t);  // "claim", "complete", ...

}  // namespace quire::storage
