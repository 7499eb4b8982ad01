// Many claimers, one queue: threads and separate processes claim thousands of jobs; none may be
// claimed twice and none may be left behind. And a SIGKILLed lease holder: its jobs are rescued
// after the lease expires and finish exactly once.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "pg_fixture.hpp"

using namespace quire::storage;
using namespace quire::storage::testing;
using namespace std::chrono_literals;

namespace {

void submit_many(const std::string& url, int n) {
  // Bulk insert through SQL: this test is about claiming, and it keeps the setup fast.
  pqxx::connection c(url);
  pqxx::work w(c);
  w.exec_params("INSERT INTO jobs (id, profile, input_bytes, input_sha256)"
                " SELECT translate(substr(md5(random()::text || g::text), 1, 26), '0189', 'wxyz'), 'prod', 1,"
                " repeat('a', 64)"
                " FROM generate_series(1, $1) g",
                n);
  w.commit();
}

// A claimer loop: claim up to `batch`, complete each, until the queue is empty. Returns the ids
// it completed (with the attempt each was claimed at).
std::vector<std::string> drain(job_store& s, const std::string& owner, int batch) {
  std::vector<std::string> done;
  for (int empty_rounds = 0; empty_rounds < 3;) {
    auto c = s.claim(owner, batch, 60s);
    if (!c) throw std::runtime_error("claim: " + c.err().message);
    if (c->empty()) {
      ++empty_rounds;
      continue;
    }
    empty_rounds = 0;
    for (auto& cj : *c) {
      auto r = s.complete(cj.lease, {1, sha_of(cj.job.id), 1});
      if (!r) throw std::runtime_error("complete " + cj.job.id + ": " + r.err().message);
      done.push_back(cj.job.id);
    }
  }
  return done;
}

}  // namespace

TEST_CASE("threads: 3000 jobs, 6 claimers, none claimed twice, none starved") {
  migrated_db db;
  constexpr int jobs = 3000;
  submit_many(db.url(), jobs);
  std::mutex m;
  std::map<std::string, int> claims;  // id → how many times completed
  std::vector<std::size_t> per_worker(6);
  std::vector<std::string> errors;
  std::vector<std::thread> ts;
  for (int i = 0; i < 6; ++i)
    ts.emplace_back([&, i] {  // no Catch assertions off the main thread
      try {
        auto s = job_store::open(options_for(db.url()));
        if (!s) throw std::runtime_error(s.err().message);
        auto done = drain(**s, "worker-" + std::to_string(i), 1 + i % 4);
        std::lock_guard lock(m);
        per_worker[i] = done.size();
        for (auto& id : done) ++claims[id];
      } catch (const std::exception& e) {
        std::lock_guard lock(m);
        errors.push_back(e.what());
      }
    });
  for (auto& t : ts) t.join();
  CHECK(errors.empty());
  CHECK(claims.size() == static_cast<std::size_t>(jobs));
  int twice = 0;
  for (auto& [id, n] : claims) twice += n > 1;
  CHECK(twice == 0);
  for (auto n : per_worker) CHECK(n > 0);  // everybody got work: SKIP LOCKED spreads it
  auto s = open_store(db.url());
  auto n = s->counts();
  CHECK(n->by_status[job_status::succeeded] == jobs);
  CHECK(n->by_status[job_status::queued] == 0);
  pqxx::connection c(db.url());
  pqxx::read_transaction t(c);
  CHECK(t.exec1("SELECT count(*) FROM job_events WHERE to_status = 'running'")[0].as<long>() == jobs);
  CHECK(t.exec1("SELECT max(attempt) FROM jobs")[0].as<int>() == 1);
}

