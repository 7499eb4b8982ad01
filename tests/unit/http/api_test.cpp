// The v1 API against a fake service: routing, envelope, auth, readiness gate, validation.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>
#include <set>

#include "http/api.hpp"

using namespace quire;
using json = nlohmann::json;

namespace {

struct fake_service : actors::service {
  actors::readiness_snapshot snap = actors::make_snapshot({}, 1);
  std::vector<actors::submission> submissions;
  std::int64_t queued = 0;

  actors::readiness_snapshot readiness() const override { return snap; }
  json info() const override { return {{"profile", "eval"}}; }
  actors::api_result<actors::submitted> submit(const actors::submission& s) override {
    submissions.push_back(s);
    return actors::api_result<actors::submitted>::ok({{{"job_id", "j1"}, {"status", "queued"}}, false});
  }
  actors::api_result<json> get_job(const std::string& id, const std::string&) override {
    if (id != "j1") return actors::api_result<json>::fail("job_not_found", "no job " + id);
    return actors::api_result<json>::ok({{"job_id", "j1"}, {"status", "queued"}});
  }
  actors::api_result<json> wait_job(const std::string& id, const std::string& k, std::chrono::milliseconds) override {
    return get_job(id, k);
  }
  actors::api_result<actors::job_page> list_jobs(const actors::list_query& q, const std::string&) override {
    return actors::api_result<actors::job_page>::ok({{json{{"job_id", "j1"}, {"limit", q.limit}}}, ""});
  }
  actors::api_result<json> cancel_job(const std::string&, const std::string&) override {
    return actors::api_result<json>::fail("job_not_cancelable", "finished");
  }
  actors::api_result<actors::result_view> get_result(const std::string&, const std::string&, bool md) override {
    return actors::api_result<actors::result_view>::ok({{{"sha256", "ab"}, {"size_bytes", 3}}, md ? "# x" : ""});
  }
  actors::api_result<actors::result_view> get_artifact(const std::string&, const std::string&,
                                                       const std::string&) override {
    return actors::api_result<actors::result_view>::fail("artifact_not_found", "none");
  }
  std::int64_t queued_jobs() const override { return queued; }
  int gpus = 0;
  int working_gpu_converters() const override { return gpus; }
};

http::request req(std::string method, std::string path, std::map<std::string, std::string> headers = {}) {
  http::request r;
  r.method = std::move(method);
  r.path = std::move(path);
  r.headers = std::move(headers);
  return r;
}

std::string header(const http::response& r, const std::string& name) {
  for (auto& [k, v] : r.headers)
    if (k == name) return v;
  return {};
}

json body(const http::response& r) { return json::parse(r.body); }

const std::string kPdf = "%PDF-1.4\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n";

}  // namespace

TEST_CASE("health routes are open and everything else waits for readiness") {
  fake_service svc;
  actors::service_config cfg;
  http::api a(svc, cfg);
  svc.snap = actors::make_snapshot({{actors::reason::draining, "SIGTERM"},
                                    {actors::reason::database_unreachable, "down"}}, 5);
  CHECK(a.handle(req("GET", "/livez")).status == 200);
  auto r = a.handle(req("GET", "/readyz"));
  CHECK(r.status == 503);
  CHECK(body(r)["reasons"].size() == 2);
  CHECK(body(r)["reasons"][1]["code"] == "database_unreachable");
  CHECK(a.handle(req("GET", "/metrics")).status == 200);
  r = a.handle(req("GET", "/v1/convert/jobs/j1"));
  CHECK(r.status == 503);
  CHECK(body(r)["error"]["code"] == "not_ready");
  CHECK(body(r)["error"]["retryable"] == true);
  CHECK(body(r)["error"]["details"]["reasons"] == json::array({"draining", "database_unreachable"}));
  CHECK(header(r, "Retry-After") == "5");
  CHECK(a.handle(req("GET", "/v1/info")).status == 503);

  // Draining alone: new work is refused, reads still answer.
  svc.snap = actors::make_snapshot({{actors::reason::draining, "SIGTERM"}}, 6);
  auto post = req("POST", "/v1/convert/jobs", {{"content-type", "application/pdf"}});
  post.body = kPdf;
  CHECK(a.handle(post).status == 503);
  CHECK(a.handle(req("GET", "/v1/convert/jobs/j1")).status == 200);
  CHECK(svc.submissions.empty());

  svc.snap = actors::make_snapshot({}, 6);
  CHECK(a.handle(req("GET", "/readyz")).status == 200);
  CHECK(a.handle(req("GET", "/v1/convert/jobs/j1")).status == 200);
}

