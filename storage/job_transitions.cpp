// job_store's status transitions: claim, the lease-holder calls (renew, progress, complete, fail,
// release, defer), cancel and the rescue of expired or orphaned leases. Each transition is ONE
// UPDATE whose WHERE clause checks the current status (and the lease); when it matches no row,
// classify_lease_failure() reads the row to say why (not found, canceled, lease lost…).
#include <fmt/core.h>

#include <algorithm>

#include "storage/detail/job_store_impl.hpp"

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
  e.state = std::string(to_string(st));
  return e;
}

status validate_lease(const lease& l) {
  if (!is_valid_job_id(l.job_id)) return make_error(errc::job_not_found, "malformed job id");
  if (l.owner.empty() || l.attempt < 1) return make_error(errc::invalid_argument, "lease needs an owner and attempt");
  return ok_v;
}

}  // namespace

void prepare_transition_statements(pqxx::connection& c) {
  const std::string cols = job_columns();
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
    e.state = std::string(to_string(st));
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
