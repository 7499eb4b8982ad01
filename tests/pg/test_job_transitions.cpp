// Every transition of the job state machine against a real PostgreSQL: the legal ones through
// job_store, the refused ones (wrong state, wrong lease, stale attempt), backoff and
// max_attempts, and the database's own guard (trigger + CHECKs) agreeing with job_state.hpp.
#include "pg_fixture.hpp"

using namespace quire::storage;
using namespace quire::storage::testing;
using namespace std::chrono_literals;

namespace {
const auto lease_5m = std::chrono::milliseconds(5min);
const time_point t0 = time_point{} + std::chrono::hours(24 * 365 * 56);  // ~2026, pinned

claimed_job claim_one(job_store& s, const std::string& owner = "w1") {
  auto c = s.claim(owner, 1, lease_5m);
  if (!c) FAIL("claim: " << c.err().message);
  if (c->size() != 1) FAIL("claim returned " << c->size() << " jobs");
  return std::move(c->front());
}

completion result_of(const std::string& md) { return completion{static_cast<std::int64_t>(md.size()), sha_of(md), 3}; }

std::vector<std::string> reasons(job_store& s, const std::string& id) {
  std::vector<std::string> out;
  auto ev = s.events(id);
  REQUIRE(ev);
  for (const auto& e : *ev) out.push_back(fmt::format("{}>{}:{}", e.from ? to_string(*e.from) : "-", to_string(e.to), e.reason));
  return out;
}
}  // namespace

TEST_CASE("happy path: submit, claim, renew, progress, complete") {
  migrated_db db;
  auto s = open_store(db.url());
  REQUIRE(s->set_clock_for_testing(t0));
  auto req = request("hello");
  auto job = submit_ok(*s, req);
  CHECK(job.id == req.id);
  CHECK(job.status == job_status::queued);
  CHECK(job.attempt == 0);
  CHECK(job.created_at == t0);
  CHECK(job.input_sha256 == req.input_sha256);
  CHECK(job.spec == req.spec);

  auto c = claim_one(*s);
  CHECK(c.job.status == job_status::running);
  CHECK(c.lease.attempt == 1);
  CHECK(c.lease.expires_at == t0 + 5min);
  CHECK(c.job.lease_owner == "w1");

  REQUIRE(s->set_clock_for_testing(t0 + 1min));
  auto r = s->renew(c.lease, lease_5m);
  REQUIRE(r);
  CHECK(r->expires_at == t0 + 6min);
  auto p = s->progress(c.lease, 2, 3, lease_5m);
  REQUIRE(p);
  auto mid = s->get(job.id);
  REQUIRE(mid);
  CHECK(mid->pages_done == 2);
  CHECK(mid->pages_total == 3);
  CHECK(mid->heartbeat_at == t0 + 1min);

  auto done = s->complete(c.lease, result_of("# md"));
  REQUIRE(done);
  CHECK(done->status == job_status::succeeded);
  CHECK(done->result_sha256 == sha_of("# md"));
  CHECK(done->finished_at == t0 + 1min);
  CHECK(done->expires_at == t0 + 1min + std::chrono::hours(24 * 7));
  CHECK_FALSE(done->lease_owner.has_value());
  CHECK(reasons(*s, job.id) == std::vector<std::string>{"->queued:submitted", "queued>running:claimed",
                                                         "running>succeeded:completed"});
  auto ev = s->events(job.id);
  CHECK((*ev)[2].worker == "w1");
  CHECK((*ev)[2].attempt == 1);
}

