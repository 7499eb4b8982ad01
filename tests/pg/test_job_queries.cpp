// Idempotency (replay, conflict, scope, expiry, concurrent same key), listing with a stable
// cursor, counts for metrics, and LISTEN/NOTIFY wake-ups, against a real PostgreSQL.
#include <atomic>
#include <set>
#include <thread>

#include "pg_fixture.hpp"

using namespace quire::storage;
using namespace quire::storage::testing;
using namespace std::chrono_literals;

namespace {
const time_point t0 = time_point{} + std::chrono::hours(24 * 365 * 56);
}

TEST_CASE("idempotency: same key + payload replays, another payload conflicts, keys are per API key") {
  migrated_db db;
  auto s = open_store(db.url());
  REQUIRE(s->set_clock_for_testing(t0));
  auto r1 = request("pdf-1");
  r1.idempotency_key = "k1";
  auto first = s->submit(r1);
  REQUIRE(first);
  CHECK_FALSE(first->replayed);

  auto r2 = request("pdf-1");  // a new id, same payload
  r2.idempotency_key = "k1";
  auto replay = s->submit(r2);
  REQUIRE(replay);
  CHECK(replay->replayed);
  CHECK(replay->job.id == r1.id);
  CHECK(s->get(r2.id).err().code == errc::job_not_found);  // the second id was not used

  auto r3 = request("pdf-2");
  r3.idempotency_key = "k1";
  auto conflict = s->submit(r3);
  REQUIRE_FALSE(conflict);
  CHECK(conflict.err().code == errc::idempotency_conflict);

  auto r4 = request("pdf-1");
  r4.idempotency_key = "k1";
  r4.spec = {{"ocr", "off"}};  // same file, different spec: a different payload
  CHECK(s->submit(r4).err().code == errc::idempotency_conflict);

  auto r5 = request("pdf-2");
  r5.idempotency_key = "k1";
  r5.api_key_id = "key-b";  // another client's key space
  auto other = s->submit(r5);
  REQUIRE(other);
  CHECK_FALSE(other->replayed);

  // 24 h later the key is forgotten: the same key makes a new job.
  REQUIRE(s->set_clock_for_testing(t0 + 24h + 1s));
  auto r6 = request("pdf-2");
  r6.idempotency_key = "k1";
  auto fresh = s->submit(r6);
  REQUIRE(fresh);
  CHECK_FALSE(fresh->replayed);
  CHECK(fresh->job.id == r6.id);
}

TEST_CASE("payload fingerprints ignore key order and depend on spec and file") {
  nlohmann::json a = nlohmann::json::parse(R"({"b":1,"a":{"y":2,"x":3}})");
  nlohmann::json b = nlohmann::json::parse(R"({"a":{"x":3,"y":2},"b":1})");
  CHECK(payload_fingerprint(a, sha_of("f")) == payload_fingerprint(b, sha_of("f")));
  CHECK(payload_fingerprint(a, sha_of("f")) != payload_fingerprint(a, sha_of("g")));
  CHECK(payload_fingerprint(a, sha_of("f")) != payload_fingerprint({{"b", 2}}, sha_of("f")));
}

TEST_CASE("concurrent submits with one idempotency key create exactly one job") {
  migrated_db db;
  constexpr int n = 8;
  std::vector<std::string> got(n);
  std::atomic<int> replays{0}, errors{0};
  std::vector<std::thread> ts;
  for (int i = 0; i < n; ++i)
    ts.emplace_back([&, i] {
      auto s = job_store::open(options_for(db.url()));
      if (!s) {
        ++errors;
        return;
      }
      auto r = request("same");
      r.idempotency_key = "race";
      auto res = (*s)->submit(r);
      if (!res) {
        ++errors;
        return;
      }
      got[i] = res->job.id;
      if (res->replayed) ++replays;
    });
  for (auto& t : ts) t.join();
  CHECK(errors == 0);
  CHECK(replays == n - 1);
  CHECK(std::set<std::string>(got.begin(), got.end()).size() == 1);
  auto s = open_store(db.url());
  CHECK(s->counts()->by_status[job_status::queued] == 1);
}

