// The database as a limited, sometimes slow resource (issue 7): its connection limit reached, and
// a table held locked. The service answers with bounded waits and clear errors, does not crash,
// and recovers when the database does.
#include <catch2/catch.hpp>

#include <pqxx/pqxx>

#include <future>
#include <random>
#include <thread>

#include "lane.hpp"

using namespace quire::systest;
using namespace std::chrono_literals;

namespace {

std::string small_pdf() { return slurp(std::string(QUIRE_SOURCE_DIR) + "/docker/sample/sample.pdf"); }
http_response upload(int port) {
  return http(port, "POST", "/v1/convert/jobs", {{"Content-Type", "application/pdf"}}, small_pdf());
}
int job_rows(const std::string& url) { return std::stoi(psql(url, "SELECT count(*) FROM jobs")); }

// A lane whose service logs in as its own non-superuser role (superusers are exempt from
// connection limits) that owns the lane's database.
struct role_lane {
  std::string admin = env_or_skip("QUIRE_TEST_DATABASE_URL");
  std::string role;
  std::string db;  // the lane's URL, as `role`
  std::string root;
  service svc;
  explicit role_lane(const std::string& name, std::map<std::string, std::string> extra)
      : role(make_role(name)), db(own_database(name)), root(temp_dir(name)), svc(lane_env(db, root)) {
    if (quire_migrate(db, "eval") != 0) throw std::runtime_error("quire migrate failed for " + db);
    for (auto& [k, v] : extra) svc.env[k] = v;
  }
  ~role_lane() {
    try {
      psql(admin, "ALTER ROLE " + role + " CONNECTION LIMIT -1");
    } catch (...) {
    }
  }
  // Every connection slot of the role taken: no new connection, and the open ones ended.
  void exhaust() {
    psql(admin, "ALTER ROLE " + role + " CONNECTION LIMIT 0");
    psql(admin, "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE usename = '" + role + "'");
  }
  void restore() { psql(admin, "ALTER ROLE " + role + " CONNECTION LIMIT -1"); }

 private:
  std::string make_role(const std::string& name) {
    static std::mt19937_64 rng{std::random_device{}()};
    std::string r = name + "_" + std::to_string(rng() % 100000000);
    psql(admin, "CREATE ROLE " + r + " LOGIN");
    return r;
  }
  std::string own_database(const std::string& name) {
    auto url = fresh_database(name);
    auto dbname = url.substr(url.rfind('/') + 1);
    psql(admin, "ALTER DATABASE " + dbname + " OWNER TO " + role);
    // postgresql://quire@host:port/db → postgresql://ROLE@host:port/db
    auto at = url.find('@'), scheme = url.find("://");
    return url.substr(0, scheme + 3) + role + url.substr(at);
  }
};

void check_unavailable(http_response r) {
  INFO(r.body);
  CHECK(r.status == 503);
  auto j = r.json();
  REQUIRE(j.is_object());
  CHECK(j["error"]["code"] == "database_unavailable");
  CHECK(j["error"]["retryable"] == true);
  CHECK(r.headers["retry-after"] == "5");
}

}  // namespace

TEST_CASE("connection limit reached: job routes answer 503 database_unavailable at once, nothing is left behind",
          "[database]") {
  // Readiness re-checks only at start here, so every request below meets the database itself.
  role_lane l("dblim_req", {{"QUIRE_READINESS_INTERVAL_SECONDS", "3600"}});
  l.svc.start();
  REQUIRE(l.svc.wait_ready(30s));
  const int port = l.svc.port();
  auto first = upload(port);
  REQUIRE(first.status == 202);
  const auto id = job_id_of(first);
  REQUIRE(l.svc.wait_job(id, {"succeeded", "failed"}, 60s).value("status", "") == "succeeded");
  const auto files_before = data_files(l.root);

  l.exhaust();
  // The pooled connection was ended, then no new one is allowed: each a clear, retryable 503.
  for (int i = 0; i < 3; ++i) {
    INFO("attempt " << i);
    check_unavailable(http(port, "GET", "/v1/convert/jobs/" + id));
  }
  check_unavailable(http(port, "GET", "/v1/convert/jobs"));
  check_unavailable(http(port, "POST", "/v1/convert/jobs/" + id + "/cancel"));
  check_unavailable(http(port, "GET", "/v1/convert/jobs/" + id + "/result"));
  check_unavailable(upload(port));  // its input file was written first, and removed again
  CHECK(data_files(l.root) == files_before);
  CHECK(http(port, "GET", "/livez").status == 200);

  l.restore();
  auto back = http(port, "GET", "/v1/convert/jobs/" + id);
  CHECK(back.status == 200);
  CHECK(upload(port).status == 202);
  CHECK(job_rows(l.db) == 2);
}

