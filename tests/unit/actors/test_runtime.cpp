// The real CAF runtime under concurrency (issue 7: the actor tests run under ThreadSanitizer).
// actors_core_test covers the plain-C++ parts; this drives runtime.cpp itself: the readiness
// supervisor, coordinator, notifier, sweeper and two converter actors exchange messages and share
// shared_state while several "HTTP handler" threads call the service interface at the same time,
// as RESTinio's thread pool does. The converters supervise real child processes (stub_worker.cpp
// speaks the worker protocol, without MuPDF). The job store needs PostgreSQL: this test carries the
// `pg` label and runs on the server scripts/test starts (QUIRE_TEST_DATABASE_URL); scripts/test's
// sanitize kind runs it in the ThreadSanitizer build (build-tsan/).
#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "actors/runtime.hpp"
#include "storage/artifact_store.hpp"
#include "tests/pg/pg_fixture.hpp"

namespace {

using namespace quire;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

nlohmann::json spec(int priority) {
  return {{"conversion", {{"first_page", 1}, {"last_page", 0}, {"extract_images", false}, {"ocr", "off"},
                          {"ocr_languages", "eng"}}},
          {"execution", {{"acceleration_policy", "cpu_only"}, {"document_timeout_seconds", 60}, {"priority", priority}}},
          {"retention", {{"pin", false}}}};
}

struct scratch_dir {
  fs::path path;
  scratch_dir() {
    path = fs::temp_directory_path() / ("quire-rt-" + storage::new_job_id());
    fs::create_directories(path);
  }
  ~scratch_dir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

actors::service_config config_for(const std::string& db_url, const fs::path& root) {
  actors::service_config c;
  c.profile = "eval";
  c.data_root = c.eval_data_root = root.string();
  c.database_url = db_url;
  c.cpu_converters = 2;
  c.cpu_converters_set = true;
  c.gpus = "none";  // no device discovery: CPU converters only
  c.http_threads = 4;
  c.readiness_interval = 1s;
  c.poll_interval = 1s;
  c.heartbeat = 1s;
  c.lease = 30s;
  c.sweep_interval = 1s;  // the sweeper runs (and reads shared state) while jobs flow
  return c;
}

// Waits for a condition the runtime reaches on its own (readiness after its first checks). The
// bound only keeps a broken runtime from hanging the suite; nothing here measures time.
template <class F>
bool eventually(F f, std::chrono::seconds limit = 60s) {
  const auto until = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < until) {
    if (f()) return true;
    std::this_thread::sleep_for(50ms);
  }
  return f();
}

}  // namespace