TEST_CASE("lease-holder calls are fenced by owner and attempt") {
  migrated_db db;
  auto s = open_store(db.url());
  REQUIRE(s->set_clock_for_testing(t0));
  auto job = submit_ok(*s, request());
  auto c = claim_one(*s, "w1");

  lease other = c.lease;
  other.owner = "w2";
  auto r = s->complete(other, result_of("x"));
  REQUIRE_FALSE(r);
  CHECK(r.err().code == errc::lease_lost);
  CHECK(current_status(r.err()) == job_status::running);

  // The lease expires, is rescued and re-claimed by w1 itself: the old attempt is now stale.
  REQUIRE(s->set_clock_for_testing(t0 + 10min));
  auto rescued = s->rescue_expired();
  REQUIRE(rescued);
  CHECK(*rescued == std::vector<std::string>{job.id});
  REQUIRE(s->set_clock_for_testing(t0 + 1h));  // past the retry backoff
  auto c2 = claim_one(*s, "w1");
  CHECK(c2.lease.attempt == 2);
  auto stale = s->complete(c.lease, result_of("late"));
  REQUIRE_FALSE(stale);
  CHECK(stale.err().code == errc::lease_lost);
  auto stale_renew = s->renew(c.lease, lease_5m);
  REQUIRE_FALSE(stale_renew);
  CHECK(stale_renew.err().code == errc::lease_lost);
  REQUIRE(s->complete(c2.lease, result_of("fresh")));
  auto after = s->complete(c2.lease, result_of("twice"));
  REQUIRE_FALSE(after);
  CHECK(after.err().code == errc::lease_lost);
  CHECK(current_status(after.err()) == job_status::succeeded);
  CHECK(s->get(job.id)->result_sha256 == sha_of("fresh"));
}

TEST_CASE("retryable failures back off exponentially until max_attempts, then fail") {
  migrated_db db;
  auto s = open_store(db.url());  // backoff base 10 s, cap 5 min, ±20 % jitter
  REQUIRE(s->set_clock_for_testing(t0));
  auto job = submit_ok(*s, request("p", 0, 3));
  auto now = t0;
  for (int attempt = 1; attempt <= 3; ++attempt) {
    REQUIRE(s->set_clock_for_testing(now));
    auto c = claim_one(*s);
    CHECK(c.lease.attempt == attempt);
    auto f = s->fail(c.lease, {"worker_crashed", "worker exited with signal 9", true});
    REQUIRE(f);
    if (attempt < 3) {
      CHECK(f->status == job_status::queued);
      CHECK(f->error->code == "worker_crashed");
      const double expected = 10.0 * (1 << (attempt - 1));
      const double got = std::chrono::duration<double>(f->next_attempt_at - now).count();
      CHECK(got >= expected * 0.8 - 0.001);
      CHECK(got <= expected * 1.2 + 0.001);
      // Not claimable during the backoff …
      auto early = s->claim("w1", 1, lease_5m);
      REQUIRE(early);
      CHECK(early->empty());
      // … and claimable right after it.
      now = f->next_attempt_at + 1s;
    } else {
      CHECK(f->status == job_status::failed);
      CHECK(f->error->retryable);
      CHECK(f->finished_at == now);
    }
  }
  auto ev = reasons(*s, job.id);
  CHECK(ev.back() == "running>failed:worker_crashed");
  CHECK(std::count(ev.begin(), ev.end(), "running>queued:worker_crashed") == 2);
}

TEST_CASE("backoff is capped at backoff_max") {
  migrated_db db;
  auto o = options_for(db.url());
  o.backoff_base = 100s;
  o.backoff_max = 150s;
  auto s = std::move(*job_store::open(o));
  REQUIRE(s->set_clock_for_testing(t0));
  submit_ok(*s, request("p", 0, 5));
  auto c = claim_one(*s);
  auto f = s->fail(c.lease, {"timeout", "t", true});
  REQUIRE(f);
  REQUIRE(s->set_clock_for_testing(f->next_attempt_at));
  auto c2 = claim_one(*s);
  auto f2 = s->fail(c2.lease, {"timeout", "t", true});  // 200 s uncapped
  REQUIRE(f2);
  const double got = std::chrono::duration<double>(f2->next_attempt_at - f->next_attempt_at).count();
  CHECK(got <= 150 * 1.2 + 0.001);
  CHECK(got >= 150 * 0.8 - 0.001);
}

TEST_CASE("a non-retryable failure fails at once") {
  migrated_db db;
  auto s = open_store(db.url());
  auto job = submit_ok(*s, request("p", 0, 5));
  auto c = claim_one(*s);
  auto f = s->fail(c.lease, {"pdf_unreadable", "not a PDF", false});
  REQUIRE(f);
  CHECK(f->status == job_status::failed);
  CHECK(f->attempt == 1);
  CHECK_FALSE(f->error->retryable);
  CHECK(f->error->message == "not a PDF");
}

