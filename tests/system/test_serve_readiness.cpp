// Every readiness reason triggered for real and cleared again; job routes refuse while not ready.
#include <catch2/catch.hpp>

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <thread>

#include "lane.hpp"

using namespace quire::systest;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

auto failing(const std::string& code) {
  return [code](const nlohmann::json& j) {
    for (const auto& r : j["reasons"])
      if (r.value("code", "") == code) return j.value("status", "") == "not_ready";
    return false;
  };
}

std::string running_revision() {
  // "quire 0.1.0 (revision abc)"
  auto v = run_capture(quire_bin() + " --version");
  auto p = v.find("revision ");
  return v.substr(p + 9, v.find(')', p) - p - 9);
}
}  // namespace

TEST_CASE("data root marker of another profile is fixed while running") {
  lane l("marker");
  std::ofstream(l.root + "/.quire-root.json") << R"({"format":1,"profile":"prod","root_id":"x","created_at":"2026-01-01T00:00:00Z"})";
  l.svc.start();
  REQUIRE(l.svc.wait_readyz(failing("data_root_profile_mismatch"), 30s));
  auto r = submit(l.svc.port(), sample_pdf());
  CHECK(r.status == 503);
  CHECK(r.json()["error"]["code"] == "not_ready");
  CHECK(r.headers.count("retry-after") == 1);
  fs::remove(l.root + "/.quire-root.json");  // the lane re-initialises its own marker
  CHECK(l.svc.wait_ready(30s));
  CHECK(submit(l.svc.port(), sample_pdf()).status == 202);
}

TEST_CASE("data root missing then created") {
  lane l("missing");
  fs::remove_all(l.root);
  l.svc.start();
  REQUIRE(l.svc.wait_readyz(failing("data_root_missing"), 30s));
  fs::create_directories(l.root);
  CHECK(l.svc.wait_ready(30s));
}

TEST_CASE("prod and eval roots that are one directory collide until reconfigured") {
  lane l("collide");
  const auto alias = l.root + "-alias";
  fs::create_directory_symlink(l.root, alias);
  l.svc.env["QUIRE_PROD_DATA_ROOT"] = alias;
  l.svc.env["QUIRE_EVAL_DATA_ROOT"] = l.root;
  l.svc.start();
  REQUIRE(l.svc.wait_readyz(failing("data_root_collision"), 30s));
  l.svc.signal(SIGTERM);
  CHECK(l.svc.wait_exit(30s) == 0);
  const auto prod_root = temp_dir("prodroot");
  l.svc.env["QUIRE_PROD_DATA_ROOT"] = prod_root;
  l.svc.start();
  CHECK(l.svc.wait_ready(30s));
  // An eval lane pointed at the prod root is a profile mismatch.
  l.svc.signal(SIGTERM);
  CHECK(l.svc.wait_exit(30s) == 0);
  l.svc.env["QUIRE_DATA_ROOT"] = prod_root;
  l.svc.start();
  CHECK(l.svc.wait_readyz(failing("profile_mismatch"), 30s));
  fs::remove(alias);
}

TEST_CASE("stale revision then the expected one") {
  lane l("revision", {{"QUIRE_EXPECTED_REVISION", "0000000deadbeef"}});
  l.svc.start();
  REQUIRE(l.svc.wait_readyz(failing("stale_revision"), 30s));
  CHECK(http(l.svc.port(), "GET", "/v1/info").status == 503);
  l.svc.signal(SIGTERM);
  CHECK(l.svc.wait_exit(30s) == 0);
  l.svc.env["QUIRE_EXPECTED_REVISION"] = running_revision();
  l.svc.start();
  CHECK(l.svc.wait_ready(30s));
  CHECK(http(l.svc.port(), "GET", "/v1/info").json()["revision"] == running_revision());
}

TEST_CASE("pending migration applied while running") {
  lane l("pending", {}, /*migrate=*/false);
  l.svc.start();
  REQUIRE(l.svc.wait_readyz(failing("schema_version_mismatch"), 30s));
  REQUIRE(quire_migrate(l.db, "eval") == 0);
  CHECK(l.svc.wait_ready(30s));
}

TEST_CASE("a database bound to another profile") {
  lane l("otherprofile", {}, /*migrate=*/false);
  REQUIRE(quire_migrate(l.db, "prod") == 0);
  l.svc.start();
  REQUIRE(l.svc.wait_readyz(failing("database_profile_mismatch"), 30s));
  l.svc.signal(SIGTERM);
  CHECK(l.svc.wait_exit(30s) == 0);
  auto own = fresh_database("ownprofile");
  REQUIRE(quire_migrate(own, "eval") == 0);
  l.svc.env["QUIRE_DATABASE_URL"] = own;
  l.svc.start();
  CHECK(l.svc.wait_ready(30s));
}

