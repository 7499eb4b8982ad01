// quire::storage::job_store — the durable job repository (PostgreSQL via libpqxx 6.4).
//
// PostgreSQL is the source of truth for job state. Every status change is ONE SQL statement
// that checks the current status (and the lease, where it matters) and reports whether it
// applied; the states and legal transitions are in storage/job_state.hpp; CHECK constraints and
// a trigger in migrations/ make illegal rows impossible; a trigger writes every transition to
// `job_events` (the audit trail, see docs/storage.md for the psql views).
//
// Threading: every method is blocking. One job_store owns one connection guarded by a mutex, so
// an instance is safe to share between threads but serialises them; for parallel database work
// open one store per detached actor. A broken connection makes the call return
// errc::database_unreachable and the next call reconnects. A transition whose COMMIT was lost
// with the connection may or may not have applied: re-read with get() before retrying.
//
// Time: all timestamps come from the database clock (SQL `quire_now()`, which is `now()` unless
// the test hook set_clock_for_testing() pinned it), so replicas agree and retention tests run
// without sleeping.
//
// Typical use:
//   auto store = job_store::open({.database_url = url, .profile = "prod"});
//   if (!store) ... store.err().code ...
//   auto id = new_job_id();                       // write <data_root>/inputs/<id[0:2]>/<id>.pdf first
//   auto sub = (*store)->submit({.id = id, ...}); // then commit the row; then answer 202
//   auto leases = (*store)->claim("host-1/pid-7/conv-0", 1, 5min);
//   (*store)->complete(leases->front().lease, {.result_bytes = n, .result_sha256 = h});
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "storage/error.hpp"
#include "storage/job_id.hpp"
#include "storage/job_record.hpp"
#include "storage/job_state.hpp"