TEST_CASE("connection limit reached: readiness says database_unreachable, the lane fails closed and recovers",
          "[database]") {
  role_lane l("dblim_ready", {});
  l.svc.start();
  REQUIRE(l.svc.wait_ready(30s));
  const int port = l.svc.port();

  l.exhaust();
  auto has_db_reason = [](const nlohmann::json& j) {
    for (const auto& r : j["reasons"])
      if (r.value("code", "") == "database_unreachable") return true;
    return false;
  };
  REQUIRE(l.svc.wait_readyz(has_db_reason, 30s));
  auto ready = http(port, "GET", "/readyz");
  CHECK(ready.status == 503);
  CHECK(ready.headers["retry-after"] == "5");
  auto r = upload(port);
  CHECK(r.status == 503);
  CHECK(r.json()["error"]["code"] == "not_ready");
  CHECK(r.json()["error"]["details"]["reasons"].dump().find("database_unreachable") != std::string::npos);
  CHECK(http(port, "GET", "/livez").status == 200);

  l.restore();
  REQUIRE(l.svc.wait_ready(30s));
  auto ok = upload(port);
  CHECK(ok.status == 202);
  CHECK(http(port, "GET", "/v1/convert/jobs/" + job_id_of(ok)).status == 200);
}

TEST_CASE("a stalled database (a table locked) holds only what needs it, health answers, readiness fails closed, all completes after",
          "[database]") {
  lane l("dbslow", {{"QUIRE_HTTP_THREADS", "2"}});
  l.svc.start();
  REQUIRE(l.svc.wait_ready(30s));
  const int port = l.svc.port();
  auto first = upload(port);
  REQUIRE(first.status == 202);
  const auto id = job_id_of(first);

  pqxx::connection locker(l.db);
  auto lock = std::make_unique<pqxx::work>(locker);
  lock->exec("LOCK TABLE jobs IN ACCESS EXCLUSIVE MODE");
  std::vector<std::future<http_response>> stuck;
  for (int i = 0; i < 3; ++i)
    stuck.push_back(std::async(std::launch::async, [&] { return http(port, "GET", "/v1/convert/jobs/" + id); }));
  // Both handler threads wait on the lock when the third request waits for a thread.
  bool held = false;
  for (int i = 0; i < 300 && !held; ++i) {
    held = metric(port, "quire_http_handler_backlog") == 1;
    if (!held) std::this_thread::sleep_for(100ms);
  }
  REQUIRE(held);
  CHECK(http(port, "GET", "/livez").status == 200);
  CHECK(http(port, "GET", "/readyz").status != 0);  // answered (ready from the last finished check)
  CHECK(http(port, "GET", "/metrics").status == 200);
  // The readiness check is stuck on the lock as well; once its last result is older than
  // 3 intervals + 10 s (13 s here) the lane stops claiming to be ready (readiness_stalled). With
  // statement/lock timeouts in storage the check finishes instead and must say
  // database_unreachable: either way the lane fails closed while the database is stalled.
  auto stalled = [](const nlohmann::json& j) {
    for (const auto& r : j["reasons"])
      if (r.value("code", "") == "readiness_stalled" || r.value("code", "") == "database_unreachable") return true;
    return false;
  };
  CHECK(l.svc.wait_readyz(stalled, 60s));
  CHECK(http(port, "GET", "/readyz").status == 503);
  CHECK(http(port, "GET", "/livez").status == 200);
  CHECK(metric(port, "quire_ready") == 0);  // the metric agrees with /readyz, whichever reason

  lock->abort();
  lock.reset();
  // Every request is answered, none hangs: the running ones with the job (or, once storage has
  // statement timeouts, 503 database_unavailable); the queued one, which meets the readiness gate
  // only when it runs, with the job or 503 not_ready if the lane has not yet seen a finished check.
  for (auto& f : stuck) {
    auto r = f.get();
    INFO(r.body);
    if (r.status == 200) continue;
    CHECK(r.status == 503);
    const auto code = r.json()["error"].value("code", "");
    CHECK((code == "not_ready" || code == "database_unavailable"));
  }
  CHECK(l.svc.wait_ready(30s));
  CHECK(upload(port).status == 202);
}

// The store bounds every wait (store_options: lock_timeout 5 s, statement_timeout 15 s) and maps
// the timeouts to database_unreachable: a request behind a locked table gets a clear, retryable
// 503 within the lock timeout instead of holding its handler thread until the lock goes.
TEST_CASE("a stalled database: requests give up after the lock timeout with 503 database_unavailable",
          "[database]") {
  // Readiness re-checks only at start here, so every request below meets the database itself.
  lane l("dbtimeout", {{"QUIRE_HTTP_THREADS", "2"}, {"QUIRE_READINESS_INTERVAL_SECONDS", "3600"}});
  l.svc.start();
  REQUIRE(l.svc.wait_ready(30s));
  const int port = l.svc.port();
  auto first = upload(port);
  REQUIRE(first.status == 202);
  const auto id = job_id_of(first);
  REQUIRE(l.svc.wait_job(id, {"succeeded", "failed"}, 60s).value("status", "") == "succeeded");
  const auto files_before = data_files(l.root);

  pqxx::connection locker(l.db);
  auto lock = std::make_unique<pqxx::work>(locker);
  lock->exec("LOCK TABLE jobs IN ACCESS EXCLUSIVE MODE");
  check_unavailable(http(port, "GET", "/v1/convert/jobs/" + id));
  check_unavailable(upload(port));
  CHECK(http(port, "GET", "/livez").status == 200);
  lock->abort();
  lock.reset();
  CHECK(http(port, "GET", "/v1/convert/jobs/" + id).status == 200);
  CHECK(job_rows(l.db) == 1);
  // the refused upload's input is kept only while its fate is unknown; the sweeper removes it
  CHECK(data_files(l.root).size() <= files_before.size() + 1);
}
