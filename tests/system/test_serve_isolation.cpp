// Issue 16 items 3 and 4 against the real binary and PostgreSQL: a hostile PDF holds a converter for
// seconds, not half an hour (work budgets, final failure); one API key cannot take the whole lane
// (QUIRE_MAX_JOBS_PER_KEY); and the worker that parses PDFs reaches no secret, no network and no
// other job's files (probed from inside a real worker through the %QUIRE_TEST_PROBE hook).
#include <catch2/catch.hpp>

#include <linux/landlock.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <regex>

#include "../unit/convert/hostile_pdf.hpp"
#include "lane.hpp"

using namespace quire::systest;
using namespace std::chrono_literals;
using json = nlohmann::json;

namespace {

std::map<std::string, std::string> with_key(const std::string& key) { return {{"X-API-Key", key}}; }

int database_port() {
  const std::string url = env_or_skip("QUIRE_TEST_DATABASE_URL");
  std::smatch m;
  REQUIRE(std::regex_search(url, m, std::regex(R"(:(\d+)/)")));
  return std::stoi(m[1]);
}

}  // namespace

TEST_CASE("a PDF whose 2,000 pages share one huge content stream fails in seconds, once, and frees the converter") {
  // 2,000 pages drawing one 256 MiB stream of `q Q` (about 250 KB on disk). Before the work budgets
  // each page inflated and interpreted the whole stream: hours of one converter, three attempts.
  const auto hostile = quire::test::shared_content_pdf(2000, "q Q\n", 256u << 20);
  REQUIRE(hostile.size() < 2u << 20);
  lane l("budget", {{"QUIRE_API_KEYS", "budget-key"}});
  l.svc.start();
  REQUIRE(l.svc.wait_ready(30s));
  const auto t0 = std::chrono::steady_clock::now();
  const auto id = job_id_of(submit(l.svc.port(), hostile, {}, with_key("budget-key")));
  REQUIRE(id.size() == 26);
  auto j = l.svc.wait_job(id, {"failed", "succeeded"}, 60s);
  const double held = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  CHECK(j.value("status", "") == "failed");
  CHECK(j["error"]["code"] == "work_limit_exceeded");
  CHECK(j["error"]["retryable"] == false);
  CHECK(j["attempts"] == 1);
  CHECK(held < 15.0);
  WARN("hostile PDF (" << hostile.size() << " bytes) held the converter " << held << " s");
  // The converter is free at once for the next document.
  const auto good = job_id_of(submit(l.svc.port(), sample_pdf(), {}, with_key("budget-key")));
  CHECK(l.svc.wait_job(good, {"succeeded", "failed"}, 60s).value("status", "") == "succeeded");
}

TEST_CASE("one API key may hold at most QUIRE_MAX_JOBS_PER_KEY jobs queued or running; others still get in") {
  lane l("perkey", {{"QUIRE_API_KEYS", "key-a,key-b"}, {"QUIRE_MAX_JOBS_PER_KEY", "2"}});
  l.svc.start();
  REQUIRE(l.svc.wait_ready(30s));
  const int port = l.svc.port();
  const auto slow = sample_pdf("QUIRE_TEST_SLOW");  // 4 s each on the lane's one converter
  std::vector<std::string> a;
  for (int i = 0; i < 2; ++i) {
    auto r = submit(port, slow, {}, with_key("key-a"));
    REQUIRE(r.status == 202);
    a.push_back(job_id_of(r));
  }
  auto refused = submit(port, slow, {}, with_key("key-a"));
  CHECK(refused.status == 429);
  CHECK(refused.json()["error"]["code"] == "key_quota_exceeded");
  CHECK(refused.json()["error"]["retryable"] == true);
  CHECK(refused.json()["error"]["details"]["max_jobs_per_key"] == 2);
  CHECK(refused.headers["retry-after"] == "5");
  // Another key is not affected, and nothing of the refused upload was kept.
  auto b = submit(port, sample_pdf(), {}, with_key("key-b"));
  CHECK(b.status == 202);
  CHECK(psql(l.db, "SELECT count(*) FROM jobs") == "3");
  // Once key-a's jobs finish it may submit again.
  for (const auto& id : a) {
    auto r = http(port, "GET", "/v1/convert/jobs/" + id + "?wait_seconds=20", with_key("key-a"));
    for (int i = 0; i < 3 && r.json()["job"].value("status", "") != "succeeded"; ++i)
      r = http(port, "GET", "/v1/convert/jobs/" + id + "?wait_seconds=20", with_key("key-a"));
    CHECK(r.json()["job"].value("status", "") == "succeeded");
  }
  CHECK(submit(port, sample_pdf(), {}, with_key("key-a")).status == 202);
}