namespace quire::storage {

// sha256 (lowercase hex) of the canonical job spec (nlohmann dump: sorted keys, no spaces) + "\n"
// + the input's sha256. Two submits are "the same payload" iff their fingerprints are equal.
std::string payload_fingerprint(const nlohmann::json& spec, std::string_view input_sha256);

struct store_options {
  std::string database_url;           // libpq URL or key=value string
  std::string profile;                // "prod" | "eval": jobs are submitted and claimed per profile
  std::chrono::seconds idempotency_ttl{std::chrono::hours(24)};
  // Retry backoff after a retryable failure or a rescue: base * 2^(attempt-1), capped, +-20 % jitter.
  std::chrono::milliseconds backoff_base{std::chrono::seconds(5)};
  std::chrono::milliseconds backoff_max{std::chrono::minutes(10)};
  // How long a finished job's result is kept; stamped into expires_at when the job finishes
  // (what clients are told). Set it from the same setting as retention_policy::result_ttl: the
  // sweep expires a job at the EARLIER of expires_at and finished_at + policy.result_ttl.
  std::chrono::seconds result_ttl{std::chrono::hours(24 * 7)};
  // Bounds on every wait for the database: a silent server, a locked table or a full connection
  // slot table fails the call with database_unreachable instead of holding the caller (an HTTP
  // handler thread, a converter) indefinitely. Applied to every connection the store opens.
  std::chrono::seconds connect_timeout{5};
  std::chrono::milliseconds statement_timeout{std::chrono::seconds(15)};
  std::chrono::milliseconds lock_timeout{std::chrono::seconds(5)};
  // Client-side bound on one call (all its statements), for a server that stopped answering and
  // so enforces none of the above (detail/call_watchdog.hpp): the socket is shut down, the call fails
  // with database_unreachable. 0: statement_timeout + 2 s. ping() uses ping_timeout.
  std::chrono::milliseconds call_timeout{0};
  std::chrono::milliseconds ping_timeout{std::chrono::seconds(2)};
};

// What a claim hands out and every lease-holder call must present. (owner, attempt) is the
// fencing token: a worker that lost its lease cannot act on a later attempt of the same job.
struct lease {
  std::string job_id;
  std::string owner;
  int attempt = 0;
  time_point expires_at;
};

struct claimed_job {
  struct lease lease;
  job_record job;
};

struct submit_request {
  std::string id;                          // from new_job_id(); its input file is already durable
  std::string api_key_id;                  // "" for anonymous; scopes the idempotency key
  std::optional<std::string> idempotency_key;
  nlohmann::json spec = nlohmann::json::object();  // validated job spec
  std::string source_filename;
  std::int64_t input_bytes = 0;
  std::string input_sha256;                // lowercase hex
  int priority = 0;                        // higher first
  int max_attempts = 3;                    // 1..100
  bool pinned = false;                     // never swept by retention
};

struct submit_result {
  job_record job;
  // true: the idempotency key was seen with the same payload; job is the ORIGINAL job and the
  // request's id was not used (the caller should delete the input it wrote for that id).
  bool replayed = false;
};

struct completion {
  std::int64_t result_bytes = 0;
  std::string result_sha256;
  std::optional<int> pages_total;
};

struct job_filter {
  std::vector<job_status> statuses;        // empty = all
  std::optional<std::string> api_key_id;   // only jobs of this submitter
  std::optional<time_point> created_after, created_before;
};

struct job_page {
  std::vector<job_record> jobs;            // newest first (created_at DESC, id DESC)
  std::optional<std::string> next_cursor;  // opaque; absent on the last page
};

struct job_event {
  std::int64_t seq = 0;
  std::string job_id;
  time_point at;
  std::optional<job_status> from;          // absent for the submit event
  job_status to = job_status::queued;
  int attempt = 0;
  std::optional<std::string> worker;
  std::string reason;                      // "submitted", "claimed", "lease_expired", error code, ...
};

struct job_counts {
  std::map<job_status, std::int64_t> by_status;  // every status present, zero when none
  std::int64_t leases_expired = 0;               // running jobs whose lease has run out
  double oldest_queued_age_seconds = 0;          // 0 when nothing is queued
};

enum class webhook_state { pending, delivered, failed };
std::string_view to_string(webhook_state s);  // "pending", "delivered", "failed"

// One claimed webhook delivery: the event and the job as its transition left it.
struct webhook_delivery {
  std::string id;              // the Standard Webhooks webhook-id: "msg_<job id>_<status>"
  std::string event;           // "job.succeeded", "job.failed", "job.canceled", "job.expired"
  std::string url;             // the job's notify.url
  std::string api_key_id;      // who submitted the job
  time_point created_at;       // when the event happened
  int attempt = 0;             // this attempt's number (1 = first); fences its outcome
  job_record job;              // snapshot taken by the trigger, in the same transaction
};

struct retention_policy {
  std::chrono::seconds input_ttl{std::chrono::hours(24)};          // raw input after finish
  std::chrono::seconds result_ttl{std::chrono::hours(24 * 7)};     // result + manifest after finish
  std::chrono::seconds tombstone_ttl{std::chrono::hours(24 * 30)}; // expired row after finish
};

// One bounded sweep batch. The database side is done (rows updated/deleted, committed); the
// caller deletes the files listed (idempotent; a crash here leaves files that reconciliation
// removes later). Safe to run from several replicas at once (FOR UPDATE SKIP LOCKED).
struct sweep_batch {
  std::vector<std::string> inputs_to_delete;  // terminal jobs past input_ttl: delete input.pdf
  std::vector<std::string> jobs_expired;      // now tombstones: delete the whole job directory
  std::int64_t tombstones_deleted = 0;        // rows removed for good (their dirs are long gone)
  std::int64_t idempotency_keys_deleted = 0;
  bool more = false;                          // a limit was hit: call again
};

class job_store {
 public:
  static result<std::unique_ptr<job_store>> open(const store_options& opts);
  ~job_store();
  job_store(const job_store&) = delete;
  job_store& operator=(const job_store&) = delete;

  const store_options& options() const;