TEST_CASE("release hands a job back without spending an attempt") {
  migrated_db db;
  auto s = open_store(db.url());
  auto job = submit_ok(*s, request("p", 0, 1));
  auto c = claim_one(*s);
  auto r = s->release(c.lease, "draining");
  REQUIRE(r);
  CHECK(r->status == job_status::queued);
  CHECK(r->attempt == 0);
  auto c2 = claim_one(*s, "w2");  // claimable at once, and max_attempts = 1 still allows it
  CHECK(c2.lease.attempt == 1);
  CHECK(reasons(*s, job.id)[2] == "running>queued:draining");
}

TEST_CASE("defer hands a job back unspent, claimable only after the delay, with the error kept") {
  migrated_db db;
  auto s = open_store(db.url());
  REQUIRE(s->set_clock_for_testing(t0));
  auto job = submit_ok(*s, request("p", 0, 1));  // max_attempts 1: a spent attempt would be the last
  auto c = claim_one(*s);
  auto d = s->defer(c.lease, {"storage_full", "no space left for result.md", true}, std::chrono::milliseconds(30s));
  REQUIRE(d);
  CHECK(d->status == job_status::queued);
  CHECK(d->attempt == 0);
  REQUIRE(d->error);
  CHECK(d->error->code == "storage_full");
  CHECK(d->error->retryable);
  CHECK_FALSE(d->lease_owner);
  auto early = s->claim("w2", 1, lease_5m);
  REQUIRE(early);
  CHECK(early->empty());  // not before the delay
  REQUIRE(s->set_clock_for_testing(t0 + 31s));
  auto c2 = claim_one(*s, "w2");
  CHECK(c2.lease.attempt == 1);
  CHECK(reasons(*s, job.id)[2] == "running>queued:storage_full");
  // Fenced like every lease-holder call: the old lease cannot defer the new attempt.
  auto stale = s->defer(c.lease, {"storage_full", "x", true}, std::chrono::milliseconds(1s));
  REQUIRE_FALSE(stale);
  CHECK(stale.err().code == errc::lease_lost);
  // And it finishes normally afterwards.
  CHECK(s->complete(c2.lease, result_of("# ok")));
}

TEST_CASE("cancel: queued and running jobs, the lease holder learns it, finished jobs refuse") {
  migrated_db db;
  auto s = open_store(db.url());
  auto q = submit_ok(*s, request("a"));
  auto cq = s->cancel(q.id, "client");
  REQUIRE(cq);
  CHECK(cq->status == job_status::canceled);
  CHECK(cq->finished_at.has_value());
  auto again = s->cancel(q.id, "client");
  REQUIRE_FALSE(again);
  CHECK(again.err().code == errc::illegal_transition);
  CHECK(current_status(again.err()) == job_status::canceled);

  auto r = submit_ok(*s, request("b"));
  auto c = claim_one(*s);
  REQUIRE(c.job.id == r.id);
  REQUIRE(s->cancel(r.id, "client"));
  auto renew = s->renew(c.lease, lease_5m);
  REQUIRE_FALSE(renew);
  CHECK(renew.err().code == errc::job_canceled);
  auto late = s->complete(c.lease, result_of("late"));
  REQUIRE_FALSE(late);
  CHECK(late.err().code == errc::job_canceled);
  CHECK(s->get(r.id)->status == job_status::canceled);
  CHECK_FALSE(s->get(r.id)->result_sha256.has_value());
  auto ev = s->events(r.id);
  CHECK(ev->back().worker == "w1");  // the holder at the time of cancel, for the audit trail

  auto d = submit_ok(*s, request("c"));
  auto cd = claim_one(*s);
  REQUIRE(s->complete(cd.lease, result_of("ok")));
  auto cancel_done = s->cancel(d.id, "client");
  REQUIRE_FALSE(cancel_done);
  CHECK(cancel_done.err().code == errc::illegal_transition);
  CHECK(current_status(cancel_done.err()) == job_status::succeeded);

  auto missing = s->cancel(new_job_id(), "client");
  REQUIRE_FALSE(missing);
  CHECK(missing.err().code == errc::job_not_found);
  CHECK(s->get("not-an-id").err().code == errc::job_not_found);
}

