// job_store's submits: one (submit) or many in one transaction (submit_batch), each with its
// idempotency key when it has one. The input file is durable before its row is inserted; the row
// is what publishes it.
#include <fmt/core.h>

#include <algorithm>
#include <map>
#include <optional>
#include <tuple>

#include "storage/detail/job_store_impl.hpp"

namespace quire::storage {

using detail::make_error;

std::string payload_fingerprint(const nlohmann::json& spec, std::string_view input_sha256) {
  // nlohmann::json objects are std::map-backed: dump() is already canonical (sorted keys).
  std::string canonical = spec.dump();
  canonical.push_back('\n');
  canonical.append(input_sha256);
  return detail::sha256_hex(canonical);
}

void prepare_submit_statements(pqxx::connection& c) {
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
}

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

}  // namespace quire::storage
