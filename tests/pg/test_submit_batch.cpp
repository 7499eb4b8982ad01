// Group commit (job_store::submit_batch and submit_batcher): every request of a batch gets the
// answer a submit of its own would have given it — idempotency replays and conflicts included —
// a row the schema refuses fails only that request, and a batch whose COMMIT fails fails every
// caller and leaves no row (nor, through the accept path, anything but an orphan input file that
// reconciliation removes).
#include <filesystem>
#include <set>
#include <thread>

#include "pg_fixture.hpp"
#include "storage/artifact_store.hpp"
#include "storage/maintenance.hpp"
#include "storage/submit_batcher.hpp"

using namespace quire::storage;
using namespace quire::storage::testing;
using namespace std::chrono_literals;

namespace {

submit_request keyed(const std::string& key, const std::string& payload) {
  auto r = request(payload);
  r.idempotency_key = key;
  return r;
}

std::int64_t count_rows(const std::string& url, const std::string& sql) {
  pqxx::connection c(url);
  pqxx::nontransaction n(c);
  return n.exec(sql)[0][0].as<std::int64_t>();
}

// A constraint checked at COMMIT: any job named "boom" makes the whole transaction fail there.
void arm_commit_failure(const std::string& url) {
  pqxx::connection c(url);
  pqxx::work w(c);
  w.exec("CREATE FUNCTION test_refuse_boom() RETURNS trigger LANGUAGE plpgsql AS $$"
         " BEGIN IF NEW.source_filename = 'boom' THEN RAISE EXCEPTION 'commit refused (test)'; END IF;"
         " RETURN NULL; END $$");
  w.exec("CREATE CONSTRAINT TRIGGER test_refuse_boom AFTER INSERT ON jobs DEFERRABLE INITIALLY DEFERRED"
         " FOR EACH ROW EXECUTE FUNCTION test_refuse_boom()");
  w.commit();
}

}  // namespace

TEST_CASE("submit_batch: one transaction, every job queued with its submit event") {
  migrated_db db;
  auto s = open_store(db.url());
  std::vector<submit_request> reqs{request("a"), request("b", 5), request("c")};
  reqs[1].pinned = true;
  // Each its own spec and text that needs escaping: the rows' JSON is written by hand, and the
  // answers carry the requests' specs rather than the ones read back.
  for (std::size_t i = 0; i < reqs.size(); ++i)
    reqs[i].spec = {{"ocr", "auto"}, {"n", i}, {"note", "\"quoted\" \\ tab\t \u00e9t\u00e9 \xe2\x9c\x93"}};
  reqs[2].source_filename = "a \"b\" \\c\n\u00fc.pdf";
  reqs[0].api_key_id = "key \"x\"";
  auto res = s->submit_batch(reqs);
  REQUIRE(res);
  REQUIRE(res->size() == 3);
  for (std::size_t i = 0; i < reqs.size(); ++i) {
    const auto& r = (*res)[i];
    REQUIRE(r);
    CHECK_FALSE(r->replayed);
    CHECK(r->job.id == reqs[i].id);
    CHECK(r->job.status == job_status::queued);
    CHECK(r->job.input_sha256 == reqs[i].input_sha256);
    // The answer is the row as stored.
    auto stored = s->get(reqs[i].id);
    REQUIRE(stored);
    CHECK(r->job.spec == reqs[i].spec);
    CHECK(stored->spec == reqs[i].spec);
    CHECK(stored->source_filename == reqs[i].source_filename);
    CHECK(stored->api_key_id == reqs[i].api_key_id);
    CHECK(r->job.source_filename == stored->source_filename);
    CHECK(r->job.created_at == stored->created_at);
    CHECK(r->job.max_attempts == stored->max_attempts);
    CHECK(r->job.input_bytes == stored->input_bytes);
    auto ev = s->events(reqs[i].id);
    REQUIRE(ev);
    REQUIRE(ev->size() == 1);
    CHECK(ev->front().reason == "submitted");
  }
  CHECK((*res)[1]->job.priority == 5);
  CHECK((*res)[1]->job.pinned);
  // Claimable like any other job.
  auto claimed = s->claim("w", 10, 60s);
  REQUIRE(claimed);
  CHECK(claimed->size() == 3);
}