TEST_CASE("rescue: only expired leases, exhausted attempts fail with lease_expired") {
  migrated_db db;
  auto s = open_store(db.url());
  REQUIRE(s->set_clock_for_testing(t0));
  auto a = submit_ok(*s, request("a", 0, 1));
  REQUIRE(s->set_clock_for_testing(t0 + 1s));
  auto b = submit_ok(*s, request("b", 0, 3));
  REQUIRE(s->set_clock_for_testing(t0));
  auto ca = claim_one(*s, "w1");
  REQUIRE(ca.job.id == a.id);
  REQUIRE(s->set_clock_for_testing(t0 + 4min));
  auto cb = claim_one(*s, "w1");
  REQUIRE(s->set_clock_for_testing(t0 + 6min));  // a expired, b has until t0+9min
  auto r = s->rescue_expired();
  REQUIRE(r);
  CHECK(*r == std::vector<std::string>{a.id});
  auto ja = s->get(a.id);
  CHECK(ja->status == job_status::failed);  // max_attempts 1
  REQUIRE(ja->error);
  CHECK(ja->error->code == "lease_expired");
  CHECK(ja->error->retryable);
  CHECK(s->get(b.id)->status == job_status::running);
  auto renewed = s->renew(cb.lease, lease_5m);
  REQUIRE(renewed);  // a holder that heartbeats keeps its job
  REQUIRE(s->set_clock_for_testing(t0 + 10min));
  CHECK(s->rescue_expired()->empty());
}

TEST_CASE("claim order: priority first, then age, next_attempt_at honoured") {
  migrated_db db;
  auto s = open_store(db.url());
  std::vector<std::string> ids;
  for (int i = 0; i < 4; ++i) {
    REQUIRE(s->set_clock_for_testing(t0 + std::chrono::seconds(i)));
    ids.push_back(submit_ok(*s, request(std::to_string(i), i == 2 ? 5 : 0)).id);
  }
  REQUIRE(s->set_clock_for_testing(t0 + 1min));
  auto c = s->claim("w", 3, lease_5m);
  REQUIRE(c);
  REQUIRE(c->size() == 3);
  CHECK((*c)[0].job.id == ids[2]);
  CHECK((*c)[1].job.id == ids[0]);
  CHECK((*c)[2].job.id == ids[1]);
}

TEST_CASE("invalid arguments are refused before reaching the database") {
  migrated_db db;
  auto s = open_store(db.url());
  auto bad = request();
  bad.id = "UPPER";
  CHECK(s->submit(bad).err().code == errc::invalid_argument);
  auto bad_sha = request();
  bad_sha.input_sha256 = "abc";
  CHECK(s->submit(bad_sha).err().code == errc::invalid_argument);
  auto bad_attempts = request();
  bad_attempts.max_attempts = 0;
  CHECK(s->submit(bad_attempts).err().code == errc::invalid_argument);  // CHECK constraint
  CHECK(s->claim("", 1, lease_5m).err().code == errc::invalid_argument);
  auto dup = request();
  submit_ok(*s, dup);
  CHECK(s->submit(dup).err().code == errc::invalid_argument);  // same id twice
  submit_ok(*s, request());
  auto c = claim_one(*s);
  auto over = s->progress(c.lease, 5, 3, lease_5m);  // pages_done > pages_total
  REQUIRE_FALSE(over);
  CHECK(over.err().code == errc::invalid_argument);
  CHECK(s->renew(c.lease, lease_5m));  // the store is still usable after a refused statement
}