TEST_CASE("processes: 2000 jobs, 4 forked claimers, none claimed twice, none starved") {
  migrated_db db;
  constexpr int jobs = 2000;
  submit_many(db.url(), jobs);
  char dir_tmpl[] = "/tmp/quire-claimers.XXXXXX";
  REQUIRE(mkdtemp(dir_tmpl) != nullptr);
  const std::string dir = dir_tmpl;
  std::vector<pid_t> kids;
  for (int i = 0; i < 4; ++i) {
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      int rc = 1;
      try {
        auto s = job_store::open(options_for(db.url()));
        if (s) {
          auto done = drain(**s, "proc-" + std::to_string(i), 5);
          std::ofstream out(dir + "/" + std::to_string(i));
          for (auto& id : done) out << id << "\n";
          rc = out.good() ? 0 : 1;
        }
      } catch (...) {
      }
      _exit(rc);
    }
    kids.push_back(pid);
  }
  for (auto pid : kids) {
    int st = 0;
    REQUIRE(waitpid(pid, &st, 0) == pid);
    CHECK(WIFEXITED(st));
    CHECK(WEXITSTATUS(st) == 0);
  }
  std::map<std::string, int> claims;
  for (int i = 0; i < 4; ++i) {
    std::ifstream in(dir + "/" + std::to_string(i));
    int mine = 0;
    for (std::string id; std::getline(in, id);) {
      ++claims[id];
      ++mine;
    }
    CHECK(mine > 0);
    std::remove((dir + "/" + std::to_string(i)).c_str());
  }
  rmdir(dir.c_str());
  CHECK(claims.size() == static_cast<std::size_t>(jobs));
  for (auto& [id, n] : claims) REQUIRE(n == 1);
}

TEST_CASE("a SIGKILLed lease holder: its jobs are rescued after expiry and finish exactly once") {
  migrated_db db;
  auto s = open_store(db.url());
  for (int i = 0; i < 5; ++i) submit_ok(*s, request(std::to_string(i)));

  int ready[2];
  REQUIRE(pipe(ready) == 0);
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    close(ready[0]);
    auto cs = job_store::open(options_for(db.url()));
    char ok = 'n';
    if (cs) {
      auto c = (*cs)->claim("doomed-worker", 5, 30s);
      if (c && c->size() == 5) ok = 'y';
    }
    (void)!write(ready[1], &ok, 1);
    for (;;) pause();  // hold the leases until killed
  }
  close(ready[1]);
  char ok = 0;
  REQUIRE(read(ready[0], &ok, 1) == 1);
  close(ready[0]);
  REQUIRE(ok == 'y');
  kill(pid, SIGKILL);
  int st = 0;
  REQUIRE(waitpid(pid, &st, 0) == pid);
  REQUIRE(WIFSIGNALED(st));

  // The leases are still valid: nothing to rescue, nothing to claim.
  CHECK(s->rescue_expired()->empty());
  CHECK(s->claim("survivor", 10, 60s)->empty());
  auto running = s->list({{job_status::running}, {}, {}, {}}, 10, std::nullopt);
  REQUIRE(running->jobs.size() == 5);

  // 31 s later (pinned clock, no sleeping) the leases have run out.
  REQUIRE(s->set_clock_for_testing(std::chrono::system_clock::now() + 31s));
  auto rescued = s->rescue_expired();
  REQUIRE(rescued);
  CHECK(rescued->size() == 5);
  CHECK(s->rescue_expired()->empty());  // idempotent
  REQUIRE(s->set_clock_for_testing(std::chrono::system_clock::now() + 1h));  // past the backoff
  auto again = s->claim("survivor", 10, 60s);
  REQUIRE(again);
  REQUIRE(again->size() == 5);
  for (auto& cj : *again) {
    CHECK(cj.lease.attempt == 2);
    REQUIRE(s->complete(cj.lease, {1, sha_of("r"), 1}));
    // The dead worker's lease (attempt 1) can never complete it again.
    lease dead{cj.job.id, "doomed-worker", 1, {}};
    CHECK(s->complete(dead, {1, sha_of("zombie"), 1}).err().code == errc::lease_lost);
    auto ev = s->events(cj.job.id);
    REQUIRE(ev);
    int succeeded = 0, lease_expired = 0;
    for (auto& e : *ev) {
      succeeded += e.to == job_status::succeeded;
      if (e.reason == "lease_expired") {
        ++lease_expired;
        CHECK(e.worker == "doomed-worker");
      }
    }
    CHECK(succeeded == 1);
    CHECK(lease_expired == 1);
  }
  CHECK(s->counts()->by_status[job_status::succeeded] == 5);
}