  // ---- readiness ----
  status ping();                      // SELECT 1 (database_unreachable)
  status check_schema();              // schema_version_mismatch / database_ahead
  status check_deployment();          // database_profile_mismatch / database_unbound
  status bind_deployment();           // first start: record our profile; later: same as check

  // ---- lifecycle ----
  // Inserts the job as queued (and the idempotency key, in the same transaction). Replay of the
  // same key + payload within idempotency_ttl returns the original job (replayed = true); the
  // same key with another payload is errc::idempotency_conflict.
  result<submit_result> submit(const submit_request& req);
  // Group commit: every request in ONE transaction (one WAL flush, one NOTIFY), requests without
  // an idempotency key in one INSERT. Each request gets the answer submit() would have given it
  // (replay, idempotency_conflict, invalid_argument ...); requests that share an idempotency key
  // are decided as consecutive submits in their order. The outer error means the batch as a whole failed
  // (connection lost, COMMIT refused): then no request of it was accepted. announce = false leaves
  // the NOTIFY to the caller (announce_work()), e.g. after it has answered its clients. Takes the
  // requests by value: an accepted job's record gets its request's spec moved into it.
  result<std::vector<result<submit_result>>> submit_batch(std::vector<submit_request> reqs,
                                                          bool announce = true);
  // NOTIFY quire_work for this profile (what submit does after its commit): wakes the coordinators
  // of every replica. Best effort: a failure is noticed by the next call.
  void announce_work();

  // Claims up to n queued jobs whose next_attempt_at has passed, highest priority then oldest
  // first; each becomes running with attempt+1 and a lease of `lease_for`. Never blocks on rows
  // another claimer holds (SKIP LOCKED). Empty vector: nothing to do (see work_listener).
  result<std::vector<claimed_job>> claim(const std::string& owner, int n,
                                         std::chrono::milliseconds lease_for);

  // Lease-holder calls. Errors: lease_lost (another attempt/owner, or no longer running),
  // job_canceled (stop the worker), job_not_found. renew/progress also move heartbeat_at.
  result<lease> renew(const lease& l, std::chrono::milliseconds lease_for);
  result<lease> progress(const lease& l, int pages_done, std::optional<int> pages_total,
                         std::chrono::milliseconds lease_for);
  result<job_record> complete(const lease& l, const completion& c);
  // retryable && attempt < max_attempts → queued with backoff; otherwise → failed.
  result<job_record> fail(const lease& l, const job_error_info& e);
  // Drain hand-back: → queued, claimable at once, attempt decremented (not spent). Give each
  // coordinator process a unique owner name: the fencing token is (owner, attempt).
  result<job_record> release(const lease& l, std::string_view reason);
  // Environmental hand-back: → queued, attempt NOT spent (as release), but claimable only after
  // `delay`, with `e` recorded as the job's last error. For failures that say nothing about the
  // document and will outlast a few quick retries — a full data root (storage_full): retrying at
  // once would spend every attempt and fail an accepted job for want of disk space.
  result<job_record> defer(const lease& l, const job_error_info& e, std::chrono::milliseconds delay);

  // queued|running → canceled. illegal_transition when already finished (error::state names the
  // status; current_status() reads it).
  result<job_record> cancel(const std::string& id, std::string_view reason);

  // Running jobs whose lease expired: back to queued (with backoff) or failed (`lease_expired`)
  // when attempts are exhausted. Returns the ids moved. Bounded by `limit`.
  result<std::vector<std::string>> rescue_expired(int limit = 1000);
  // The same for every running job leased to `owner`, expired or not: a replica that restarted
  // hands back what its previous incarnation held instead of waiting out the leases.
  result<std::vector<std::string>> rescue_owned_by(const std::string& owner, int limit = 1000);
  // The distinct lease owners of this profile's running jobs.
  result<std::vector<std::string>> running_lease_owners();