// The database enforces the same machine as job_state.hpp, even for hand-written SQL: for every
// (from, to) pair, an UPDATE that satisfies the row CHECKs of `to` is accepted iff the header
// lists the transition.
TEST_CASE("the database trigger agrees with job_state.hpp on every (from, to) pair") {
  migrated_db db;
  auto s = open_store(db.url());
  const std::map<job_status, std::string> fields_for = {
      {job_status::queued, "lease_owner = NULL, lease_expires_at = NULL, heartbeat_at = NULL, finished_at = NULL,"
                           " expired_from = NULL, result_bytes = NULL, result_sha256 = NULL"},
      {job_status::running, "lease_owner = 'x', lease_expires_at = now(), heartbeat_at = now(), started_at = now(),"
                            " attempt = greatest(attempt, 1), finished_at = NULL, expired_from = NULL,"
                            " result_bytes = NULL, result_sha256 = NULL"},
      {job_status::succeeded, "lease_owner = NULL, lease_expires_at = NULL, heartbeat_at = NULL, finished_at = now(),"
                              " expired_from = NULL, result_bytes = 1, result_sha256 = repeat('a', 64)"},
      {job_status::failed, "lease_owner = NULL, lease_expires_at = NULL, heartbeat_at = NULL, finished_at = now(),"
                           " expired_from = NULL, result_bytes = NULL, result_sha256 = NULL, error_code = 'e',"
                           " error_message = 'm', error_retryable = false"},
      {job_status::canceled, "lease_owner = NULL, lease_expires_at = NULL, heartbeat_at = NULL, finished_at = now(),"
                             " expired_from = NULL, result_bytes = NULL, result_sha256 = NULL"},
      {job_status::expired, "lease_owner = NULL, lease_expires_at = NULL, heartbeat_at = NULL, finished_at = now(),"
                            " expired_from = 'canceled', result_bytes = NULL, result_sha256 = NULL"},
  };
  // Put one job in each state through the API.
  std::map<job_status, std::string> job_in;
  job_in[job_status::queued] = submit_ok(*s, request("q")).id;
  auto make_running = [&] {
    auto id = submit_ok(*s, request()).id;
    auto c = s->claim("w", 100, lease_5m);
    for (auto& cj : *c)
      if (cj.job.id != id) REQUIRE(s->release(cj.lease, "x"));
    return std::find_if(c->begin(), c->end(), [&](auto& cj) { return cj.job.id == id; })->lease;
  };
  job_in[job_status::running] = make_running().job_id;
  auto l1 = make_running();
  REQUIRE(s->complete(l1, result_of("r")));
  job_in[job_status::succeeded] = l1.job_id;
  auto l2 = make_running();
  REQUIRE(s->fail(l2, {"e", "m", false}));
  job_in[job_status::failed] = l2.job_id;
  auto cx = submit_ok(*s, request("c")).id;
  REQUIRE(s->cancel(cx, "x"));
  job_in[job_status::canceled] = cx;
  auto ex = submit_ok(*s, request("e")).id;
  REQUIRE(s->cancel(ex, "x"));
  {
    pqxx::connection c(db.url());
    pqxx::work w(c);
    w.exec("UPDATE jobs SET status = 'expired', expired_from = 'canceled' WHERE id = " + w.quote(ex));
    w.commit();
  }
  job_in[job_status::expired] = ex;
  for (auto& [from, id] : job_in) REQUIRE(s->get(id)->status == from);

  pqxx::connection c(db.url());
  for (const auto& [from, id] : job_in) {
    for (const auto& [to, fields] : fields_for) {
      if (from == to) continue;
      pqxx::work w(c);
      bool accepted = true;
      std::string why;
      try {
        w.exec(fmt::format("UPDATE jobs SET status = '{}', {} WHERE id = {}", to_string(to), fields, w.quote(id)));
      } catch (const pqxx::sql_error& e) {
        accepted = false;
        why = e.what();
      }
      w.abort();  // leave the job where it was for the next pair
      INFO(to_string(from) << " -> " << to_string(to) << ": " << why);
      CHECK(accepted == is_legal(from, to));
      if (!accepted) CHECK(why.find("illegal job transition") != std::string::npos);
    }
  }
}

