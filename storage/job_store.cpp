// job_store: connection handling, submit (with idempotency) and every status transition.
// Each transition is ONE UPDATE whose WHERE clause checks the current status (and the lease);
// when it matches no row, classify() reads the row to say why (not found, canceled, lease lost…).
#include <fmt/core.h>

#include <algorithm>
#include <map>
#include <optional>
#include <tuple>

#include "storage/job_store_impl.hpp"
#include "storage/migrator_impl.hpp"

namespace quire::storage {

using detail::make_error;

namespace {

// Retry backoff in milliseconds for the attempt just spent: base·2^(attempt-1), capped, ±20 %
// jitter so a burst of failures does not come back as a burst. $B = base ms, $M = max ms.
std::string backoff_sql(const char* base, const char* max) {
  return fmt::format("(quire_now() + least({}::float8 * power(2, greatest(attempt - 1, 0)), {}::float8)"
                     " * (0.8 + random() * 0.4) * interval '1 millisecond')",
                     base, max);
}

// claim and rescue are planned on every call, not prepared. A prepared statement's generic plan
// is built after its first few runs and kept until the next ANALYZE of jobs; built while the queue
// was empty (a fresh lane at start-up), it joins the claimed row back through the whole
// queued-jobs index: every claim then reads the entire queue (4-15 ms per claim with 40,000 queued
// in the API benchmark, against 0.2 ms with a fresh plan). Planning costs ~0.2 ms per call.
const std::string& claim_sql() {
  // MATERIALIZED: the locking subquery must run exactly once. Inlined into a join it can be
  // rescanned, and every rescan with SKIP LOCKED picks more rows than LIMIT.
  static const std::string sql =
      "WITH c AS MATERIALIZED ("
      "  SELECT id FROM jobs WHERE status = 'queued' AND profile = $3 AND next_attempt_at <= quire_now()"
      "  ORDER BY priority DESC, created_at, id LIMIT $4 FOR UPDATE SKIP LOCKED)"
      " UPDATE jobs j SET status = 'running', attempt = j.attempt + 1, lease_owner = $1,"
      " lease_expires_at = quire_now() + $2::int8 * interval '1 millisecond', heartbeat_at = quire_now(),"
      " started_at = quire_now(), updated_at = quire_now(), status_reason = 'claimed', pages_done = 0"
      " FROM c WHERE j.id = c.id AND j.status = 'queued' RETURNING " + job_columns("j.");
  return sql;
}

// Running jobs back to queued (or failed when out of attempts): those whose lease expired, or
// (by_owner) every one leased to the owner $6, expired or not.
std::string rescue_sql(bool by_owner) {
  static const std::string retry = "(j.attempt < j.max_attempts)";
  return
      "WITH c AS MATERIALIZED ("
      "  SELECT id FROM jobs WHERE status = 'running' AND profile = $1 AND " +
      std::string(by_owner ? "lease_owner = $6" : "lease_expires_at < quire_now()") +
      "  ORDER BY lease_expires_at LIMIT $2 FOR UPDATE SKIP LOCKED)"
      " UPDATE jobs j SET status = CASE WHEN " + retry + " THEN 'queued' ELSE 'failed' END,"
      " next_attempt_at = CASE WHEN " + retry + " THEN " + backoff_sql("$3", "$4") + " ELSE j.next_attempt_at END,"
      " finished_at = CASE WHEN " + retry + " THEN NULL ELSE quire_now() END,"
      " expires_at = CASE WHEN " + retry + " THEN NULL ELSE quire_now() + $5::int8 * interval '1 second' END,"
      " status_reason = 'lease_expired', error_code = 'lease_expired',"
      " error_message = format('lease of %s expired during attempt %s', j.lease_owner, j.attempt),"
      " error_retryable = true, updated_at = quire_now(),"
      " lease_owner = NULL, lease_expires_at = NULL, heartbeat_at = NULL"
      " FROM c WHERE j.id = c.id AND j.status = 'running' RETURNING j.id";
}

// Statements prepared once per connection.
void prepare_all(pqxx::connection& c) {
  const std::string cols = job_columns();
  c.prepare("insert_job",
            "INSERT INTO jobs (id, profile, spec, api_key_id, source_filename, input_bytes, input_sha256,"
            " priority, max_attempts, pinned) VALUES ($1, $2, $3::jsonb, $4, $5, $6, $7, $8, $9, $10)"
            " RETURNING " + cols);
  // Many submits in one statement: the batch arrives as a JSON array of rows (submit_batch). The
  // caller has the specs: the rows come back without theirs.
  c.prepare("insert_jobs",
            "INSERT INTO jobs (id, profile, spec, api_key_id, source_filename, input_bytes, input_sha256,"
            " priority, max_attempts, pinned)"
            " SELECT x.id, $2, x.spec, x.api_key_id, x.source_filename, x.input_bytes, x.input_sha256,"
            " x.priority, x.max_attempts, x.pinned FROM jsonb_to_recordset($1::jsonb) AS x(id text, spec jsonb,"
            " api_key_id text, source_filename text, input_bytes int8, input_sha256 text, priority int4,"
            " max_attempts int4, pinned bool) RETURNING " + job_columns("", spec_column::without));
  c.prepare("find_key",
            "SELECT job_id, fingerprint FROM idempotency_keys"
            " WHERE api_key_id = $1 AND key = $2 AND expires_at > quire_now()");
  c.prepare("drop_expired_key",
            "DELETE FROM idempotency_keys WHERE api_key_id = $1 AND key = $2 AND expires_at <= quire_now()");
  c.prepare("insert_key",
            "INSERT INTO idempotency_keys (api_key_id, key, fingerprint, job_id, created_at, expires_at)"
            " VALUES ($1, $2, $3, $4, quire_now(), quire_now() + $5::int8 * interval '1 second')"
            " ON CONFLICT DO NOTHING RETURNING job_id");
  c.prepare("get_job", "SELECT " + cols + ", " + webhooks_column() + " FROM jobs WHERE id = $1 AND profile = $2");
  c.prepare("announce", "SELECT pg_notify('quire_work', $1)");
  c.prepare("classify", "SELECT status, lease_owner, attempt FROM jobs WHERE id = $1 AND profile = $2");
  const char* lease_match = " WHERE id = $1 AND profile = $4 AND status = 'running' AND lease_owner = $2 AND attempt = $3";
  c.prepare("renew",
            std::string("UPDATE jobs SET lease_expires_at = quire_now() + $5::int8 * interval '1 millisecond',"
                        " heartbeat_at = quire_now(), updated_at = quire_now()") +
                lease_match + " RETURNING " QUIRE_US("lease_expires_at"));
  c.prepare("progress",
            std::string("UPDATE jobs SET lease_expires_at = quire_now() + $5::int8 * interval '1 millisecond',"
                        " heartbeat_at = quire_now(), updated_at = quire_now(), pages_done = $6,"
                        " pages_total = coalesce(nullif($7::int4, -1), pages_total)") +
                lease_match + " RETURNING " QUIRE_US("lease_expires_at"));
  c.prepare("complete",
            std::string("UPDATE jobs SET status = 'succeeded', status_reason = 'completed', result_bytes = $5,"
                        " result_sha256 = $6, pages_total = coalesce(nullif($7::int4, -1), pages_total),"
                        " pages_done = coalesce(nullif($7::int4, -1), pages_done),"
                        " finished_at = quire_now(), expires_at = quire_now() + $8::int8 * interval '1 second',"
                        " updated_at = quire_now(), lease_owner = NULL, lease_expires_at = NULL, heartbeat_at = NULL,"
                        " error_code = NULL, error_message = NULL, error_retryable = NULL") +
                lease_match + " RETURNING " + cols);
  // retry iff retryable and attempts are left; CASE sees the row as it was before the UPDATE.
  const std::string retry = "($5::bool AND attempt < max_attempts)";
  c.prepare("fail",
            "UPDATE jobs SET status = CASE WHEN " + retry + " THEN 'queued' ELSE 'failed' END,"
            " next_attempt_at = CASE WHEN " + retry + " THEN " + backoff_sql("$8", "$9") + " ELSE next_attempt_at END,"
            " finished_at = CASE WHEN " + retry + " THEN NULL ELSE quire_now() END,"
            " expires_at = CASE WHEN " + retry + " THEN NULL ELSE quire_now() + $10::int8 * interval '1 second' END,"
            " status_reason = $6, error_code = $6, error_message = $7, error_retryable = $5,"
            " updated_at = quire_now(), lease_owner = NULL, lease_expires_at = NULL, heartbeat_at = NULL" +
            std::string(lease_match) + " RETURNING " + cols);
  c.prepare("release",
            std::string("UPDATE jobs SET status = 'queued', status_reason = $5, attempt = attempt - 1,"
                        " next_attempt_at = quire_now(), updated_at = quire_now(),"
                        " lease_owner = NULL, lease_expires_at = NULL, heartbeat_at = NULL") +
                lease_match + " RETURNING " + cols);
  c.prepare("defer",
            std::string("UPDATE jobs SET status = 'queued', status_reason = $5, attempt = attempt - 1,"
                        " next_attempt_at = quire_now() + $6::int8 * interval '1 millisecond',"
                        " error_code = $5, error_message = $7, error_retryable = true, updated_at = quire_now(),"
                        " lease_owner = NULL, lease_expires_at = NULL, heartbeat_at = NULL") +
                lease_match + " RETURNING " + cols);
  c.prepare("cancel",
            "UPDATE jobs SET status = 'canceled', status_reason = $3, finished_at = quire_now(),"
            " expires_at = quire_now() + $4::int8 * interval '1 second', updated_at = quire_now(),"
            " lease_owner = NULL, lease_expires_at = NULL, heartbeat_at = NULL"
            " WHERE id = $1 AND profile = $2 AND status IN ('queued', 'running') RETURNING " + cols);
}

// Why a lease-holder transition matched no row.
error classify_lease_failure(pqxx::work& w, const lease& l, const std::string& profile) {
  auto r = w.exec_prepared("classify", l.job_id, profile);
  if (r.empty()) return make_error(errc::job_not_found, fmt::format("no job {}", l.job_id));
  auto st = parse_job_status(r[0][0].as<std::string>()).value_or(job_status::queued);
  error e;
  if (st == job_status::canceled)
    e = make_error(errc::job_canceled, fmt::format("job {} was canceled", l.job_id));
  else if (st == job_status::expired)
    e = make_error(errc::job_expired, fmt::format("job {} has expired", l.job_id));
  else if (st == job_status::running)
    e = make_error(errc::lease_lost, fmt::format("job {} is leased to {} (attempt {}), not {} (attempt {})", l.job_id,
                                                 r[0][1].as<std::string>(""), r[0][2].as<int>(), l.owner, l.attempt));
  else
    e = make_error(errc::lease_lost, fmt::format("job {} is {}, no longer leased to {} (attempt {})", l.job_id,
                                                 to_string(st), l.owner, l.attempt));
  e.current_status = st;
  return e;
}

std::int64_t ms(std::chrono::milliseconds d) { return static_cast<std::int64_t>(d.count()); }
std::int64_t secs(std::chrono::seconds d) { return static_cast<std::int64_t>(d.count()); }

status validate_lease(const lease& l) {
  if (!is_valid_job_id(l.job_id)) return make_error(errc::job_not_found, "malformed job id");
  if (l.owner.empty() || l.attempt < 1) return make_error(errc::invalid_argument, "lease needs an owner and attempt");
  return ok_v;
}

// Wakes idle coordinators (work_listener) after a commit that made a job claimable. Sent as its
// own autocommit statement, never inside the writing transaction: there, NOTIFY's database-wide
// lock is held through the WAL flush and serialises all committing writers. Best effort: the
// job is already durable, and listeners also wake on a timeout, so a lost NOTIFY only delays.
void announce_work(pqxx::connection& c, const std::string& profile) {
  try {
    pqxx::nontransaction n(c);
    n.exec_prepared("announce", profile);
  } catch (const std::exception&) {
    // A broken connection is noticed (and replaced) by the next call.
  }
}

}  // namespace

// ---------------------------------------------------------------------------------------------
void job_store::impl::connect() {
  conn.reset();
  auto c = std::make_unique<pqxx::connection>(detail::with_connect_options(
      opts.database_url, static_cast<int>(opts.connect_timeout.count())));
  // The session setup below is bounded like any call: a server can stop answering right after
  // accepting the connection.
  auto watch = detail::call_watchdog::arm(c->sock(), call_limit());
  {
    pqxx::nontransaction n(*c);
    n.exec(fmt::format("SET statement_timeout = {}; SET lock_timeout = {}", opts.statement_timeout.count(),
                       opts.lock_timeout.count()));
  }
  prepare_all(*c);
  if (pinned_clock) {
    pqxx::nontransaction n(*c);
    n.exec_params("SELECT set_config('quire.now', $1, false)", *pinned_clock);
  }
  conn = std::move(c);
}

error job_store::impl::map_exception(const std::exception& e) {
  // A server restart or pg_terminate_backend() surfaces as a broken connection or as an SQL error
  // (admin_shutdown) after which the connection is closed: both mean "unreachable, retry".
  if (dynamic_cast<const pqxx::broken_connection*>(&e) != nullptr ||
      dynamic_cast<const pqxx::in_doubt_error*>(&e) != nullptr || (conn && !conn->is_open())) {
    conn.reset();  // reconnect on the next call
    auto err = make_error(errc::database_unreachable, e.what());
    err.outcome_unknown = dynamic_cast<const pqxx::in_doubt_error*>(&e) != nullptr;
    return err;
  }
  // Timeouts, a full connection table, a server shutting down: the database cannot serve us now
  // (the connection, when still open, stays usable after a timeout).
  if (const auto* sql = dynamic_cast<const pqxx::sql_error*>(&e)) {
    const std::string state = sql->sqlstate();  // 57014 statement_timeout, 55P03 lock_not_available
    if (state == "57014" || state == "55P03" || state == "53300" || state.rfind("57P0", 0) == 0)
      return make_error(errc::database_unreachable, fmt::format("database busy or going away: {}", e.what()));
  }
  // The schema is missing or older than this binary (statements are prepared lazily, so this
  // shows up at first use): the same readiness reason as check_schema().
  if (dynamic_cast<const pqxx::undefined_table*>(&e) != nullptr ||
      dynamic_cast<const pqxx::undefined_column*>(&e) != nullptr ||
      dynamic_cast<const pqxx::undefined_function*>(&e) != nullptr)
    return make_error(errc::schema_version_mismatch, fmt::format("schema does not match: {}", e.what()));
  if (dynamic_cast<const pqxx::integrity_constraint_violation*>(&e) != nullptr)
    return make_error(errc::invalid_argument, fmt::format("rejected by the schema: {}", e.what()));
  if (dynamic_cast<const pqxx::data_exception*>(&e) != nullptr)
    return make_error(errc::invalid_argument, fmt::format("invalid value: {}", e.what()));
  return make_error(errc::internal, fmt::format("database error: {}", e.what()));
}

job_store::job_store(std::unique_ptr<impl> p) : impl_(std::move(p)) {}
job_store::~job_store() = default;

result<std::unique_ptr<job_store>> job_store::open(const store_options& opts) {
  if (opts.profile.empty()) return make_error(errc::invalid_argument, "store_options.profile is empty");
  auto p = std::make_unique<impl>();
  p->opts = opts;
  try {
    p->connect();
  } catch (const pqxx::broken_connection& e) {
    return make_error(errc::database_unreachable, e.what());
  } catch (const pqxx::sql_error& e) {
    // Preparing fails when the tables do not exist yet: the schema is not migrated.
    return make_error(errc::schema_version_mismatch, fmt::format("cannot prepare statements: {}", e.what()));
  } catch (const std::exception& e) {
    return make_error(errc::database_unreachable, e.what());
  }
  return std::unique_ptr<job_store>(new job_store(std::move(p)));
}

const store_options& job_store::options() const { return impl_->opts; }

status job_store::ping() {
  // Short: readiness must notice a server that stopped answering within its check period.
  return impl_->run<ok_t>(
      [](pqxx::connection& c) -> status {
        pqxx::nontransaction n(c);
        n.exec("SELECT 1");
        return ok_v;
      },
      impl_->opts.ping_timeout);
}

status job_store::check_schema() {
  return impl_->run<ok_t>([](pqxx::connection& c) { return storage::check_schema(c, embedded_migrations()); });
}

status job_store::check_deployment() {
  return impl_->run<ok_t>([this](pqxx::connection& c) { return storage::check_deployment(c, impl_->opts.profile); });
}

status job_store::bind_deployment() {
  return impl_->run<ok_t>([this](pqxx::connection& c) { return storage::bind_deployment(c, impl_->opts.profile); });
}

// ---------------------------------------------------------------------------------------------
namespace {

status validate_submit(const submit_request& req) {
  if (!is_valid_job_id(req.id)) return make_error(errc::invalid_argument, "submit: malformed job id");
  if (req.input_sha256.size() != 64) return make_error(errc::invalid_argument, "submit: input_sha256 must be hex sha256");
  if (!req.spec.is_object()) return make_error(errc::invalid_argument, "submit: spec must be a JSON object");
  if (req.idempotency_key && (req.idempotency_key->empty() || req.idempotency_key->size() > 255))
    return make_error(errc::invalid_argument, "submit: idempotency key must be 1..255 characters");
  return ok_v;
}

// Appends one request as an element of the bulk INSERT's JSON array (after a comma unless it is
// the first), written directly rather than built as a JSON tree per row and dumped. nlohmann
// escapes each string and throws on text that is not UTF-8; then `out` is left as it was.
void append_bulk_row(std::string& out, bool first, const submit_request& r) {
  const auto mark = out.size();
  try {
    auto text = [&](const std::string& s) { out += nlohmann::json(s).dump(); };
    out += first ? "{\"id\":" : ",{\"id\":";
    text(r.id);
    out += ",\"spec\":";
    out += r.spec.dump();
    out += ",\"api_key_id\":";
    text(r.api_key_id);
    out += ",\"source_filename\":";
    text(r.source_filename);
    out += ",\"input_sha256\":";
    text(r.input_sha256);
    out += fmt::format(",\"input_bytes\":{},\"priority\":{},\"max_attempts\":{},\"pinned\":{}}}", r.input_bytes,
                       r.priority, r.max_attempts, r.pinned);
  } catch (const nlohmann::json::exception&) {
    out.resize(mark);
    throw;
  }
}

pqxx::result insert_one(pqxx::transaction_base& w, const submit_request& req, const std::string& profile) {
  return w.exec_prepared("insert_job", req.id, profile, req.spec.dump(), req.api_key_id, req.source_filename,
                         static_cast<std::int64_t>(req.input_bytes), req.input_sha256, req.priority,
                         req.max_attempts, req.pinned);
}

// One keyed submit inside `w`. nullopt: our key insert met a concurrent insert of the same key
// (which has committed by now): the caller rolls back what this round did and tries again.
std::optional<result<submit_result>> keyed_round(pqxx::transaction_base& w, const submit_request& req,
                                                 const store_options& o, const std::string& fp) {
  auto k = w.exec_prepared("find_key", req.api_key_id, *req.idempotency_key);
  if (!k.empty()) {
    if (k[0][1].as<std::string>() != fp)
      return result<submit_result>(
          make_error(errc::idempotency_conflict, "Idempotency-Key was already used with a different payload"));
    auto j = w.exec_prepared("get_job", k[0][0].as<std::string>(), o.profile);
    if (j.empty()) return result<submit_result>(make_error(errc::internal, "idempotency key points to a job of another profile"));
    return result<submit_result>(submit_result{parse_job(j[0]), true});
  }
  w.exec_prepared("drop_expired_key", req.api_key_id, *req.idempotency_key);
  auto r = insert_one(w, req, o.profile);
  auto ins = w.exec_prepared("insert_key", req.api_key_id, *req.idempotency_key, fp, req.id, secs(o.idempotency_ttl));
  if (ins.empty()) return std::nullopt;
  return result<submit_result>(submit_result{parse_job(r[0]), false});
}

// A savepoint on `w`, rolled back unless release() is called. Plain SQL rather than
// pqxx::subtransaction: libpqxx 6.4 does not roll a subtransaction back after a failed statement,
// which leaves the whole batch's transaction aborted.
class savepoint {
 public:
  explicit savepoint(pqxx::transaction_base& w) : w_(w) { w_.exec0("SAVEPOINT quire_submit"); }
  ~savepoint() {
    if (open_) {
      try {
        w_.exec0("ROLLBACK TO SAVEPOINT quire_submit");
      } catch (const std::exception&) {
        // The connection broke: the outer transaction fails at its next statement.
      }
    }
  }
  savepoint(const savepoint&) = delete;
  savepoint& operator=(const savepoint&) = delete;
  void release() {
    w_.exec0("RELEASE SAVEPOINT quire_submit");
    open_ = false;
  }
  void rollback() {
    w_.exec0("ROLLBACK TO SAVEPOINT quire_submit");
    open_ = false;
  }

