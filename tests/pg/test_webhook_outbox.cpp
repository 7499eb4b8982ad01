// The webhook outbox (migrations/0005_webhook_outbox.sql, job_store's webhook calls): every
// terminal event of a job with notify.url gets exactly one row, written with the transition;
// claims share rows across stores (SKIP LOCKED), hold a claimed row for its attempt, retry with
// the caller's backoff, give up after the retry period and fence late reports.
#include <set>

#include "pg_fixture.hpp"

using namespace quire::storage;
using namespace quire::storage::testing;
using namespace std::chrono_literals;

namespace {
const time_point t0 = time_point{} + std::chrono::hours(24 * 365 * 56);

submit_request notified(const std::string& payload, int max_attempts = 3) {
  auto r = request(payload, 0, max_attempts);
  r.spec["notify"] = {{"url", "http://127.0.0.1:9/hook"}};
  return r;
}

lease claim_one(job_store& s, const std::string& id, std::chrono::milliseconds lease_for = 5min) {
  auto c = s.claim("w", 100, lease_for);
  REQUIRE(c);
  std::optional<lease> mine;
  for (auto& cj : *c) {
    if (cj.job.id == id) mine = cj.lease;
    else REQUIRE(s.release(cj.lease, "test"));
  }
  REQUIRE(mine);
  return *mine;
}

long rows(const std::string& url, const std::string& where) {
  pqxx::connection c(url);
  pqxx::nontransaction n(c);
  return n.exec1("SELECT count(*) FROM webhook_deliveries WHERE " + where)[0].as<long>();
}
}  // namespace

TEST_CASE("each terminal event of a job with notify.url writes exactly one outbox row", "[pg][webhooks]") {
  migrated_db db;
  auto s = open_store(db.url());
  REQUIRE(s->set_clock_for_testing(t0));
  const auto ok = submit_ok(*s, notified("ok"));
  const auto bad = submit_ok(*s, notified("bad"));
  const auto retried = submit_ok(*s, notified("retried", 1));
  const auto canceled = submit_ok(*s, notified("canceled"));
  const auto silent = submit_ok(*s, request("no notify"));

  // Non-terminal transitions write nothing: claim, retryable failure back to queued.
  auto l = claim_one(*s, bad.id);
  REQUIRE(s->fail(l, {"worker_crashed", "boom", true}));
  CHECK(rows(db.url(), "true") == 0);
  REQUIRE(s->set_clock_for_testing(t0 + 1min));  // past the retry's backoff

  REQUIRE(s->complete(claim_one(*s, ok.id), {5, sha_of("md"), 1}));
  REQUIRE(s->fail(claim_one(*s, bad.id), {"pdf_unreadable", "no", false}));
  REQUIRE(s->cancel(canceled.id, "client"));
  claim_one(*s, retried.id, 1s);  // attempts exhausted when its lease runs out
  REQUIRE(s->set_clock_for_testing(t0 + 2min));
  auto rescued = s->rescue_expired();
  REQUIRE(rescued);
  CHECK(rescued->size() == 1);
  REQUIRE(s->complete(claim_one(*s, silent.id), {5, sha_of("md"), 1}));

  // A transition that rolls back leaves no row.
  {
    pqxx::connection c(db.url());
    pqxx::work w(c);
    const auto q = submit_ok(*s, notified("rolled back"));
    w.exec_params("UPDATE jobs SET status = 'canceled', finished_at = now() WHERE id = $1", q.id);
    CHECK(w.exec_params1("SELECT count(*) FROM webhook_deliveries WHERE job_id = $1", q.id)[0].as<long>() == 1);
    w.abort();
    CHECK(rows(db.url(), "job_id = '" + q.id + "'") == 0);
  }

  // Retention expires the finished ones: a second event each.
  REQUIRE(s->set_clock_for_testing(t0 + std::chrono::hours(24 * 8)));
  retention_policy p;
  auto swept = s->sweep(p);
  REQUIRE(swept);
  CHECK(swept->jobs_expired.size() == 5);

  CHECK(rows(db.url(), "true") == 8);
  CHECK(rows(db.url(), "job_id = '" + silent.id + "'") == 0);
  for (const auto& [id, first] : std::vector<std::pair<std::string, std::string>>{
           {ok.id, "succeeded"}, {bad.id, "failed"}, {canceled.id, "canceled"}, {retried.id, "failed"}}) {
    CHECK(rows(db.url(), "id = 'msg_" + id + "_" + first + "' AND event = 'job." + first + "' AND state = 'pending'") == 1);
    CHECK(rows(db.url(), "id = 'msg_" + id + "_expired' AND event = 'job.expired'") == 1);
    CHECK(rows(db.url(), "job_id = '" + id + "'") == 2);
  }
  // The row carries the job as the transition left it, and GET shows the delivery state.
  auto got = s->get(ok.id);
  REQUIRE(got);
  REQUIRE(got->webhooks.is_array());
  REQUIRE(got->webhooks.size() == 2);
  CHECK(got->webhooks[0]["webhook_id"] == "msg_" + ok.id + "_succeeded");
  CHECK(got->webhooks[0]["state"] == "pending");
  CHECK(got->webhooks[1]["event"] == "job.expired");
  auto plain = s->get(silent.id);
  REQUIRE(plain);
  CHECK(plain->webhooks.is_null());
}

