// job_store: the connection (opening, session settings, the statements every part prepares,
// mapping libpqxx's exceptions to error codes) and the calls that only ask about it: ping and the
// schema checks. Submits are in job_submit.cpp, transitions in job_transitions.cpp, reads and
// retention in job_queries.cpp.
#include <fmt/core.h>

#include "storage/detail/connect_options.hpp"
#include "storage/detail/job_store_impl.hpp"
#include "storage/detail/migrator_impl.hpp"

namespace quire::storage {

using detail::make_error;

namespace {

// Statements prepared once per connection: each file prepares those it runs; these are shared.
void prepare_all(pqxx::connection& c) {
  prepare_submit_statements(c);
  prepare_transition_statements(c);
  c.prepare("get_job", "SELECT " + job_columns() + ", " + webhooks_column() + " FROM jobs WHERE id = $1 AND profile = $2");
  c.prepare("announce", "SELECT pg_notify('quire_work', $1)");
}

}  // namespace

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

void job_store::announce_work() {
  std::lock_guard lock(impl_->mutex);
  if (impl_->conn && impl_->conn->is_open()) storage::announce_work(*impl_->conn, impl_->opts.profile);
}

}  // namespace quire::storage