TEST_CASE("runtime: handler threads submit, poll, list and cancel while the actors convert", "[runtime]") {
  storage::testing::migrated_db db("eval");
  scratch_dir root;
  REQUIRE(storage::artifact_store::open(root.path, "eval", true));

  auto started = actors::runtime::start(config_for(db.url(), root.path), "test-revision", {QUIRE_STUB_WORKER});
  INFO("start error: " << (started ? std::string() : started.err().message));
  REQUIRE(started);
  auto rt = std::move(*started);
  actors::service& svc = rt->jobs();  // what the HTTP handler threads call
  REQUIRE(eventually([&] { return svc.readiness().ready; }));

  constexpr int kThreads = 6, kJobsPerThread = 4;
  std::mutex mu;
  std::map<std::string, std::string> expected;  // job id -> the Markdown the stub writes
  std::vector<std::string> canceled;
  std::vector<std::string> problems;
  auto note = [&](std::string p) {
    std::lock_guard l(mu);
    problems.push_back(std::move(p));
  };

  std::vector<std::thread> handlers;
  for (int t = 0; t < kThreads; ++t) {
    handlers.emplace_back([&, t] {
      std::vector<std::string> mine;
      for (int j = 0; j < kJobsPerThread; ++j) {
        actors::submission s;
        s.api_key_id = "key-" + std::to_string(t % 2);
        s.job_spec = spec(j % 3);
        s.pdf = "%PDF-1.7 stub input " + std::string(static_cast<std::size_t>(10 * t + j), 'x');
        s.filename = "in.pdf";
        auto r = svc.submit(s);
        if (!r) { note("submit: " + r.err().code + " " + r.err().message); continue; }
        const std::string id = r->job.id;
        mine.push_back(id);
        std::lock_guard l(mu);
        expected[id] = "# stub " + id + "\n\ninput bytes: " + std::to_string(s.pdf.size()) + "\n";
      }
      // What a handler does while jobs run: readiness, info, queue depth, listing, a cancel.
      (void)svc.readiness();
      (void)svc.info();
      (void)svc.queued_jobs();
      (void)svc.working_gpu_converters();
      actors::list_query q;
      q.limit = 5;
      if (auto page = svc.list_jobs(q, "key-" + std::to_string(t % 2)); !page) note("list: " + page.err().code);
      if (t == 0 && !mine.empty()) {
        auto c = svc.cancel_job(mine.back(), "key-0");
        if (!c) note("cancel: " + c.err().code);
        std::lock_guard l(mu);
        canceled.push_back(mine.back());
      }
      for (const auto& id : mine) {
        auto w = svc.wait_job(id, "key-" + std::to_string(t % 2), 60s);
        if (!w) note("wait " + id + ": " + w.err().code);
      }
    });
  }
  // Idempotent submits racing from two threads: one job, the other call a replay.
  std::vector<std::string> idem_ids(2);
  std::vector<std::thread> racers;
  for (int i = 0; i < 2; ++i) {
    racers.emplace_back([&, i] {
      actors::submission s;
      s.api_key_id = "key-0";
      s.idempotency_key = "same-key";
      s.job_spec = spec(0);
      s.pdf = "%PDF-1.7 idempotent";
      auto r = svc.submit(s);
      if (r) idem_ids[static_cast<std::size_t>(i)] = r->job.id;
      else note("idempotent submit: " + r.err().code);
    });
  }
  for (auto& t : racers) t.join();
  for (auto& t : handlers) t.join();
  {
    std::lock_guard l(mu);
    INFO(problems.size() << " problem(s), first: " << (problems.empty() ? "" : problems.front()));
    CHECK(problems.empty());
  }
  REQUIRE(!idem_ids[0].empty());
  CHECK(idem_ids[0] == idem_ids[1]);
  expected[idem_ids[0]] = "# stub " + idem_ids[0] + "\n\ninput bytes: 19\n";

  // Every job ends; the canceled one either canceled or (if the cancel lost the race) succeeded;
  // every other one succeeded with exactly the Markdown the stub wrote for it.
  for (const auto& [id, md] : expected) {
    const std::string key = id == idem_ids[0] ? "key-0" : "";
    auto w = svc.wait_job(id, key, 60s);
    REQUIRE(w);
    const std::string status(storage::to_string(w->status));
    const bool was_canceled = std::find(canceled.begin(), canceled.end(), id) != canceled.end();
    INFO("job " << id << " status " << status);
    if (was_canceled && status == "canceled") continue;
    REQUIRE(status == "succeeded");
    auto res = svc.get_result(id, key, true);
    REQUIRE(res);
    CHECK(res->markdown == md);
  }
  // A converter records the outcome before its done message reaches the coordinator, which then
  // lowers the running count: wait for that message rather than race it.
  CHECK(eventually([&] { return rt->running_jobs() == 0; }));

  // The SIGTERM path while handler threads still read: drain, idle, hand back, shut down.
  std::atomic<bool> stop{false};
  std::thread reader([&] {
    while (!stop.load()) {
      (void)svc.readiness();
      (void)svc.info();
      std::this_thread::sleep_for(5ms);
    }
  });
  rt->begin_drain();
  CHECK_FALSE(svc.readiness().ready);
  CHECK(rt->wait_idle(10s));
  rt->hand_back();
  stop.store(true);
  reader.join();
  rt->shutdown();
}