TEST_CASE("list: filters and a stable keyset cursor") {
  migrated_db db;
  auto s = open_store(db.url());
  std::vector<std::string> ids;
  for (int i = 0; i < 25; ++i) {
    REQUIRE(s->set_clock_for_testing(t0 + std::chrono::seconds(i / 2)));  // pairs share created_at
    auto r = request(std::to_string(i));
    if (i % 5 == 0) r.api_key_id = "key-b";
    ids.push_back(submit_ok(*s, r).id);
  }
  REQUIRE(s->cancel(ids[3], "x"));

  // Page through 7 at a time while new jobs arrive: the original 25 come out once each, in order.
  std::vector<std::string> seen;
  std::optional<std::string> cursor;
  int pages = 0;
  do {
    auto p = s->list({}, 7, cursor);
    REQUIRE(p);
    for (auto& j : p->jobs) seen.push_back(j.id);
    cursor = p->next_cursor;
    REQUIRE(s->set_clock_for_testing(t0 + 1h));
    submit_ok(*s, request("late"));  // newer than everything: must not shift later pages
    ++pages;
  } while (cursor && pages < 10);
  std::vector<std::string> original;
  for (auto& id : seen)
    if (std::find(ids.begin(), ids.end(), id) != ids.end()) original.push_back(id);
  REQUIRE(original.size() == 25);
  CHECK(std::set<std::string>(original.begin(), original.end()).size() == 25);
  CHECK(original.front() == ids[24]);  // newest first
  CHECK(original.back() == std::min(ids[0], ids[1]));  // ties on created_at: id DESC

  job_filter canceled;
  canceled.statuses = {job_status::canceled};
  auto pc = s->list(canceled, 100, std::nullopt);
  REQUIRE(pc);
  REQUIRE(pc->jobs.size() == 1);
  CHECK(pc->jobs[0].id == ids[3]);
  CHECK_FALSE(pc->next_cursor);

  job_filter by_key;
  by_key.api_key_id = "key-b";
  by_key.created_before = t0 + 10s;
  auto pk = s->list(by_key, 100, std::nullopt);
  REQUIRE(pk);
  CHECK(pk->jobs.size() == 4);  // i = 0, 5, 10, 15 (20 is at t0+10s, not before it)

  CHECK(s->list({}, 10, std::string("garbage")).err().code == errc::invalid_argument);
  CHECK(s->list({}, 0, std::nullopt).err().code == errc::invalid_argument);
}

TEST_CASE("counts cover every status and expired leases") {
  migrated_db db;
  auto s = open_store(db.url());
  REQUIRE(s->set_clock_for_testing(t0));
  for (int i = 0; i < 4; ++i) submit_ok(*s, request(std::to_string(i)));
  auto c = s->claim("w", 2, 1min);
  REQUIRE(c);
  REQUIRE(s->complete((*c)[0].lease, {1, sha_of("x"), 1}));
  REQUIRE(s->set_clock_for_testing(t0 + 2min));
  auto n = s->counts();
  REQUIRE(n);
  CHECK(n->by_status.size() == 6);
  CHECK(n->by_status[job_status::queued] == 2);
  CHECK(n->by_status[job_status::running] == 1);
  CHECK(n->by_status[job_status::succeeded] == 1);
  CHECK(n->by_status[job_status::failed] == 0);
  CHECK(n->leases_expired == 1);
  CHECK(n->oldest_queued_age_seconds == Approx(120.0));

  // Another profile's store sees none of them.
  auto eval = open_store(db.url(), "eval");
  CHECK(eval->counts()->by_status[job_status::queued] == 0);
  CHECK(eval->claim("w", 10, 1min)->empty());
}