TEST_CASE("no working converter then a worker that starts") {
  lane l("noconv");
  // In a directory of its own that every user may traverse: a service running as root starts its
  // workers as nobody (actors/worker_process.cpp), who must be able to run the script.
  const auto dir = temp_dir("worker");
  fs::permissions(dir, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                           fs::perms::others_read | fs::perms::others_exec);
  const auto script = dir + "/worker.sh";
  std::ofstream(script) << "#!/bin/sh\nexit 1\n";
  fs::permissions(script, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                              fs::perms::others_read | fs::perms::others_exec);
  l.svc.env["QUIRE_WORKER_BINARY"] = script;
  l.svc.start();
  REQUIRE(l.svc.wait_readyz(failing("converters_not_ready"), 30s));
  CHECK(submit(l.svc.port(), sample_pdf()).status == 503);
  std::ofstream(script, std::ios::trunc) << "#!/bin/sh\nexec '" << quire_bin() << "' worker\n";
  CHECK(l.svc.wait_ready(30s));
}

TEST_CASE("zero converters configured is never ready") {
  lane l("zeroconv", {{"QUIRE_CPU_CONVERTERS", "0"}});
  l.svc.start();
  REQUIRE(l.svc.wait_readyz(failing("converters_not_ready"), 30s));
}

TEST_CASE("prod requires a GPU by default") {
  lane l("gpu");
  l.svc.env["QUIRE_PROFILE"] = "prod";
  REQUIRE(quire_migrate(l.db = fresh_database("gpuprod"), "prod") == 0);
  l.svc.env["QUIRE_DATABASE_URL"] = l.db;
  l.svc.start();
  REQUIRE(l.svc.wait_readyz(failing("gpu_unavailable"), 30s));
  l.svc.signal(SIGTERM);
  CHECK(l.svc.wait_exit(30s) == 0);
  l.svc.env["QUIRE_ACCELERATION_POLICY"] = "gpu_prefer";  // the operator's explicit CPU fallback
  l.svc.start();
  CHECK(l.svc.wait_ready(30s));
}

TEST_CASE("database stopped then restarted") {
  const char* dir = std::getenv("QUIRE_TEST_PG_DIR");
  const char* port = std::getenv("QUIRE_TEST_PG_PORT");
  REQUIRE(dir);
  REQUIRE(port);
  lane l("dbstop");
  l.svc.start();
  REQUIRE(l.svc.wait_ready(30s));
  const std::string pgctl = std::string(::getuid() == 0 ? "runuser -u postgres -- " : "") +
                            "/usr/lib/postgresql/15/bin/pg_ctl -D " + dir + "/data";
  int rc = 0;
  run_capture(pgctl + " -m fast -w stop", &rc);
  REQUIRE(rc == 0);
  bool seen = l.svc.wait_readyz(failing("database_unreachable"), 30s);
  auto r = submit(l.svc.port(), sample_pdf());
  auto out = run_capture(pgctl + " -w -t 60 -l " + dir + "/server.log -o \"-p " + port + " -k " + dir +
                         "/sock -c listen_addresses=127.0.0.1 -c fsync=on -c max_connections=200\" start", &rc);
  INFO(out);
  REQUIRE(rc == 0);
  CHECK(seen);
  CHECK(r.status == 503);
  CHECK(l.svc.wait_ready(60s));
  auto after = submit(l.svc.port(), sample_pdf());
  CHECK(after.status == 202);
  CHECK(l.svc.wait_job(job_id_of(after), {"succeeded"}, 60s).value("status", "") == "succeeded");
}

TEST_CASE("quire healthcheck follows /readyz") {
  lane l("healthcheck", {}, /*migrate=*/false);
  l.svc.start();
  REQUIRE(l.svc.wait_readyz(failing("schema_version_mismatch"), 30s));
  int rc = 0;
  // It asks the probe listener (QUIRE_PROBE_LISTEN), as the container's HEALTHCHECK does.
  const auto cmd = "QUIRE_LISTEN=127.0.0.1:" + std::to_string(l.svc.port()) + " QUIRE_PROBE_LISTEN=127.0.0.1:" +
                   std::to_string(l.svc.probe_port()) + " " + quire_bin() + " healthcheck";
  run_capture(cmd, &rc);
  CHECK(rc == 1);
  REQUIRE(quire_migrate(l.db, "eval") == 0);
  REQUIRE(l.svc.wait_ready(30s));
  run_capture(cmd, &rc);
  CHECK(rc == 0);
  run_capture(quire_bin() + " healthcheck --url http://127.0.0.1:" + std::to_string(free_port()) + "/readyz", &rc);
  CHECK(rc == 1);
}

TEST_CASE("readiness answers at once while long polls fill every handler thread") {
  lane l("busyhandlers", {{"QUIRE_HTTP_THREADS", "1"}, {"QUIRE_CPU_CONVERTERS", "1"}});
  l.svc.start();
  REQUIRE(l.svc.wait_ready(30s));
  auto id = job_id_of(submit(l.svc.port(), sample_pdf("QUIRE_TEST_SLOW")));
  std::thread poller([&] { http(l.svc.port(), "GET", "/v1/convert/jobs/" + id + "?wait_seconds=20"); });
  std::this_thread::sleep_for(500ms);  // the only handler thread is now inside the long poll
  auto t0 = std::chrono::steady_clock::now();
  auto r = http(l.svc.port(), "GET", "/readyz");
  auto took = std::chrono::steady_clock::now() - t0;
  CHECK(r.status == 200);
  CHECK(took < 1s);
  poller.join();
}