TEST_CASE("submit_batch: idempotency keys inside one batch behave as consecutive submits") {
  migrated_db db;
  auto s = open_store(db.url());
  auto first = keyed("k1", "payload-1");
  auto same = keyed("k1", "payload-1");        // same key, same payload: replay of `first`
  auto other = keyed("k1", "payload-2");       // same key, another payload: conflict
  auto plain = request("no key");
  auto second_key = keyed("k2", "payload-1");  // another key: a job of its own
  auto res = s->submit_batch({first, same, other, plain, second_key});
  REQUIRE(res);
  REQUIRE(res->size() == 5);
  REQUIRE((*res)[0]);
  CHECK_FALSE((*res)[0]->replayed);
  CHECK((*res)[0]->job.id == first.id);
  REQUIRE((*res)[1]);
  CHECK((*res)[1]->replayed);
  CHECK((*res)[1]->job.id == first.id);
  REQUIRE_FALSE((*res)[2]);
  CHECK((*res)[2].err().code == errc::idempotency_conflict);
  REQUIRE((*res)[3]);
  CHECK((*res)[3]->job.id == plain.id);
  REQUIRE((*res)[4]);
  CHECK((*res)[4]->job.id == second_key.id);
  CHECK(count_rows(db.url(), "SELECT count(*) FROM jobs") == 3);

  // Later, alone: the key still points at the first job.
  auto again = s->submit(keyed("k1", "payload-1"));
  REQUIRE(again);
  CHECK(again->replayed);
  CHECK(again->job.id == first.id);
  auto conflict = s->submit(keyed("k1", "payload-3"));
  REQUIRE_FALSE(conflict);
  CHECK(conflict.err().code == errc::idempotency_conflict);
  // A key already committed by an earlier transaction is seen inside a later batch too.
  auto later = s->submit_batch({keyed("k2", "payload-1"), keyed("k2", "payload-9")});
  REQUIRE(later);
  REQUIRE((*later)[0]);
  CHECK((*later)[0]->replayed);
  CHECK((*later)[0]->job.id == second_key.id);
  REQUIRE_FALSE((*later)[1]);
  CHECK((*later)[1].err().code == errc::idempotency_conflict);
}

TEST_CASE("submit_batch: text that is not UTF-8 fails its own request, the others go in one INSERT") {
  migrated_db db;
  auto s = open_store(db.url());
  auto good1 = request("1"), bad = request("2"), good2 = request("3");
  bad.source_filename = std::string("bad\xff\xfe.pdf");  // cannot be serialised as JSON
  auto res = s->submit_batch({good1, bad, good2});
  REQUIRE(res);
  REQUIRE((*res)[0]);
  CHECK((*res)[0]->job.id == good1.id);
  REQUIRE_FALSE((*res)[1]);
  REQUIRE((*res)[2]);
  CHECK((*res)[2]->job.id == good2.id);
  CHECK(count_rows(db.url(), "SELECT count(*) FROM jobs") == 2);
}

TEST_CASE("submit_batch: a request the schema or validation refuses fails alone") {
  migrated_db db;
  auto s = open_store(db.url());
  auto good1 = request("1"), bad_attempts = request("2"), good2 = request("3"), bad_id = request("4");
  bad_attempts.max_attempts = 0;  // CHECK (max_attempts BETWEEN 1 AND 100): the bulk INSERT fails
  bad_id.id = "not-an-id";
  auto res = s->submit_batch({good1, bad_attempts, good2, bad_id});
  REQUIRE(res);
  INFO(((*res)[0] ? std::string("ok") : (*res)[0].err().message));
  REQUIRE((*res)[0]);
  CHECK((*res)[0]->job.id == good1.id);
  REQUIRE_FALSE((*res)[1]);
  CHECK((*res)[1].err().code == errc::invalid_argument);
  REQUIRE((*res)[2]);
  CHECK((*res)[2]->job.id == good2.id);
  REQUIRE_FALSE((*res)[3]);
  CHECK((*res)[3].err().code == errc::invalid_argument);
  CHECK(count_rows(db.url(), "SELECT count(*) FROM jobs") == 2);
  CHECK(count_rows(db.url(), "SELECT count(*) FROM job_events") == 2);
}

TEST_CASE("submit_batch: a COMMIT that fails fails the whole batch and leaves no row") {
  migrated_db db;
  arm_commit_failure(db.url());
  auto s = open_store(db.url());
  auto a = request("a"), b = keyed("k", "b"), boom = request("c");
  boom.source_filename = "boom";
  auto res = s->submit_batch({a, b, boom});
  REQUIRE_FALSE(res);
  CHECK(res.err().message.find("commit refused") != std::string::npos);
  CHECK(count_rows(db.url(), "SELECT count(*) FROM jobs") == 0);
  CHECK(count_rows(db.url(), "SELECT count(*) FROM idempotency_keys") == 0);
  CHECK(count_rows(db.url(), "SELECT count(*) FROM job_events") == 0);
  // The store (and its connection) is still usable, and the key was never taken.
  auto ok = s->submit_batch({a, b});
  REQUIRE(ok);
  REQUIRE((*ok)[0]);
  REQUIRE((*ok)[1]);
  CHECK_FALSE((*ok)[1]->replayed);
}