TEST_CASE("active_counts: queued and running from their indexes, whatever the number of finished jobs") {
  migrated_db db;
  auto s = open_store(db.url());
  REQUIRE(s->set_clock_for_testing(t0));
  // Many finished jobs (what a long retention keeps), a few queued and running.
  {
    pqxx::connection c(db.url());
    pqxx::work w(c);
    // Rows go in queued (a trigger insists), then are canceled: finished, kept until they expire.
    w.exec("INSERT INTO jobs (id, profile, input_bytes, input_sha256)"
           " SELECT translate(lpad(to_hex(g), 26, 'q'), '0189', 'wxyz'), 'prod', 1, repeat('a', 64)"
           " FROM generate_series(1, 20000) g");
    w.exec("UPDATE jobs SET status = 'canceled', status_reason = 'canceled', finished_at = quire_now(),"
           " expires_at = quire_now() + interval '7 days'");
    w.commit();
  }
  for (int i = 0; i < 4; ++i) submit_ok(*s, request(std::to_string(i)));
  auto c = s->claim("w", 1, 1min);
  REQUIRE(c);
  // Steady state: autovacuum has removed the canceled rows' entries from the queued-jobs index.
  // A fresh connection, so that no earlier statement's statistics arrive during the measurement.
  s.reset();
  {
    pqxx::connection a(db.url());
    pqxx::nontransaction n(a);
    n.exec("VACUUM ANALYZE jobs");
  }
  s = open_store(db.url());
  REQUIRE(s->set_clock_for_testing(t0 + 2min));
  // Sequential scans of jobs, index scans of it and index entries read (any index of jobs).
  auto scans = [&] {
    pqxx::connection watcher(db.url());
    pqxx::nontransaction q(watcher);
    return q.exec1("SELECT t.seq_scan, t.idx_scan, (SELECT sum(idx_tup_read) FROM pg_stat_user_indexes"
                   " WHERE relname = 'jobs') FROM pg_stat_user_tables t WHERE t.relname = 'jobs'");
  };
  const auto before = scans();
  auto n = s->active_counts();
  REQUIRE(n);
  CHECK(n->by_status.size() == 2);
  CHECK(n->by_status[job_status::queued] == 3);
  CHECK(n->by_status[job_status::running] == 1);
  CHECK(n->leases_expired == 1);
  CHECK(n->oldest_queued_age_seconds == Approx(120.0));
  s.reset();  // the backend flushes its statistics when it exits
  auto after = scans();
  for (int i = 0; i < 100 && after[1].as<std::int64_t>() == before[1].as<std::int64_t>(); ++i) {
    std::this_thread::sleep_for(100ms);
    after = scans();
  }
  CHECK(after[1].as<std::int64_t>() > before[1].as<std::int64_t>());  // read through the indexes
  CHECK(after[0].as<std::int64_t>() == before[0].as<std::int64_t>());  // never a scan of every job
  // ... and only the entries of the queued and running jobs, not of every job through another index.
  CHECK(after[2].as<std::int64_t>() - before[2].as<std::int64_t>() < 100);
  // The full count still sees everything.
  auto all = open_store(db.url())->counts();
  REQUIRE(all);
  CHECK(all->by_status[job_status::canceled] == 20000);

  auto eval = open_store(db.url(), "eval");
  auto none = eval->active_counts();
  REQUIRE(none);
  CHECK(none->by_status[job_status::queued] == 0);
  CHECK(none->by_status[job_status::running] == 0);
  CHECK(none->oldest_queued_age_seconds == 0);
}