TEST_CASE("a claim reads a few index entries, not the queue, when the queue grew after start-up") {
  // A lane starts with an empty queue, its converters claim (and find nothing) a few times, then
  // a burst arrives. A claim plan fixed while the table was empty would walk the whole queued
  // index for every claim; index reads are counted by PostgreSQL, so the check needs no clock.
  migrated_db db;
  auto s = job_store::open(options_for(db.url()));
  REQUIRE(s);
  for (int i = 0; i < 10; ++i) REQUIRE((*s)->claim("early", 1, 60s)->empty());
  constexpr int queued = 20000, claims = 5;
  submit_many(db.url(), queued);
  pqxx::connection watcher(db.url());
  auto index_reads = [&] {
    pqxx::nontransaction q(watcher);
    q.exec("SELECT pg_stat_clear_snapshot()");
    return q.exec1("SELECT idx_tup_read FROM pg_stat_user_indexes WHERE indexrelname = 'jobs_claim_idx'")[0]
        .as<std::int64_t>();
  };
  const auto before = index_reads();
  for (int i = 0; i < claims; ++i) REQUIRE((*s)->claim("late", 1, 60s)->size() == 1);
  s->reset();  // the backend flushes its statistics when it exits
  auto after = before;
  for (int i = 0; i < 100 && after == before; ++i) {
    std::this_thread::sleep_for(100ms);
    after = index_reads();
  }
  INFO("index entries read by " << claims << " claims: " << after - before);
  CHECK(after > before);
  CHECK(after - before < 100 * claims);  // a plan that walks the queue reads ~20,000 per claim
}

TEST_CASE("reconciliation looks its ids up by index, not by reading every job") {
  // statuses_of() is called per 500 job ids found in the data root. A plan that scans the table
  // for each call makes a reconciliation quadratic in the number of jobs; sequential scans are
  // counted by PostgreSQL, so the check needs no clock.
  migrated_db db;
  auto s = job_store::open(options_for(db.url()));
  REQUIRE(s);
  constexpr int jobs = 20000;
  submit_many(db.url(), jobs);
  pqxx::connection watcher(db.url());
  {
    pqxx::nontransaction q(watcher);
    q.exec("ANALYZE jobs");  // the statistics a running lane has: the planner knows the table is big
  }
  std::vector<std::string> ids;
  {
    pqxx::nontransaction q(watcher);
    for (const auto& row : q.exec("SELECT id FROM jobs ORDER BY random() LIMIT 500")) ids.push_back(row[0].c_str());
  }
  auto seq_scans = [&] {
    pqxx::nontransaction q(watcher);
    q.exec("SELECT pg_stat_clear_snapshot()");
    return q.exec1("SELECT seq_scan, idx_scan FROM pg_stat_user_tables WHERE relname = 'jobs'");
  };
  const auto before = seq_scans();
  for (int i = 0; i < 3; ++i) {
    auto found = (*s)->statuses_of(ids);
    REQUIRE(found);
    CHECK(found->size() == ids.size());
  }
  s->reset();  // the backend flushes its statistics when it exits
  auto after = seq_scans();
  for (int i = 0; i < 100 && after[1].as<std::int64_t>() == before[1].as<std::int64_t>(); ++i) {
    std::this_thread::sleep_for(100ms);
    after = seq_scans();
  }
  CHECK(after[1].as<std::int64_t>() > before[1].as<std::int64_t>());  // the lookups used the index
  CHECK(after[0].as<std::int64_t>() == before[0].as<std::int64_t>());  // and no scan of every job
}