TEST_CASE("webhook deliveries: claim, hold, backoff, fencing and give-up", "[pg][webhooks]") {
  migrated_db db;
  auto s = open_store(db.url());
  REQUIRE(s->set_clock_for_testing(t0));
  const auto a = submit_ok(*s, notified("a"));
  REQUIRE(s->complete(claim_one(*s, a.id), {5, sha_of("md"), 1}));

  auto c1 = s->claim_webhooks(10, 40s);
  REQUIRE(c1);
  REQUIRE(c1->size() == 1);
  const auto d1 = c1->front();
  CHECK(d1.id == "msg_" + a.id + "_succeeded");
  CHECK(d1.event == "job.succeeded");
  CHECK(d1.url == "http://127.0.0.1:9/hook");
  CHECK(d1.attempt == 1);
  CHECK(d1.job.id == a.id);
  CHECK(d1.job.status == job_status::succeeded);
  CHECK(d1.job.result_sha256 == sha_of("md"));
  CHECK(d1.job.spec["notify"]["url"] == "http://127.0.0.1:9/hook");
  CHECK(s->claim_webhooks(10, 40s)->empty());  // held while the attempt runs

  // The claimer died without reporting: after the hold the row is claimed again (at least once).
  REQUIRE(s->set_clock_for_testing(t0 + 41s));
  auto c2 = s->claim_webhooks(10, 40s);
  REQUIRE(c2);
  REQUIRE(c2->size() == 1);
  const auto d2 = c2->front();
  CHECK(d2.attempt == 2);
  // The superseded attempt's late report changes nothing.
  CHECK(*s->webhook_delivered(d1, 200) == false);
  CHECK(!s->webhook_failed(d1, 500, "late", 1s, 3600s));

  // A failure: due again after the backoff the caller chose, not before.
  auto st = s->webhook_failed(d2, 503, "HTTP 503", 10s, 3600s);
  REQUIRE(st);
  CHECK(*st == webhook_state::pending);
  REQUIRE(s->set_clock_for_testing(t0 + 50s));
  CHECK(s->claim_webhooks(10, 40s)->empty());
  auto backlog = s->webhook_backlog();
  REQUIRE(backlog);
  CHECK(backlog->first == 1);
  CHECK(backlog->second == Approx(50).margin(1));
  auto shown = s->get(a.id);
  REQUIRE(shown);
  CHECK(shown->webhooks[0]["attempts"] == 2);
  CHECK(shown->webhooks[0]["last_status"] == 503);
  CHECK(shown->webhooks[0]["last_error"] == "HTTP 503");
  CHECK(shown->webhooks[0]["next_attempt_at"].is_string());
  REQUIRE(s->set_clock_for_testing(t0 + 52s));
  auto c3 = s->claim_webhooks(10, 40s);
  REQUIRE(c3);
  REQUIRE(c3->size() == 1);
  CHECK(*s->webhook_delivered(c3->front(), 204) == true);
  CHECK(s->claim_webhooks(10, 40s)->empty());
  shown = s->get(a.id);
  CHECK(shown->webhooks[0]["state"] == "delivered");
  CHECK(shown->webhooks[0]["attempts"] == 3);
  CHECK(shown->webhooks[0]["next_attempt_at"].is_null());
  CHECK(shown->webhooks[0]["finished_at"].is_string());

  // Give-up: a failure whose next attempt would fall past the retry period ends the delivery.
  const auto b = submit_ok(*s, notified("b"));
  REQUIRE(s->cancel(b.id, "client"));  // at t0 + 52s
  REQUIRE(s->set_clock_for_testing(t0 + 52s + 50min));
  auto c4 = s->claim_webhooks(10, 40s);
  REQUIRE(c4);
  REQUIRE(c4->size() == 1);
  CHECK(*s->webhook_failed(c4->front(), 0, "connection refused", 5min, 3600s) == webhook_state::pending);
  REQUIRE(s->set_clock_for_testing(t0 + 52s + 56min));
  auto c5 = s->claim_webhooks(10, 40s);
  REQUIRE(c5->size() == 1);
  CHECK(*s->webhook_failed(c5->front(), 0, "connection refused", 10min, 3600s) == webhook_state::failed);
  CHECK(s->claim_webhooks(10, 40s)->empty());
  CHECK(s->webhook_backlog()->first == 0);
  CHECK(rows(db.url(), "state = 'failed' AND finished_at IS NOT NULL AND last_error = 'connection refused'") == 1);

  // Finished rows are pruned after the keep period, pending ones never.
  REQUIRE(s->set_clock_for_testing(t0 + std::chrono::hours(3)));
  CHECK(*s->prune_webhooks(std::chrono::hours(4)) == 0);
  CHECK(*s->prune_webhooks(std::chrono::hours(1)) == 2);
}

TEST_CASE("webhook claims from several stores never hand out the same delivery", "[pg][webhooks]") {
  migrated_db db;
  auto s1 = open_store(db.url());
  auto s2 = open_store(db.url());
  for (int i = 0; i < 10; ++i) {
    auto j = submit_ok(*s1, notified("job " + std::to_string(i)));
    REQUIRE(s1->cancel(j.id, "client"));
  }
  std::set<std::string> seen;
  for (int round = 0; round < 5; ++round)
    for (auto* s : {s1.get(), s2.get()}) {
      auto c = s->claim_webhooks(1, 60s);
      REQUIRE(c);
      REQUIRE(c->size() == 1);
      CHECK(seen.insert(c->front().id).second);
    }
  CHECK(seen.size() == 10);
  CHECK(s1->claim_webhooks(5, 60s)->empty());
  // Another profile's deliveries are not this lane's.
  CHECK(open_store(db.url(), "eval")->claim_webhooks(5, 60s)->empty());
}