TEST_CASE("submit_batch: plain submits only: one autocommit INSERT, and its failures stay whole") {
  migrated_db db;
  arm_commit_failure(db.url());
  auto s = open_store(db.url());
  // The common case: every row in, every request answered with its own job.
  auto a = request("a"), b = request("b");
  auto res = s->submit_batch({a, b});
  REQUIRE(res);
  REQUIRE((*res)[0]);
  REQUIRE((*res)[1]);
  CHECK((*res)[0]->job.id == a.id);
  CHECK((*res)[1]->job.id == b.id);
  CHECK(count_rows(db.url(), "SELECT count(*) FROM job_events") == 2);
  // A check that fails at the end of the statement (here: a deferred constraint trigger): nothing
  // of the autocommit INSERT stays, the batch goes row by row in one transaction, whose COMMIT
  // fails the same way: no request is accepted, no row is left.
  auto c = request("c"), boom = request("d");
  boom.source_filename = "boom";
  auto failed = s->submit_batch({c, boom});
  REQUIRE_FALSE(failed);
  CHECK(count_rows(db.url(), "SELECT count(*) FROM jobs") == 2);
  // The backend dies in the middle of the statement: the batch fails as unreachable, nothing is
  // inserted, and the next batch goes through on a new connection.
  {
    pqxx::connection admin(db.url());
    pqxx::work w(admin);
    w.exec("CREATE FUNCTION test_die() RETURNS trigger LANGUAGE plpgsql AS $$"
           " BEGIN IF NEW.source_filename = 'die' THEN PERFORM pg_terminate_backend(pg_backend_pid());"
           " PERFORM pg_sleep(5); END IF; RETURN NULL; END $$");
    w.exec("CREATE TRIGGER test_die AFTER INSERT ON jobs FOR EACH ROW EXECUTE FUNCTION test_die()");
    w.commit();
  }
  auto e = request("e"), die = request("f");
  die.source_filename = "die";
  auto lost = s->submit_batch({e, die});
  REQUIRE_FALSE(lost);
  CHECK(lost.err().code == errc::database_unreachable);
  CHECK(count_rows(db.url(), "SELECT count(*) FROM jobs") == 2);
  auto after = s->submit_batch({e});
  REQUIRE(after);
  REQUIRE((*after)[0]);
  CHECK(count_rows(db.url(), "SELECT count(*) FROM jobs") == 3);
}

TEST_CASE("submit_batcher: the NOTIFY for other replicas comes after the answers; submit_batch can leave it out") {
  migrated_db db;
  auto listener = work_listener::open(db.url(), "prod");
  REQUIRE(listener);
  REQUIRE((*listener)->wait(100ms));  // drain the initial wake-up, if any
  // submit_batch without the announcement: nothing wakes the listener (its timeout does).
  auto s = open_store(db.url());
  auto quiet = s->submit_batch({request("quiet")}, /*announce=*/false);
  REQUIRE(quiet);
  REQUIRE((*quiet)[0]);
  auto woke = (*listener)->wait(300ms);
  REQUIRE(woke);
  CHECK_FALSE(*woke);
  // Through the batcher: answered, then announced.
  submit_batcher b({.database_url = db.url(), .profile = "prod"});
  auto r = b.submit(request("loud"));
  REQUIRE(r);
  woke = (*listener)->wait(10s);
  REQUIRE(woke);
  CHECK(*woke);
}

