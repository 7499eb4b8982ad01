// Private to quire_storage_pg: the state shared by the files job_store is made of: job_store.cpp
// (the connection), job_submit.cpp, job_transitions.cpp, job_queries.cpp (reads, retention) and
// webhook_outbox.cpp.
#pragma once

#include <mutex>
#include <pqxx/pqxx>

#include "storage/detail/call_watchdog.hpp"
#include "storage/detail/internal.hpp"
#include "storage/job_store.hpp"

namespace quire::storage {

// Timestamps cross the wire as integer microseconds since the epoch: exact, and no timezone or
// text-format parsing on either side.
#define QUIRE_US(col) "(extract(epoch FROM " col ") * 1000000)::int8"
#define QUIRE_TS(param) "(timestamptz 'epoch' + (" param ")::int8 * interval '1 microsecond')"

struct job_store::impl {
  store_options opts;
  std::mutex mutex;                          // one statement at a time on the connection
  std::unique_ptr<pqxx::connection> conn;    // null after a broken connection: reconnect lazily
  std::optional<std::string> pinned_clock;   // quire.now for tests, re-applied on reconnect

  // Runs fn(connection) under the mutex, (re)connecting first; maps exceptions to errors. The
  // call is cut off (database_unreachable) after `limit` (0: call_limit()) of silence.
  template <class T, class F>
  result<T> run(F&& fn, std::chrono::milliseconds limit = {});
  std::chrono::milliseconds call_limit() const {
    return opts.call_timeout.count() > 0 ? opts.call_timeout : opts.statement_timeout + std::chrono::seconds(2);
  }
  error map_exception(const std::exception& e);
  void connect();                            // throws
};

// SELECT list of a job row (optionally qualified, e.g. "j.") and its parser. Without the spec:
// NULL in its place (parse_job then leaves job_record::spec an empty object), for a caller that
// has the spec already and need not have PostgreSQL print it and this process parse it again.
enum class spec_column { with, without };
std::string job_columns(const char* qualifier = "", spec_column spec = spec_column::with);
inline constexpr int kJobColumnCount = 30;  // columns job_columns() selects
// The delivery state of a job's webhooks as a JSON text column (job_record::webhooks), for a
// statement that selects FROM jobs (webhook_outbox.cpp).
std::string webhooks_column();
job_record parse_job(const pqxx::row& r);
time_point from_us(std::int64_t us);
std::int64_t to_us(time_point t);
inline std::int64_t ms(std::chrono::milliseconds d) { return static_cast<std::int64_t>(d.count()); }
inline std::int64_t secs(std::chrono::seconds d) { return static_cast<std::int64_t>(d.count()); }

// Statements prepared once per connection (job_store::impl::connect), each by the file that runs them.
void prepare_submit_statements(pqxx::connection& c);      // job_submit.cpp
void prepare_transition_statements(pqxx::connection& c);  // job_transitions.cpp
// NOTIFY the profile's listeners that work is claimable, after the commit (job_store.cpp).
void announce_work(pqxx::connection& c, const std::string& profile);

template <class T, class F>
result<T> job_store::impl::run(F&& fn, std::chrono::milliseconds limit) {
  std::lock_guard lock(mutex);
  try {
    if (!conn || !conn->is_open() || detail::idle_connection_closed(conn->sock())) connect();
    auto watch = detail::call_watchdog::arm(conn->sock(), limit.count() > 0 ? limit : call_limit());
    try {
      return fn(*conn);
    } catch (const std::exception& e) {
      if (!watch.fired()) throw;
      conn.reset();
      return detail::make_error(errc::database_unreachable,
                        "the database did not answer within " + std::to_string((limit.count() > 0 ? limit : call_limit()).count()) +
                            " ms (connection closed): " + e.what());
    }
  } catch (const std::exception& e) {
    return map_exception(e);
  }
}

}  // namespace quire::storage