TEST_CASE("errors use the envelope and the correlation id is echoed or generated") {
  fake_service svc;
  actors::service_config cfg;
  http::api a(svc, cfg);
  auto r = a.handle(req("GET", "/v1/convert/jobs/nope", {{"x-correlation-id", "abc-123"}}));
  CHECK(r.status == 404);
  auto b = body(r);
  CHECK(b["api_version"] == "v1");
  CHECK(b["error"]["code"] == "job_not_found");
  CHECK(b["error"]["correlation_id"] == "abc-123");
  CHECK(b["error"]["details"].is_object());
  CHECK(header(r, "X-Correlation-ID") == "abc-123");

  r = a.handle(req("GET", "/nowhere", {{"x-correlation-id", "bad id with spaces"}}));
  CHECK(r.status == 404);
  CHECK(body(r)["error"]["code"] == "route_not_found");
  CHECK(header(r, "X-Correlation-ID").size() == 32);

  r = a.handle(req("DELETE", "/v1/convert/jobs/j1"));
  CHECK(r.status == 405);
  CHECK(header(r, "Allow") == "GET");
}

TEST_CASE("job routes need a valid API key when keys are configured") {
  fake_service svc;
  actors::service_config cfg;
  cfg.api_keys = {"secret-1", "secret-2"};
  http::api a(svc, cfg);
  CHECK(a.handle(req("GET", "/v1/convert/jobs/j1")).status == 401);
  CHECK(a.handle(req("GET", "/v1/convert/jobs/j1", {{"x-api-key", "wrong"}})).status == 401);
  CHECK(a.handle(req("GET", "/v1/convert/jobs/j1", {{"x-api-key", "secret-2"}})).status == 200);
  CHECK(a.handle(req("GET", "/v1/convert/jobs/j1", {{"authorization", "Bearer secret-1"}})).status == 200);
  CHECK(a.handle(req("GET", "/readyz")).status == 200);  // open
  CHECK(http::match_api_key(cfg.api_keys, "secret-1") != http::match_api_key(cfg.api_keys, "secret-2"));
  CHECK(http::match_api_key(cfg.api_keys, "secret-").empty());
}

TEST_CASE("submission: raw PDF, multipart, validation, limits, backpressure") {
  fake_service svc;
  actors::service_config cfg;
  cfg.max_upload_bytes = 200;
  http::api a(svc, cfg);

  auto raw = req("POST", "/v1/convert/jobs", {{"content-type", "application/pdf"}, {"idempotency-key", "k1"}});
  raw.body = kPdf;
  auto r = a.handle(raw);
  CHECK(r.status == 202);
  CHECK(header(r, "Location") == "/v1/convert/jobs/j1");
  REQUIRE(svc.submissions.size() == 1);
  CHECK(svc.submissions[0].idempotency_key == "k1");
  CHECK(svc.submissions[0].job_spec["execution"]["acceleration_policy"] == "cpu_only");

  auto mp = req("POST", "/v1/convert/jobs", {{"content-type", "multipart/form-data; boundary=XyZ"}});
  mp.body = "--XyZ\r\nContent-Disposition: form-data; name=\"job_spec\"\r\n\r\n"
            "{\"conversion\":{\"first_page\":2},\"retention\":{\"pin\":true}}\r\n"
            "--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.pdf\"\r\n"
            "Content-Type: application/pdf\r\n\r\n" + kPdf + "\r\n--XyZ--\r\n";
  r = a.handle(mp);
  CHECK(r.status == 202);
  REQUIRE(svc.submissions.size() == 2);
  CHECK(svc.submissions[1].pdf == kPdf);
  CHECK(svc.submissions[1].filename == "a.pdf");
  CHECK(svc.submissions[1].job_spec["conversion"]["first_page"] == 2);
  CHECK(svc.submissions[1].job_spec["retention"]["pin"] == true);

  auto bad_spec = mp;
  bad_spec.body.replace(bad_spec.body.find("first_page"), 10, "first_pagX");
  r = a.handle(bad_spec);
  CHECK(r.status == 422);
  CHECK(body(r)["error"]["details"]["field"] == "conversion.first_pagX");

  auto not_pdf = raw;
  not_pdf.body = "hello";
  CHECK(body(a.handle(not_pdf))["error"]["details"]["field"] == "file");
  auto big = raw;
  big.body = kPdf + std::string(300, ' ');
  CHECK(a.handle(big).status == 413);
  auto text = raw;
  text.headers["content-type"] = "text/plain";
  CHECK(a.handle(text).status == 415);
  auto wait = raw;
  wait.query["wait_seconds"] = "21";
  CHECK(a.handle(wait).status == 422);
  auto broken = mp;
  broken.body = "--XyZ\r\nno end";
  CHECK(body(a.handle(broken))["error"]["code"] == "bad_request");

  svc.queued = cfg.max_queue_depth;
  r = a.handle(raw);
  CHECK(r.status == 503);
  CHECK(body(r)["error"]["code"] == "queue_full");
  CHECK(svc.submissions.size() == 2);
}