  // ---- reads ----
  result<job_record> get(const std::string& id);  // expired rows are returned (status expired)
  result<job_page> list(const job_filter& f, int limit, const std::optional<std::string>& cursor);
  result<std::vector<job_event>> events(const std::string& id);
  // Every status, by a scan of this profile's jobs: its cost grows with the table (finished jobs
  // and tombstones are kept for weeks), so nothing periodic and latency-bound should call it.
  result<job_counts> counts();
  // Queued and running only (by_status has just those two), with expired leases and the oldest
  // queued job's age: read through the partial indexes on queued and running jobs, so the cost
  // follows the jobs waiting or running, not the size of the table. For the readiness check.
  result<job_counts> active_counts();
  // Queued plus running jobs of one submitter (through jobs_key_active_idx), for the per-key cap.
  result<std::int64_t> active_jobs_of(const std::string& api_key_id);
  // Ids among `ids` that have a row (any status) and whether each is a tombstone; for
  // reconciliation of the data root. Missing ids are absent from the map.
  result<std::map<std::string, job_status>> statuses_of(const std::vector<std::string>& ids);
  // Ids among `ids` of finished jobs whose input the sweeper has marked deleted (input_deleted):
  // an input file still on disk for one of them is left over from an interrupted sweep.
  result<std::vector<std::string>> inputs_swept(const std::vector<std::string>& ids);
  // Succeeded jobs (id, result_sha256) for artifact verification, keyset-paged by id.
  result<std::vector<std::pair<std::string, std::string>>> succeeded_after(const std::string& after_id,
                                                                           int limit);

  // ---- retention ----
  result<sweep_batch> sweep(const retention_policy& p, int batch = 500);

  // ---- webhook outbox (migrations/0005_webhook_outbox.sql; delivered by notify/) ----
  // The trigger jobs_webhook writes one row per terminal event of a job with notify.url, in the
  // transition's own transaction. These calls are the delivery side.
  // Claims up to n due pending deliveries of this profile (SKIP LOCKED: replicas share them):
  // each gets attempts + 1 and is not due again for `hold` (the attempt's time bound plus a
  // margin), so one that a crashed replica was sending is sent again afterwards.
  result<std::vector<webhook_delivery>> claim_webhooks(int n, std::chrono::milliseconds hold);
  // The outcome of a claimed attempt. Fenced by (id, attempt): a late report of an attempt that
  // was superseded changes nothing (false). `http_status` 0: no HTTP answer.
  result<bool> webhook_delivered(const webhook_delivery& d, int http_status);
  // Not delivered: due again after `retry_in`, or given up (state failed) once the event is older
  // than `give_up_after`. Returns the new state.
  result<webhook_state> webhook_failed(const webhook_delivery& d, int http_status, const std::string& why,
                                       std::chrono::milliseconds retry_in, std::chrono::seconds give_up_after);
  // Pending deliveries of this profile, and how old the oldest is (seconds; 0 when none).
  result<std::pair<std::int64_t, double>> webhook_backlog();
  // Removes delivered and given-up rows finished before `keep` ago (bounded); returns how many.
  result<std::int64_t> prune_webhooks(std::chrono::seconds keep, int limit = 1000);

  // ---- testing ----
  // Pins quire_now() on this store's connection (nullopt: back to the real clock).
  status set_clock_for_testing(std::optional<time_point> now);

 private:
  struct impl;
  explicit job_store(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

// Not thread-safe: one listener per waiting actor/thread.
// Wakes idle coordinators when work arrives (LISTEN quire_work; a NOTIFY follows every
// commit that makes a job of the profile claimable: submit, retry, release, rescue; sent by
// job_store right after its commit). Owns its own connection.
class work_listener {
 public:
  static result<std::unique_ptr<work_listener>> open(const std::string& database_url,
                                                     const std::string& profile);
  ~work_listener();
  // true: work was announced (or the connection was re-established: claim anyway); false: timeout.
  // Also wake up periodically regardless: retries in backoff are not announced when they mature.
  result<bool> wait(std::chrono::milliseconds timeout);

 private:
  struct impl;
  explicit work_listener(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

}  // namespace quire::storage
