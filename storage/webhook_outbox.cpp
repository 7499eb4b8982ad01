// job_store: the delivery side of the webhook outbox (migrations/0005_webhook_outbox.sql). Rows
// are written by the jobs_webhook trigger; these calls claim, settle and prune them. Every
// statement is planned per call (exec_params): they run a few times a second at most.
#include <fmt/core.h>

#include "storage/detail/job_store_impl.hpp"

namespace quire::storage {

using detail::make_error;

std::string_view to_string(webhook_state s) {
  switch (s) {
    case webhook_state::pending: return "pending";
    case webhook_state::delivered: return "delivered";
    case webhook_state::failed: return "failed";
  }
  return "pending";
}

namespace {

// The job snapshot comes back through jsonb_populate_record, so parse_job() reads it exactly as
// it reads a live row.
const std::string& claim_webhooks_sql() {
  static const std::string sql =
      "WITH c AS MATERIALIZED ("
      "  SELECT id FROM webhook_deliveries WHERE state = 'pending' AND profile = $1"
      "  AND next_attempt_at <= quire_now() ORDER BY next_attempt_at LIMIT $2 FOR UPDATE SKIP LOCKED),"
      " u AS (UPDATE webhook_deliveries d SET attempts = d.attempts + 1, last_attempt_at = quire_now(),"
      "  next_attempt_at = quire_now() + $3::int8 * interval '1 millisecond'"
      "  FROM c WHERE d.id = c.id AND d.state = 'pending'"
      "  RETURNING d.id, d.event, d.url, d.api_key_id, d.created_at, d.attempts, d.job)"
      " SELECT " + job_columns("j.") + ", u.id, u.event, u.url, u.api_key_id, " QUIRE_US("u.created_at") ", u.attempts"
      " FROM u, jsonb_populate_record(NULL::jobs, u.job) j ORDER BY u.created_at, u.id";
  return sql;
}
}  // namespace

// The delivery state GET /v1/convert/jobs/{id} shows (job_record::webhooks), as one column of
// the get_job statement; timestamps in the API's format.
std::string webhooks_column() {
  auto ts = [](const char* col) {
    return fmt::format("to_char({} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')", col);
  };
  return fmt::format(
      "CASE WHEN jobs.spec ? 'notify' THEN coalesce((SELECT jsonb_agg(jsonb_build_object('webhook_id', d.id, 'event', d.event, 'state', d.state,"
      " 'attempts', d.attempts, 'last_attempt_at', {}, 'next_attempt_at',"
      " CASE WHEN d.state = 'pending' THEN {} END, 'last_status', d.last_status, 'last_error', d.last_error,"
      " 'finished_at', {}) ORDER BY d.created_at, d.id) FROM webhook_deliveries d WHERE d.job_id = jobs.id), '[]')::text END",
      ts("d.last_attempt_at"), ts("d.next_attempt_at"), ts("d.finished_at"));
}

result<std::vector<webhook_delivery>> job_store::claim_webhooks(int n, std::chrono::milliseconds hold) {
  if (n < 1 || hold.count() <= 0) return make_error(errc::invalid_argument, "claim_webhooks: need n >= 1 and a hold");
  return impl_->run<std::vector<webhook_delivery>>([&](pqxx::connection& c) -> result<std::vector<webhook_delivery>> {
    pqxx::work w(c);
    auto r = w.exec_params(claim_webhooks_sql(), impl_->opts.profile, n, ms(hold));
    w.commit();
    std::vector<webhook_delivery> out;
    out.reserve(r.size());
    for (const auto& row : r) {
      webhook_delivery d;
      d.job = parse_job(row);  // the job columns come first
      const auto k = kJobColumnCount;
      d.id = row[k].as<std::string>();
      d.event = row[k + 1].as<std::string>();
      d.url = row[k + 2].as<std::string>();
      d.api_key_id = row[k + 3].as<std::string>();
      d.created_at = from_us(row[k + 4].as<std::int64_t>());
      d.attempt = row[k + 5].as<int>();
      out.push_back(std::move(d));
    }
    return out;
  });
}

result<bool> job_store::webhook_delivered(const webhook_delivery& d, int http_status) {
  return impl_->run<bool>([&](pqxx::connection& c) -> result<bool> {
    pqxx::work w(c);
    auto r = w.exec_params(
        "UPDATE webhook_deliveries SET state = 'delivered', finished_at = quire_now(), last_status = $3,"
        " last_error = NULL WHERE id = $1 AND attempts = $2 AND state = 'pending' RETURNING id",
        d.id, d.attempt, http_status);
    w.commit();
    return !r.empty();
  });
}

result<webhook_state> job_store::webhook_failed(const webhook_delivery& d, int http_status, const std::string& why,
                                                std::chrono::milliseconds retry_in, std::chrono::seconds give_up_after) {
  if (retry_in.count() < 0) return make_error(errc::invalid_argument, "webhook_failed: retry_in < 0");
  return impl_->run<webhook_state>([&](pqxx::connection& c) -> result<webhook_state> {
    pqxx::work w(c);
    // Given up when the next attempt would fall outside the retry period.
    const std::string give_up =
        "(quire_now() + $5::int8 * interval '1 millisecond' > created_at + $6::int8 * interval '1 second')";
    auto r = w.exec_params(
        "UPDATE webhook_deliveries SET last_status = nullif($3::int4, 0), last_error = left($4, 500),"
        " state = CASE WHEN " + give_up + " THEN 'failed' ELSE 'pending' END,"
        " finished_at = CASE WHEN " + give_up + " THEN quire_now() END,"
        " next_attempt_at = quire_now() + $5::int8 * interval '1 millisecond'"
        " WHERE id = $1 AND attempts = $2 AND state = 'pending' RETURNING state",
        d.id, d.attempt, http_status, why, ms(retry_in), static_cast<std::int64_t>(give_up_after.count()));
    w.commit();
    if (r.empty()) return make_error(errc::lease_lost, fmt::format("delivery {} attempt {} was superseded", d.id, d.attempt));
    return r[0][0].as<std::string>() == "failed" ? webhook_state::failed : webhook_state::pending;
  });
}

result<std::pair<std::int64_t, double>> job_store::webhook_backlog() {
  return impl_->run<std::pair<std::int64_t, double>>([&](pqxx::connection& c) -> result<std::pair<std::int64_t, double>> {
    pqxx::nontransaction n(c);
    auto r = n.exec_params1(
        "SELECT count(*), coalesce(extract(epoch FROM quire_now() - min(created_at)), 0)::float8"
        " FROM webhook_deliveries WHERE state = 'pending' AND profile = $1",
        impl_->opts.profile);
    return std::make_pair(r[0].as<std::int64_t>(), r[1].as<double>());
  });
}

result<std::int64_t> job_store::prune_webhooks(std::chrono::seconds keep, int limit) {
  if (limit < 1) return make_error(errc::invalid_argument, "prune_webhooks: limit < 1");
  return impl_->run<std::int64_t>([&](pqxx::connection& c) -> result<std::int64_t> {
    pqxx::work w(c);
    auto r = w.exec_params(
        "DELETE FROM webhook_deliveries WHERE id IN (SELECT id FROM webhook_deliveries"
        " WHERE finished_at < quire_now() - $1::int8 * interval '1 second' AND profile = $2 LIMIT $3)",
        static_cast<std::int64_t>(keep.count()), impl_->opts.profile, limit);
    w.commit();
    return static_cast<std::int64_t>(r.affected_rows());
  });
}

}  // namespace quire::storage