TEST_CASE("list, result and cancel shapes") {
  fake_service svc;
  actors::service_config cfg;
  http::api a(svc, cfg);
  auto l = req("GET", "/v1/convert/jobs");
  l.query["limit"] = "7";
  auto r = a.handle(l);
  CHECK(r.status == 200);
  CHECK(body(r)["jobs"][0]["limit"] == 7);
  CHECK(body(r)["next_cursor"].is_null());
  l.query["status"] = "bogus";
  CHECK(a.handle(l).status == 422);

  auto res = req("GET", "/v1/convert/jobs/j1/result");
  res.query["inline"] = "true";
  r = a.handle(res);
  CHECK(body(r)["result"]["markdown_content"] == "# x");
  r = a.handle(req("GET", "/v1/convert/jobs/j1/result/markdown"));
  CHECK(r.body == "# x");
  CHECK(header(r, "Content-Type") == "text/markdown; charset=utf-8");
  r = a.handle(req("POST", "/v1/convert/jobs/j1/cancel"));
  CHECK(r.status == 409);
  CHECK(body(r)["error"]["code"] == "job_not_cancelable");
}

TEST_CASE("every served route and every error code is in the OpenAPI document") {
  auto doc = json::parse(http::openapi_json());
  for (const auto& [method, tmpl] : http::route_table()) {
    INFO(method << " " << tmpl);
    REQUIRE(doc["paths"].contains(tmpl));
    std::string m = method;
    std::transform(m.begin(), m.end(), m.begin(), ::tolower);
    CHECK(doc["paths"][tmpl].contains(m));
  }
  std::set<std::string> documented;
  for (auto& c : doc["components"]["schemas"]["ErrorEnvelope"]["properties"]["error"]["properties"]["code"]["enum"])
    documented.insert(c.get<std::string>());
  for (const auto& k : http::error_kinds()) CHECK(documented.count(k.code) == 1);
  CHECK(documented.size() == http::error_kinds().size());
}

TEST_CASE("requests are counted by route template in /metrics") {
  fake_service svc;
  actors::service_config cfg;
  http::api a(svc, cfg);
  a.handle(req("GET", "/v1/convert/jobs/j1"));
  auto text = a.handle(req("GET", "/metrics")).body;
  CHECK(text.find("quire_http_requests_total{method=\"GET\",route=\"/v1/convert/jobs/{job_id}\",status=\"200\"}") !=
        std::string::npos);
}

TEST_CASE("gpu_required is refused with 503 gpu_not_available while no GPU converter works") {
  fake_service svc;
  actors::service_config cfg;
  http::api a(svc, cfg);
  auto post = req("POST", "/v1/convert/jobs", {{"content-type", "application/pdf"}});
  post.query["job_spec"] = R"({"execution":{"acceleration_policy":"gpu_required"}})";
  post.body = kPdf;
  auto r = a.handle(post);
  CHECK(r.status == 503);
  CHECK(body(r)["error"]["code"] == "gpu_not_available");
  CHECK(body(r)["error"]["retryable"] == true);
  CHECK(svc.submissions.empty());
  // The other policies do not need a GPU at submit.
  post.query["job_spec"] = R"({"execution":{"acceleration_policy":"gpu_prefer"}})";
  CHECK(a.handle(post).status == 202);
  svc.gpus = 1;
  post.query["job_spec"] = R"({"execution":{"acceleration_policy":"gpu_required"}})";
  CHECK(a.handle(post).status == 202);
  CHECK(svc.submissions.size() == 2);
}