TEST_CASE("CHECK constraints make illegal rows impossible") {
  migrated_db db;
  auto s = open_store(db.url());
  auto id = submit_ok(*s, request()).id;
  pqxx::connection c(db.url());
  auto refused = [&](const std::string& sql) {
    pqxx::work w(c);
    try {
      w.exec(sql);
    } catch (const pqxx::sql_error&) {
      return true;
    }
    return false;
  };
  const std::string where = " WHERE id = '" + id + "'";
  CHECK(refused("UPDATE jobs SET status = 'running'" + where));  // running without a lease
  CHECK(refused("UPDATE jobs SET lease_owner = 'w', lease_expires_at = now(), heartbeat_at = now()" + where));
  CHECK(refused("UPDATE jobs SET status = 'succeeded', finished_at = now()" + where));  // no result hash
  CHECK(refused("UPDATE jobs SET status = 'failed', finished_at = now()" + where));     // no error
  CHECK(refused("UPDATE jobs SET result_sha256 = repeat('a', 64), result_bytes = 1" + where));  // not succeeded
  CHECK(refused("UPDATE jobs SET attempt = 4" + where));                                        // > max_attempts
  CHECK(refused("UPDATE jobs SET pages_total = 1, pages_done = 2" + where));
  CHECK(refused("UPDATE jobs SET finished_at = now()" + where));                                // queued, finished?
  CHECK(refused("INSERT INTO jobs (id, profile, status, input_bytes, input_sha256) VALUES ('" + new_job_id() +
                "', 'prod', 'running', 1, repeat('a', 64))"));
  CHECK(refused("INSERT INTO jobs (id, profile, input_bytes, input_sha256) VALUES ('../etc', 'prod', 1, repeat('a', 64))"));
  CHECK_FALSE(refused("UPDATE jobs SET priority = 7" + where));  // a legal edit goes through
}

TEST_CASE("events follow their job: written by the trigger, deleted with the job (no foreign key)") {
  migrated_db db;
  auto s = open_store(db.url());
  auto kept = submit_ok(*s, request("kept")).id;
  auto a = submit_ok(*s, request("a")).id;
  auto b = submit_ok(*s, request("b")).id;
  REQUIRE(s->cancel(a, "client"));
  pqxx::connection c(db.url());
  auto events_of = [&](const std::string& id) {
    pqxx::work w(c);
    return w.exec_params1("SELECT count(*) FROM job_events WHERE job_id = $1", id)[0].as<long>();
  };
  CHECK(events_of(a) == 2);  // submitted, canceled
  CHECK(events_of(b) == 1);
  {
    // One statement deleting several jobs (as the tombstone sweep does) takes all their events.
    pqxx::work w(c);
    w.exec_params0("DELETE FROM jobs WHERE id IN ($1, $2)", a, b);
    w.commit();
  }
  CHECK(events_of(a) == 0);
  CHECK(events_of(b) == 0);
  CHECK(events_of(kept) == 1);
  // Rolled back: the job and its events stay together.
  {
    pqxx::work w(c);
    w.exec_params0("DELETE FROM jobs WHERE id = $1", kept);
    w.abort();
  }
  CHECK(events_of(kept) == 1);
  {
    pqxx::work w(c);
    CHECK(w.exec1("SELECT count(*) FROM job_events e WHERE NOT EXISTS (SELECT 1 FROM jobs j WHERE j.id = e.job_id)")[0]
              .as<long>() == 0);
  }
  // A multi-row INSERT (a submit batch) gets one 'submitted' event per row from one statement
  // trigger; a row inserted in any other state than queued fails the whole statement there even
  // where the CHECKs would let it through (canceled needs nothing but finished_at).
  const auto x = new_job_id(), y = new_job_id(), z = new_job_id();
  {
    pqxx::work w(c);
    w.exec_params0("INSERT INTO jobs (id, profile, input_bytes, input_sha256) VALUES"
                   " ($1, 'prod', 1, repeat('a', 64)), ($2, 'prod', 1, repeat('b', 64))", x, y);
    w.commit();
  }
  CHECK(events_of(x) == 1);
  CHECK(events_of(y) == 1);
  {
    pqxx::work w(c);
    CHECK_THROWS_AS(w.exec_params0("INSERT INTO jobs (id, profile, input_bytes, input_sha256, status, finished_at)"
                                   " VALUES ($1, 'prod', 1, repeat('c', 64), 'canceled', now())", z),
                    pqxx::check_violation);
  }
  CHECK(events_of(z) == 0);
}