TEST_CASE("submit_batcher: concurrent callers share one transaction and each gets its own answer") {
  migrated_db db;
  batcher_options bo;
  bo.connections = 1;
  bo.min_batch_for_testing = 4;  // the first batch waits until all four are queued
  submit_batcher batcher(options_for(db.url()), bo);
  std::vector<submit_request> reqs{request("1"), keyed("k", "x"), keyed("k", "y"), request("4")};
  std::vector<std::optional<result<submit_result>>> got(reqs.size());
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < reqs.size(); ++i)
    threads.emplace_back([&, i] { got[i] = batcher.submit(reqs[i]); });
  for (auto& t : threads) t.join();
  auto st = batcher.statistics();
  CHECK(st.batches == 1);
  CHECK(st.largest_batch == 4);
  // Which of the two keyed requests came first depends on the threads; exactly one owns the key.
  int owners = 0, conflicts = 0;
  for (std::size_t i = 0; i < reqs.size(); ++i) {
    REQUIRE(got[i]);
    if (!reqs[i].idempotency_key) {
      REQUIRE(*got[i]);
      CHECK((*got[i])->job.id == reqs[i].id);
    } else if (*got[i]) {
      ++owners;
      CHECK((*got[i])->job.id == reqs[i].id);
    } else {
      ++conflicts;
      CHECK(got[i]->err().code == errc::idempotency_conflict);
    }
  }
  CHECK(owners == 1);
  CHECK(conflicts == 1);
  CHECK(count_rows(db.url(), "SELECT count(*) FROM jobs") == 3);
}

TEST_CASE("submit_batcher: a failed batch fails every caller in it") {
  migrated_db db;
  arm_commit_failure(db.url());
  batcher_options bo;
  bo.connections = 1;
  bo.min_batch_for_testing = 3;
  submit_batcher batcher(options_for(db.url()), bo);
  std::vector<submit_request> reqs{request("1"), request("2"), request("3")};
  reqs[2].source_filename = "boom";
  std::vector<std::optional<result<submit_result>>> got(reqs.size());
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < reqs.size(); ++i)
    threads.emplace_back([&, i] { got[i] = batcher.submit(reqs[i]); });
  for (auto& t : threads) t.join();
  for (auto& g : got) {
    REQUIRE(g);
    REQUIRE_FALSE(*g);
    CHECK(g->err().message.find("commit refused") != std::string::npos);
  }
  CHECK(count_rows(db.url(), "SELECT count(*) FROM jobs") == 0);
}

TEST_CASE("submit_batcher: many threads, few connections: every job exactly once") {
  migrated_db db;
  batcher_options bo;
  bo.connections = 2;
  bo.max_batch = 16;
  submit_batcher batcher(options_for(db.url()), bo);
  constexpr int threads_n = 24, per_thread = 25;
  std::mutex mu;
  std::set<std::string> accepted;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < threads_n; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < per_thread; ++i) {
        auto r = request("t" + std::to_string(t) + "-" + std::to_string(i));
        if (i % 5 == 0) r.idempotency_key = "key-" + std::to_string(t) + "-" + std::to_string(i);
        auto res = batcher.submit(r);
        if (!res || res->job.id != r.id || res->replayed) {
          ++failures;
          continue;
        }
        std::lock_guard l(mu);
        accepted.insert(res->job.id);
      }
    });
  for (auto& th : threads) th.join();
  CHECK(failures.load() == 0);
  CHECK(accepted.size() == static_cast<std::size_t>(threads_n * per_thread));
  CHECK(count_rows(db.url(), "SELECT count(*) FROM jobs") == threads_n * per_thread);
  CHECK(count_rows(db.url(), "SELECT count(*) FROM job_events") == threads_n * per_thread);
  auto st = batcher.statistics();
  CHECK(st.requests == threads_n * per_thread);
  CHECK(st.largest_batch <= 16);
}

TEST_CASE("accept path: input durable, then the batch fails: only an orphan input, which reconcile removes") {
  migrated_db db;
  arm_commit_failure(db.url());
  char tmpl[] = "/tmp/quire-batch-root.XXXXXX";
  std::filesystem::path dir = mkdtemp(tmpl);
  auto files = artifact_store::open(dir / "lane", "prod");
  REQUIRE(files);
  submit_batcher batcher(options_for(db.url()));
  auto req = request("%PDF-1.4 orphan");
  req.source_filename = "boom";
  REQUIRE(files->write_file(req.id, "input.pdf", "%PDF-1.4 orphan"));  // step 1: input durable
  auto res = batcher.submit(req);                                      // step 2: the commit fails
  REQUIRE_FALSE(res);
  CHECK(files->exists(req.id, "input.pdf"));  // what a crash right here would leave behind
  auto s = open_store(db.url());
  REQUIRE_FALSE(s->get(req.id));
  reconcile_options ro;
  ro.orphan_grace = 0s;
  ro.verify_limit = 0;
  auto rep = reconcile(*s, *files, ro);
  REQUIRE(rep);
  CHECK(rep->orphan_dirs_removed == 1);
  CHECK_FALSE(files->exists(req.id, "input.pdf"));
  std::filesystem::remove_all(dir);
}
