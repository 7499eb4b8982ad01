// End to end through the real binary: submit → poll → result, and the API's behaviours.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "lane.hpp"

using namespace quire::systest;
using namespace std::chrono_literals;

TEST_CASE("submit then poll then fetch: the Markdown equals that of quire convert") {
  lane l("e2e", {{"QUIRE_CPU_CONVERTERS", "2"}});
  l.svc.start();
  REQUIRE(l.svc.wait_ready(30s));
  const auto pdf = sample_pdf();
  auto r = submit(l.svc.port(), pdf, R"({"retention":{"pin":true}})", {{"X-Correlation-ID", "e2e-1"}});
  REQUIRE(r.status == 202);
  CHECK(r.headers["x-correlation-id"] == "e2e-1");
  const auto id = job_id_of(r);
  CHECK(r.headers["location"] == "/v1/convert/jobs/" + id);
  CHECK(r.json()["job"]["status"] == "queued");
  auto job = l.svc.wait_job(id, {"succeeded", "failed"}, 60s);
  REQUIRE(job.value("status", "") == "succeeded");
  CHECK(job["attempts"] == 1);
  CHECK(job["pinned"] == true);
  CHECK(job["progress"]["pages_done"] == job["progress"]["pages_total"]);
  CHECK(job["finished_at"].is_string());
  CHECK(job["expires_at"].is_string());

  int rc = 0;
  auto expected = run_capture(quire_bin() + " convert '" + sample_pdf_path() + "' 2>/dev/null", &rc);
  REQUIRE(rc == 0);
  auto md = http(l.svc.port(), "GET", "/v1/convert/jobs/" + id + "/result/markdown");
  CHECK(md.status == 200);
  CHECK(md.headers["content-type"] == "text/markdown; charset=utf-8");
  CHECK(md.body == expected);
  auto meta = http(l.svc.port(), "GET", "/v1/convert/jobs/" + id + "/result?inline=true").json()["result"];
  CHECK(meta["markdown_content"] == expected);
  CHECK(meta["size_bytes"] == expected.size());
  CHECK(meta["sha256"].get<std::string>().size() == 64);
  CHECK(meta["page_count"].get<int>() >= 1);

  // A raw application/pdf body with wait_seconds answers 200 with the finished job.
  auto raw = http(l.svc.port(), "POST", "/v1/convert/jobs?wait_seconds=20", {{"Content-Type", "application/pdf"}}, pdf);
  CHECK(raw.status == 200);
  CHECK(raw.json()["job"]["status"] == "succeeded");

  // A job that prefers a GPU runs wherever page analysis can run here (CPU without a device).
  auto prefer = submit(l.svc.port(), pdf, R"({"execution":{"acceleration_policy":"gpu_prefer"}})", {},
                       "?wait_seconds=20");
  CHECK(prefer.status == 200);
  CHECK(prefer.json()["job"]["status"] == "succeeded");

  // Each submit went through a batch whose uploads one grouped sync made durable, and each
  // result was synced the same way before its job completed.
  CHECK(metric(l.svc.port(), "quire_submit_batch_size_count") >= 3);
  CHECK(metric(l.svc.port(), "quire_data_sync_seconds_count{for=\"submit\"}") >= 1);
  CHECK(metric(l.svc.port(), "quire_data_sync_seconds_count{for=\"result\"}") >= 3);
  // Jobs by state: queued and running from each readiness check (a snapshot: the check after the
  // last job finished shows none running), the finished states from the sweeper's count (its
  // first at start, before any of these jobs finished).
  auto settled = [&] {
    return metric(l.svc.port(), "quire_jobs{state=\"queued\"}") == 0 &&
           metric(l.svc.port(), "quire_jobs{state=\"running\"}") == 0;
  };
  const auto until = std::chrono::steady_clock::now() + 20s;
  while (!settled() && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(200ms);
  CHECK(settled());
  CHECK(metric(l.svc.port(), "quire_jobs{state=\"succeeded\"}") >= 0);
  CHECK(metric(l.svc.port(), "quire_jobs{state=\"expired\"}") == 0);
  CHECK(metric(l.svc.port(), "quire_queue_oldest_age_seconds") == 0);
  CHECK(metric(l.svc.port(), "quire_leases_expired") == 0);

  // The data root holds the input, the result and a manifest for an operator.
  std::ifstream manifest(l.root + "/jobs/" + id.substr(0, 2) + "/" + id + "/manifest.json");
  CHECK(manifest.good());
}

TEST_CASE("idempotency and list with cursor and cancel of a queued and a running job") {
  lane l("api", {{"QUIRE_CPU_CONVERTERS", "1"}});
  l.svc.start();
  REQUIRE(l.svc.wait_ready(30s));
  const int port = l.svc.port();

  auto a = submit(port, sample_pdf(), "", {{"Idempotency-Key", "k-1"}});
  auto b = submit(port, sample_pdf(), "", {{"Idempotency-Key", "k-1"}});
  REQUIRE(a.status == 202);
  CHECK(job_id_of(b) == job_id_of(a));
  CHECK(b.headers["x-idempotent-replay"] == "true");
  auto c = submit(port, sample_pdf(), R"({"execution":{"priority":5}})", {{"Idempotency-Key", "k-1"}});
  CHECK(c.status == 409);
  CHECK(c.json()["error"]["code"] == "idempotency_conflict");
  l.svc.wait_job(job_id_of(a), {"succeeded"}, 60s);

  // One slow job occupies the only converter; the next one waits in the queue.
  auto slow = submit(port, sample_pdf("QUIRE_TEST_SLOW"));
  auto running = l.svc.wait_job(job_id_of(slow), {"running"}, 30s);
  REQUIRE(running.value("status", "") == "running");
  auto queued = submit(port, sample_pdf());
  auto q = http(port, "POST", "/v1/convert/jobs/" + job_id_of(queued) + "/cancel");
  CHECK(q.status == 200);
  CHECK(q.json()["job"]["status"] == "canceled");
  auto again = http(port, "POST", "/v1/convert/jobs/" + job_id_of(queued) + "/cancel");
  CHECK(again.status == 409);
  CHECK(again.json()["error"]["code"] == "job_not_cancelable");
  auto rc = http(port, "POST", "/v1/convert/jobs/" + job_id_of(slow) + "/cancel");
  CHECK(rc.json()["job"]["status"] == "canceled");
  auto res = http(port, "GET", "/v1/convert/jobs/" + job_id_of(slow) + "/result");
  CHECK(res.status == 409);
  CHECK(res.json()["error"]["code"] == "job_not_succeeded");
  // The worker killed for the cancel is replaced: the next job still converts.
  auto after = submit(port, sample_pdf());
  CHECK(l.svc.wait_job(job_id_of(after), {"succeeded", "failed"}, 60s).value("status", "") == "succeeded");

  // Four jobs so far; pages of two walk all of them exactly once.
  std::set<std::string> seen;
  std::string cursor;
  int pages = 0;
  do {
    auto page = http(port, "GET", "/v1/convert/jobs?limit=2" + (cursor.empty() ? "" : "&cursor=" + cursor)).json();
    for (auto& j : page["jobs"]) CHECK(seen.insert(j["job_id"].get<std::string>()).second);
    cursor = page["next_cursor"].is_null() ? "" : page["next_cursor"].get<std::string>();
    ++pages;
  } while (!cursor.empty() && pages < 10);
  CHECK(seen.size() == 4);
  auto canceled = http(port, "GET", "/v1/convert/jobs?status=canceled").json();
  CHECK(canceled["jobs"].size() == 2);
  CHECK(http(port, "GET", "/v1/convert/jobs/" + std::string(26, 'a')).json()["error"]["code"] == "job_not_found");
}

TEST_CASE("auth and limits and malformed requests") {
  lane l("limits", {{"QUIRE_API_KEYS", "key-alpha,key-beta"}, {"QUIRE_MAX_UPLOAD_BYTES", "300000"}});
  l.svc.start();
  REQUIRE(l.svc.wait_ready(30s));
  const int port = l.svc.port();
  const std::map<std::string, std::string> alpha{{"X-API-Key", "key-alpha"}};

  CHECK(submit(port, sample_pdf()).status == 401);
  CHECK(submit(port, sample_pdf(), "", {{"X-API-Key", "key-gamma"}}).status == 401);
  auto ok = submit(port, sample_pdf(), "", {{"Authorization", "Bearer key-alpha"}});
  CHECK(ok.status == 202);
  // Another key does not see the job.
  CHECK(http(port, "GET", "/v1/convert/jobs/" + job_id_of(ok), {{"X-API-Key", "key-beta"}}).status == 404);
  CHECK(http(port, "GET", "/v1/convert/jobs/" + job_id_of(ok), alpha).status == 200);
  CHECK(http(port, "GET", "/livez").status == 200);
  CHECK(http(port, "GET", "/metrics").status == 200);

  auto big = submit(port, sample_pdf() + std::string(400000, ' '), "", alpha);
  CHECK(big.status == 413);
  CHECK(big.json()["error"]["code"] == "payload_too_large");
  auto spec = submit(port, sample_pdf(), R"({"conversion":{"ocr":"sometimes"}})", alpha);
  CHECK(spec.status == 422);
  CHECK(spec.json()["error"]["details"]["field"] == "conversion.ocr");
  auto notpdf = submit(port, "hello", "", alpha);
  CHECK(notpdf.status == 422);
  auto text = http(port, "POST", "/v1/convert/jobs", {{"X-API-Key", "key-alpha"}, {"Content-Type", "text/plain"}}, "x");
  CHECK(text.status == 415);
  auto broken = http(port, "POST", "/v1/convert/jobs",
                     {{"X-API-Key", "key-alpha"}, {"Content-Type", "multipart/form-data; boundary=zz"}}, "--zz\r\nbad");
  CHECK(broken.status == 400);
  auto nowhere = http(port, "GET", "/v2/everything");
  CHECK(nowhere.status == 404);
  CHECK(nowhere.json()["api_version"] == "v1");
  CHECK(nowhere.json()["error"]["correlation_id"] == nowhere.headers["x-correlation-id"]);
  CHECK(http(port, "PUT", "/v1/convert/jobs", alpha).status == 405);

  auto info = http(port, "GET", "/v1/info").json();
  CHECK(info["profile"] == "eval");
  CHECK(info["capabilities"]["auth"] == "api_key");
  auto openapi = http(port, "GET", "/openapi.json").json();
  CHECK(openapi["paths"].contains("/v1/convert/jobs/{job_id}/result"));

  // /metrics is valid Prometheus text (promtool, when installed).
  auto metrics = http(port, "GET", "/metrics").body;
  CHECK(metrics.find("quire_http_requests_total{method=\"POST\",route=\"/v1/convert/jobs\",status=\"401\"} 2") !=
        std::string::npos);
  if (run_capture("command -v promtool").find("promtool") != std::string::npos) {
    std::string path = l.root + "/../metrics.txt";
    std::ofstream(path) << metrics;
    int rc = 0;
    auto out = run_capture("promtool check metrics < " + path, &rc);
    INFO(out);
    CHECK(rc == 0);
  }
}

TEST_CASE("retention expires finished jobs into tombstones but never pinned ones") {
  lane l("retention", {{"QUIRE_SWEEP_INTERVAL_SECONDS", "1"}, {"QUIRE_RESULT_RETENTION_HOURS", "0"},
                       {"QUIRE_INPUT_RETENTION_HOURS", "0"}});
  l.svc.start();
  REQUIRE(l.svc.wait_ready(30s));
  // Both with every result format: retention removes them with the job, like result.md.
  auto plain = job_id_of(submit(l.svc.port(), sample_pdf(), R"({"conversion":{"formats":["json","chunks","text"]}})"));
  auto pinned = job_id_of(
      submit(l.svc.port(), sample_pdf(), R"({"conversion":{"formats":["json","chunks","text"]},"retention":{"pin":true}})"));
  REQUIRE(l.svc.wait_job(plain, {"succeeded"}, 60s).value("status", "") == "succeeded");
  REQUIRE(l.svc.wait_job(pinned, {"succeeded"}, 60s).value("status", "") == "succeeded");
  http_response gone;
  for (int i = 0; i < 100 && gone.status != 410; ++i) {
    std::this_thread::sleep_for(200ms);
    gone = http(l.svc.port(), "GET", "/v1/convert/jobs/" + plain);
  }
  CHECK(gone.status == 410);
  CHECK(gone.json()["error"]["code"] == "job_expired");
  CHECK(http(l.svc.port(), "GET", "/v1/convert/jobs/" + plain + "/result").status == 410);
  // The sweep commits the tombstone first and removes the files right after: allow it that moment.
  const std::string dir = l.root + "/jobs/" + plain.substr(0, 2) + "/" + plain;
  const std::string input = l.root + "/inputs/" + plain.substr(0, 2) + "/" + plain + ".pdf";
  for (int i = 0; i < 50 && (std::filesystem::exists(dir) || std::filesystem::exists(input)); ++i)
    std::this_thread::sleep_for(100ms);
  CHECK_FALSE(std::filesystem::exists(dir));
  CHECK_FALSE(std::filesystem::exists(input));
  auto kept = http(l.svc.port(), "GET", "/v1/convert/jobs/" + pinned + "/result/markdown");
  CHECK(kept.status == 200);
  const std::string pinned_dir = l.root + "/jobs/" + pinned.substr(0, 2) + "/" + pinned;
  for (const char* name : {"result.md", "document.json", "chunks.json", "result.txt"}) {
    INFO(name);
    CHECK(std::filesystem::exists(pinned_dir + "/" + name));  // what the expired job's dir held too
    CHECK_FALSE(std::filesystem::exists(dir + "/" + name));
  }
  CHECK(http(l.svc.port(), "GET", "/v1/convert/jobs/" + plain + "/result/json").status == 410);
  CHECK(http(l.svc.port(), "GET", "/v1/convert/jobs/" + pinned + "/result/json").status == 200);
}