TEST_CASE("LISTEN/NOTIFY wakes an idle coordinator when work arrives") {
  migrated_db db;
  auto l = work_listener::open(db.url(), "prod");
  REQUIRE(l);
  auto idle = (*l)->wait(200ms);
  REQUIRE(idle);
  CHECK_FALSE(*idle);

  auto s = open_store(db.url());
  std::thread producer([&] {
    std::this_thread::sleep_for(150ms);
    submit_ok(*s, request());
  });
  auto start = std::chrono::steady_clock::now();
  auto woke = (*l)->wait(10s);
  auto waited = std::chrono::steady_clock::now() - start;
  producer.join();
  REQUIRE(woke);
  CHECK(*woke);
  CHECK(waited < 5s);  // woken by the notification, not by the timeout

  // Work for another profile does not wake this listener.
  auto eval = open_store(db.url(), "eval");
  submit_ok(*eval, request());
  auto other = (*l)->wait(300ms);
  REQUIRE(other);
  CHECK_FALSE(*other);

  // A job that goes back to queued (retry) is announced too.
  auto c = s->claim("w", 1, 1min);
  REQUIRE(c->size() == 1);
  REQUIRE(s->release((*c)[0].lease, "drain"));
  auto requeued = (*l)->wait(5s);
  REQUIRE(requeued);
  CHECK(*requeued);
}

TEST_CASE("operator views answer") {
  migrated_db db;
  auto s = open_store(db.url());
  submit_ok(*s, request());
  auto c = s->claim("w", 1, 1min);
  REQUIRE(s->fail((*c)[0].lease, {"worker_crashed", "boom", true}));
  pqxx::connection conn(db.url());
  pqxx::read_transaction t(conn);
  CHECK(t.exec1("SELECT sum(jobs) FROM quire_overview")[0].as<long>() == 1);
  CHECK(t.exec1("SELECT count(*) FROM quire_retrying")[0].as<long>() == 1);
  CHECK(t.exec1("SELECT count(*) FROM quire_recent_failures WHERE reason = 'worker_crashed'")[0].as<long>() == 1);
  CHECK(t.exec1("SELECT count(*) FROM quire_job_history")[0].as<long>() == 3);
  CHECK(t.exec1("SELECT count(*) FROM quire_running")[0].as<long>() == 0);
  CHECK(t.exec1("SELECT count(*) FROM quire_stuck")[0].as<long>() == 0);
}

TEST_CASE("a connection the server closed while idle is replaced before the next call answers") {
  migrated_db db;
  auto s = open_store(db.url());
  auto job = submit_ok(*s, request());
  REQUIRE(s->set_clock_for_testing(t0));
  // pg_terminate_backend() only signals: the connections are closed once the backends have gone,
  // which is what a restarted database leaves behind (and what the next call must cope with).
  auto kill_store_backends = [&] {
    pqxx::connection admin(db.url());
    pqxx::nontransaction n(admin);
    // (OFFSET 0 keeps the filter apart: PostgreSQL may evaluate a WHERE clause's terms in any order)
    const auto killed = n.exec("SELECT pid, pg_terminate_backend(pid) FROM (SELECT pid FROM pg_stat_activity"
                               " WHERE datname = current_database() AND pid <> pg_backend_pid() OFFSET 0) others");
    for (int i = 0; i < 500; ++i) {
      bool alive = false;
      for (const auto& row : killed)
        alive = alive || n.exec_params1("SELECT count(*) FROM pg_stat_activity WHERE pid = $1", row[0].as<int>())[0]
                                 .as<int>() > 0;
      if (!alive) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return killed.size();
  };
  REQUIRE(kill_store_backends() >= 1);
  // A restarted or restarting database closes idle connections: the first call after it must not
  // fail for that (issue 16 item 5), but reconnect, re-prepare and re-apply the pinned clock.
  auto back = s->get(job.id);
  REQUIRE(back);
  CHECK(back->id == job.id);
  auto later = submit_ok(*s, request("after reconnect"));
  CHECK(later.created_at == t0);

  // The listener reconnects too, and says "claim anyway" because it may have missed a NOTIFY.
  auto l = work_listener::open(db.url(), "prod");
  REQUIRE(l);
  REQUIRE(kill_store_backends() >= 1);
  auto w1 = (*l)->wait(std::chrono::milliseconds(500));
  auto w2 = (*l)->wait(std::chrono::milliseconds(500));
  CHECK(((!w1 && w2 && *w2) || (w1 && *w1)));
}