 private:
  pqxx::transaction_base& w_;
  bool open_ = true;
};

bool connection_lost(const std::exception& e) {
  return dynamic_cast<const pqxx::broken_connection*>(&e) != nullptr ||
         dynamic_cast<const pqxx::in_doubt_error*>(&e) != nullptr;
}

// A statement or lock timeout: retrying the batch's requests one by one would only wait again.
bool timed_out(const pqxx::sql_error& e) { return e.sqlstate() == "57014" || e.sqlstate() == "55P03"; }

}  // namespace

result<submit_result> job_store::submit(const submit_request& req) {
  if (auto v = validate_submit(req); !v) return v.err();
  const auto& o = impl_->opts;
  return impl_->run<submit_result>([&](pqxx::connection& c) -> result<submit_result> {
    if (!req.idempotency_key) {
      pqxx::work w(c);
      auto r = insert_one(w, req, o.profile);
      w.commit();
      storage::announce_work(c, o.profile);
      return submit_result{parse_job(r[0]), false};
    }
    const auto fp = payload_fingerprint(req.spec, req.input_sha256);
    // A concurrent submit with the same key makes our key insert find a conflict: then the
    // other one has committed, and the next round sees its key as a replay or a conflict.
    for (int round = 0; round < 3; ++round) {
      pqxx::work w(c);
      auto res = keyed_round(w, req, o, fp);
      if (!res) {
        w.abort();
        continue;
      }
      if (*res && !(*res)->replayed) {
        w.commit();
        storage::announce_work(c, o.profile);
      } else {
        w.commit();  // read-only: a replay or a conflict
      }
      return std::move(*res);
    }
    return make_error(errc::internal, "submit: idempotency key kept changing under us");
  });
}

void job_store::announce_work() {
  std::lock_guard lock(impl_->mutex);
  if (impl_->conn && impl_->conn->is_open()) storage::announce_work(*impl_->conn, impl_->opts.profile);
}

result<std::vector<result<submit_result>>> job_store::submit_batch(std::vector<submit_request> reqs,
                                                                   bool announce) {
  using one = result<submit_result>;
  std::vector<std::optional<one>> out(reqs.size());
  std::vector<std::size_t> plain, single, keyed;
  // The bulk INSERT's parameter. Text that is not UTF-8 cannot travel as JSON: such a row goes on
  // its own (single) instead.
  std::string bulk = "[";
  for (std::size_t i = 0; i < reqs.size(); ++i) {
    const auto& r = reqs[i];
    if (auto v = validate_submit(r); !v) {
      out[i] = one(v.err());
      continue;
    }
    if (r.idempotency_key) {
      keyed.push_back(i);
      continue;
    }
    try {
      append_bulk_row(bulk, plain.empty(), r);
      plain.push_back(i);
    } catch (const nlohmann::json::exception&) {
      single.push_back(i);
    }
  }
  bulk += ']';
  // Keys in a stable order, so two batches that share keys take their locks in the same order.
  std::sort(keyed.begin(), keyed.end(), [&](std::size_t a, std::size_t b) {
    const auto ka = std::tie(reqs[a].api_key_id, reqs[a].idempotency_key);
    const auto kb = std::tie(reqs[b].api_key_id, reqs[b].idempotency_key);
    return ka != kb ? ka < kb : a < b;
  });
  const auto& o = impl_->opts;
  // The rows the bulk INSERT returned (without their specs), matched to their requests. Such a
  // request is answered and not used again, so its spec moves into its record.
  auto take_bulk = [&](const pqxx::result& r) {
    std::map<std::string, std::size_t> at;
    for (auto i : plain) at.emplace(reqs[i].id, i);
    for (const auto& row : r) {
      auto job = parse_job(row);
      auto it = at.find(job.id);
      if (it == at.end()) continue;
      job.spec = std::move(reqs[it->second].spec);
      out[it->second] = one(submit_result{std::move(job), false});
    }
  };
  auto done = impl_->run<ok_t>([&](pqxx::connection& c) -> status {
    if (!plain.empty() && single.empty() && keyed.empty()) {
      // The usual batch, plain submits only: the one statement is the whole transaction, run in
      // autocommit. That saves BEGIN, SAVEPOINT, RELEASE and COMMIT: four round trips, each a
      // wake-up of the backend and of this thread, per batch.
      std::optional<pqxx::result> r;
      try {
        pqxx::nontransaction n(c);
        r = n.exec_prepared("insert_jobs", bulk, o.profile);
      } catch (const pqxx::broken_connection& e) {
        // The statement may have committed before the connection broke: nobody may be told it
        // did not (its inputs must stay), nor that it did.
        throw pqxx::in_doubt_error(e.what());
      } catch (const pqxx::sql_error& e) {
        if (connection_lost(e) || timed_out(e) || !c.is_open()) throw;
        // A row the schema refuses failed the statement, and nothing was inserted: each request
        // goes on its own below, so only the bad one fails.
      }
      if (r) {
        take_bulk(*r);
        if (announce && !r->empty()) storage::announce_work(c, o.profile);
        return ok_v;
      }
      single = std::move(plain);
      plain.clear();
    }
    bool inserted = false;
    pqxx::work w(c);
    if (!plain.empty()) {
      // One statement for every request without a key; the event rows come from the trigger. In
      // a savepoint: a row the schema refuses (e.g. max_attempts out of range) fails the
      // statement, and then each of these requests goes on its own below.
      try {
        savepoint sp(w);
        auto r = w.exec_prepared("insert_jobs", bulk, o.profile);
        sp.release();
        take_bulk(r);
        inserted = !r.empty();
      } catch (const pqxx::sql_error& e) {
        if (connection_lost(e) || timed_out(e) || !c.is_open()) throw;
        single.insert(single.end(), plain.begin(), plain.end());
      }
    }
    for (auto i : single) {
      try {
        savepoint sp(w);
        auto r = insert_one(w, reqs[i], o.profile);
        sp.release();
        out[i] = one(submit_result{parse_job(r[0]), false});
        inserted = true;
      } catch (const pqxx::sql_error& e) {
        if (connection_lost(e) || timed_out(e) || !c.is_open()) throw;
        out[i] = one(impl_->map_exception(e));
      }
    }
    // Each keyed request in its own savepoint: a conflict, a replay or a refused row affects only
    // that request, exactly as a submit of its own would.
    for (auto i : keyed) {
      const auto& req = reqs[i];
      const auto fp = payload_fingerprint(req.spec, req.input_sha256);
      for (int round = 0; round < 3 && !out[i]; ++round) {
        try {
          savepoint sp(w);
          auto res = keyed_round(w, req, o, fp);
          if (!res) {
            sp.rollback();
            continue;
          }
          sp.release();
          if (*res && !(*res)->replayed) inserted = true;
          out[i] = std::move(*res);
        } catch (const pqxx::sql_error& e) {
          if (connection_lost(e) || timed_out(e) || !c.is_open()) throw;
          out[i] = one(impl_->map_exception(e));
        }
      }
      if (!out[i]) out[i] = one(make_error(errc::internal, "submit: idempotency key kept changing under us"));
    }
    w.commit();  // if this throws, no request of the batch was accepted (run() maps the error)
    if (announce && inserted) storage::announce_work(c, o.profile);  // one NOTIFY for the whole batch
    return ok_v;
  });
  if (!done) return done.err();
  std::vector<one> results;
  results.reserve(reqs.size());
  for (auto& r : out) results.push_back(r ? std::move(*r) : one(make_error(errc::internal, "submit: no row returned")));
  return results;
}

result<std::vector<claimed_job>> job_store::claim(const std::string& owner, int n, std::chrono::milliseconds lease_for) {
  if (owner.empty() || n < 1 || lease_for.count() <= 0)
    return make_error(errc::invalid_argument, "claim: need an owner, n >= 1 and a positive lease");
  return impl_->run<std::vector<claimed_job>>([&](pqxx::connection& c) -> result<std::vector<claimed_job>> {
    pqxx::work w(c);
    auto r = w.exec_params(claim_sql(), owner, ms(lease_for), impl_->opts.profile, n);
    w.commit();
    std::vector<claimed_job> out;
    out.reserve(r.size());
    for (const auto& row : r) {
      claimed_job cj;
      cj.job = parse_job(row);
      cj.lease = lease{cj.job.id, owner, cj.job.attempt, cj.job.lease_expires_at.value_or(time_point{})};
      out.push_back(std::move(cj));
    }
    // RETURNING order is unspecified: hand jobs out in claim order.
    std::sort(out.begin(), out.end(), [](const claimed_job& a, const claimed_job& b) {
      if (a.job.priority != b.job.priority) return a.job.priority > b.job.priority;
      if (a.job.created_at != b.job.created_at) return a.job.created_at < b.job.created_at;
      return a.job.id < b.job.id;
    });
    return out;
  });
}

result<lease> job_store::renew(const lease& l, std::chrono::milliseconds lease_for) {
  return progress(l, -1, std::nullopt, lease_for);
}

result<lease> job_store::progress(const lease& l, int pages_done, std::optional<int> pages_total,
                                  std::chrono::milliseconds lease_for) {
  if (auto v = validate_lease(l); !v) return v.err();
  if (lease_for.count() <= 0) return make_error(errc::invalid_argument, "lease duration must be positive");
  if (pages_total && *pages_total < 0) return make_error(errc::invalid_argument, "pages_total < 0");
  return impl_->run<lease>([&](pqxx::connection& c) -> result<lease> {
    pqxx::work w(c);
    pqxx::result r =
        pages_done < 0 ? w.exec_prepared("renew", l.job_id, l.owner, l.attempt, impl_->opts.profile, ms(lease_for))
                       : w.exec_prepared("progress", l.job_id, l.owner, l.attempt, impl_->opts.profile, ms(lease_for),
                                         pages_done, pages_total.value_or(-1));
    if (r.empty()) return classify_lease_failure(w, l, impl_->opts.profile);
    w.commit();
    lease out = l;
    out.expires_at = from_us(r[0][0].as<std::int64_t>());
    return out;
  });
}

result<job_record> job_store::complete(const lease& l, const completion& cmp) {
  if (auto v = validate_lease(l); !v) return v.err();
  if (cmp.result_bytes < 0 || cmp.result_sha256.size() != 64)
    return make_error(errc::invalid_argument, "complete: need result size and sha256");
  return impl_->run<job_record>([&](pqxx::connection& c) -> result<job_record> {
    pqxx::work w(c);
    auto r = w.exec_prepared("complete", l.job_id, l.owner, l.attempt, impl_->opts.profile,
                             static_cast<std::int64_t>(cmp.result_bytes), cmp.result_sha256,
                             cmp.pages_total.value_or(-1), secs(impl_->opts.result_ttl));
    if (r.empty()) return classify_lease_failure(w, l, impl_->opts.profile);
    w.commit();
    return parse_job(r[0]);
  });
}

result<job_record> job_store::fail(const lease& l, const job_error_info& e) {
  if (auto v = validate_lease(l); !v) return v.err();
  if (e.code.empty()) return make_error(errc::invalid_argument, "fail: error code is empty");
  const auto& o = impl_->opts;
  return impl_->run<job_record>([&](pqxx::connection& c) -> result<job_record> {
    pqxx::work w(c);
    auto r = w.exec_prepared("fail", l.job_id, l.owner, l.attempt, o.profile, e.retryable, e.code, e.message,
                             ms(o.backoff_base), ms(o.backoff_max), secs(o.result_ttl));
    if (r.empty()) return classify_lease_failure(w, l, o.profile);
    w.commit();
    auto job = parse_job(r[0]);
    if (job.status == job_status::queued) storage::announce_work(c, o.profile);
    return job;
  });
}

result<job_record> job_store::release(const lease& l, std::string_view reason) {
  if (auto v = validate_lease(l); !v) return v.err();
  return impl_->run<job_record>([&](pqxx::connection& c) -> result<job_record> {
    pqxx::work w(c);
    auto r = w.exec_prepared("release", l.job_id, l.owner, l.attempt, impl_->opts.profile,
                             std::string(reason.empty() ? "released" : reason));
    if (r.empty()) return classify_lease_failure(w, l, impl_->opts.profile);
    w.commit();
    storage::announce_work(c, impl_->opts.profile);
    return parse_job(r[0]);
  });
}

result<job_record> job_store::defer(const lease& l, const job_error_info& e, std::chrono::milliseconds delay) {
  if (auto v = validate_lease(l); !v) return v.err();
  if (e.code.empty()) return make_error(errc::invalid_argument, "defer: error code is empty");
  if (delay.count() < 0) return make_error(errc::invalid_argument, "defer: delay < 0");
  return impl_->run<job_record>([&](pqxx::connection& c) -> result<job_record> {
    pqxx::work w(c);
    auto r = w.exec_prepared("defer", l.job_id, l.owner, l.attempt, impl_->opts.profile, e.code, ms(delay), e.message);
    if (r.empty()) return classify_lease_failure(w, l, impl_->opts.profile);
    w.commit();
    return parse_job(r[0]);  // not announced: it is not claimable yet (listeners poll)
  });
}

result<job_record> job_store::cancel(const std::string& id, std::string_view reason) {
  if (!is_valid_job_id(id)) return make_error(errc::job_not_found, "malformed job id");
  return impl_->run<job_record>([&](pqxx::connection& c) -> result<job_record> {
    pqxx::work w(c);
    auto r = w.exec_prepared("cancel", id, impl_->opts.profile, std::string(reason.empty() ? "canceled" : reason),
                             secs(impl_->opts.result_ttl));
    if (!r.empty()) {
      w.commit();
      return parse_job(r[0]);
    }
    auto k = w.exec_prepared("classify", id, impl_->opts.profile);
    if (k.empty()) return make_error(errc::job_not_found, fmt::format("no job {}", id));
    auto st = parse_job_status(k[0][0].as<std::string>()).value_or(job_status::queued);
    error e = st == job_status::expired
                  ? make_error(errc::job_expired, fmt::format("job {} has expired", id))
                  : make_error(errc::illegal_transition, fmt::format("job {} is already {}", id, to_string(st)));
    e.current_status = st;
    return e;
  });
}

result<std::vector<std::string>> job_store::rescue_expired(int limit) {
  if (limit < 1) return make_error(errc::invalid_argument, "rescue_expired: limit < 1");
  const auto& o = impl_->opts;
  return impl_->run<std::vector<std::string>>([&](pqxx::connection& c) -> result<std::vector<std::string>> {
    pqxx::work w(c);
    static const std::string sql = rescue_sql(false);
    auto r = w.exec_params(sql, o.profile, limit, ms(o.backoff_base), ms(o.backoff_max), secs(o.result_ttl));
    w.commit();
    if (!r.empty()) storage::announce_work(c, o.profile);
    std::vector<std::string> ids;
    for (const auto& row : r) ids.push_back(row[0].as<std::string>());
    return ids;
  });
}

result<std::vector<std::string>> job_store::rescue_owned_by(const std::string& owner, int limit) {
  if (limit < 1 || owner.empty()) return make_error(errc::invalid_argument, "rescue_owned_by: need an owner and limit >= 1");
  const auto& o = impl_->opts;
  return impl_->run<std::vector<std::string>>([&](pqxx::connection& c) -> result<std::vector<std::string>> {
    pqxx::work w(c);
    static const std::string sql = rescue_sql(true);
    auto r = w.exec_params(sql, o.profile, limit, ms(o.backoff_base), ms(o.backoff_max), secs(o.result_ttl), owner);
    w.commit();
    if (!r.empty()) storage::announce_work(c, o.profile);
    std::vector<std::string> ids;
    for (const auto& row : r) ids.push_back(row[0].as<std::string>());
    return ids;
  });
}

result<std::vector<std::string>> job_store::running_lease_owners() {
  const auto& o = impl_->opts;
  return impl_->run<std::vector<std::string>>([&](pqxx::connection& c) -> result<std::vector<std::string>> {
    pqxx::nontransaction n(c);
    auto r = n.exec_params("SELECT DISTINCT lease_owner FROM jobs WHERE status = 'running' AND profile = $1"
                           " AND lease_owner IS NOT NULL LIMIT 1000",
                           o.profile);
    std::vector<std::string> owners;
    for (const auto& row : r) owners.push_back(row[0].as<std::string>());
    return owners;
  });
}

}  // namespace quire::storage