TEST_CASE("from inside a worker the secrets, the network and other jobs' files are out of reach") {
  const std::string key = "isolation-secret-key-7f3a";
  const std::string keys_dir = temp_dir("isolation_keys");
  const std::string keys_file = keys_dir + "/api-keys";
  { std::ofstream(keys_file) << "file-secret-key-91c2\n"; }
  lane l("isolation", {{"QUIRE_API_KEYS", key}, {"QUIRE_API_KEYS_FILE", keys_file}});
  l.svc.start();
  REQUIRE(l.svc.wait_ready(30s));
  const int port = l.svc.port();

  // Another client's job, finished: its input and result are on disk in the data root.
  const auto other = job_id_of(submit(port, sample_pdf(), {}, with_key(key)));
  REQUIRE(l.svc.wait_job(other, {"succeeded", "failed"}, 60s).value("status", "") == "succeeded");
  std::string other_input, other_result;
  for (const auto& f : files_under(l.root)) {
    if (f.find(other) == std::string::npos) continue;
    if (f.size() >= 4 && f.compare(f.size() - 4, 4, ".pdf") == 0) other_input = l.root + "/" + f;  // inputs/ab/<id>.pdf
    if (f.size() >= 9 && f.compare(f.size() - 9, 9, "result.md") == 0) other_result = l.root + "/" + f;
  }
  REQUIRE_FALSE(other_input.empty());
  REQUIRE_FALSE(other_result.empty());
  const std::string planted = other_result.substr(0, other_result.rfind('/')) + "/planted.md";

  const std::string probe = "QUIRE_TEST_PROBE port=" + std::to_string(database_port()) + " read=" + other_input +
                            " read=" + other_result + " read=" + keys_file + " write=" + planted +
                            " write=" + l.root + "/planted";
  const auto id = job_id_of(submit(port, sample_pdf(probe), {}, with_key(key)));
  REQUIRE(l.svc.wait_job(id, {"succeeded", "failed"}, 60s).value("status", "") == "succeeded");
  const auto report = json::parse(http(port, "GET", "/v1/convert/jobs/" + id + "/result/markdown", with_key(key)).body);
  INFO(report.dump(1));

  // The environment: none of the service's settings but the log's, no secret value anywhere.
  for (const auto& e : report["env"]) {
    const std::string var = e.get<std::string>();
    CHECK(var.find(key) == std::string::npos);
    CHECK(var.find("file-secret-key-91c2") == std::string::npos);
    CHECK(var.find(l.db) == std::string::npos);
    CHECK(var.rfind("QUIRE_DATABASE_URL", 0) != 0);
    CHECK(var.rfind("QUIRE_API_KEYS", 0) != 0);
    CHECK(var.rfind("QUIRE_DATA_ROOT", 0) != 0);
  }
  // No network: the test's PostgreSQL, on localhost, cannot be reached.
  CHECK(report["connect"] != "ok");
  // Other jobs' files, the keys file and the parent's environment cannot be read; nothing can be
  // planted in the data root.
  for (const auto& [path, outcome] : report["reads"].items()) CHECK(outcome != "ok");
  for (const auto& [path, outcome] : report["writes"].items()) CHECK(outcome != "ok");
  CHECK(report["reads"].size() == 4);
  CHECK(report["writes"].size() == 2);
  CHECK_FALSE(std::ifstream(planted).good());

  // The layers are in force where the kernel has them, and the service says so.
  const auto metrics = http(l.svc.probe_port(), "GET", "/metrics").body;
  CHECK(metrics.find("quire_worker_sandbox{layer=\"seccomp\"} 1") != std::string::npos);
  CHECK(metrics.find("quire_worker_sandbox{layer=\"no_new_privs\"} 1") != std::string::npos);
  const long abi = ::syscall(SYS_landlock_create_ruleset, nullptr, 0, LANDLOCK_CREATE_RULESET_VERSION);
  if (abi >= 1) CHECK(metrics.find("quire_worker_sandbox{layer=\"landlock\"} 1") != std::string::npos);
  else WARN("this kernel has no Landlock: the worker's filesystem is confined only by its user");
}
