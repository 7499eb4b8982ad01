// The v1 API against a fake service: routing, envelope, auth, readiness gate, validation.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>
#include <cstdio>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>
#include <unistd.h>

#include "http/api.hpp"
#include "http/multipart.hpp"
#include "http/routes.hpp"

using namespace quire;
using json = nlohmann::json;

namespace {

// Snapshots are stamped now: one older than a few readiness intervals counts as stalled.
std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// A well-formed job id (26 characters of [a-z2-7]) the fake knows, and one it does not.
const std::string kJob = "jjjjjjjjjjjjjjjjjjjjjjjjj3";
const std::string kOtherJob = "nnnnnnnnnnnnnnnnnnnnnnnnn2";

// A job record as the service answers it (the http layer renders the document).
storage::job_record record(const std::string& id) {
  storage::job_record j;
  j.id = id;
  j.status = storage::job_status::queued;
  return j;
}

struct fake_service : actors::service {
  actors::readiness_snapshot snap = actors::make_snapshot({}, now_ms());
  std::vector<actors::submission> submissions;
  std::optional<actors::list_query> listed;  // the last list query that reached the service
  std::int64_t queued = 0;

  actors::readiness_snapshot readiness() const override { return snap; }
  actors::service_info info() const override { return {}; }
  actors::api_result<actors::submitted> submit(const actors::submission& s) override {
    submissions.push_back(s);
    return actors::submitted{record(kJob), false};
  }
  actors::api_result<storage::job_record> get_job(const std::string& id, const std::string&) override {
    if (id != kJob) return actors::api_error{"job_not_found", "no job " + id};
    return record(kJob);
  }
  actors::api_result<storage::job_record> wait_job(const std::string& id, const std::string& k,
                                                   std::chrono::milliseconds) override {
    return get_job(id, k);
  }
  actors::api_result<actors::job_page> list_jobs(const actors::list_query& q, const std::string&) override {
    listed = q;
    return actors::job_page{{record(kJob)}, ""};
  }
  actors::api_result<storage::job_record> cancel_job(const std::string&, const std::string&) override {
    return actors::api_error{"job_not_cancelable", "finished"};
  }
  actors::api_result<actors::job_result> get_result(const std::string&, const std::string&, bool md) override {
    actors::job_result r;
    r.job = record(kJob);
    r.job.status = storage::job_status::succeeded;
    r.job.result_sha256 = "ab";
    r.job.result_bytes = 3;
    if (md) r.markdown = "# x";
    return r;
  }
  actors::api_result<actors::artifact> get_artifact(const std::string&, const std::string&,
                                                    const std::string&) override {
    return actors::api_error{"artifact_not_found", "none"};
  }
  // The job asked for markdown and json; chunks and text were not asked for.
  actors::api_result<actors::result_file> get_result_format(const std::string&, const std::string&,
                                                            const std::string& format) override {
    using f = actors::result_file;
    if (format == "markdown") return f{"result.md", "text/markdown", "# x", "ab"};
    if (format == "json") return f{"document.json", "application/json", R"({"blocks":[]})", "cd"};
    if (format == "chunks" || format == "text") return actors::api_error{"format_not_available", "not asked for"};
    return actors::api_error{"format_unknown", "no such format"};
  }
  std::uint64_t bundle_limit_seen = 0;
  actors::api_result<actors::result_files> get_result_files(const std::string&, const std::string&,
                                                            std::uint64_t max_bytes) override {
    bundle_limit_seen = max_bytes;
    return actors::result_files{{{"result.md", "text/markdown", "# x\n\n![](assets/img-p1-1.png)\n", ""},
          {"document.json", "application/json", R"({"blocks":[]})", ""},
          {"assets/img-p1-1.png", "image/png", "PNGDATA", ""}}};
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
                                    {actors::reason::database_unreachable, "down"}}, now_ms());
  CHECK(a.handle(req("GET", "/livez")).status == 200);
  auto r = a.handle(req("GET", "/readyz"));
  CHECK(r.status == 503);
  CHECK(body(r)["reasons"].size() == 2);
  CHECK(body(r)["reasons"][1]["code"] == "database_unreachable");
  CHECK(a.handle(req("GET", "/metrics")).status == 200);
  r = a.handle(req("GET", "/v1/convert/jobs/" + kJob));
  CHECK(r.status == 503);
  CHECK(body(r)["error"]["code"] == "not_ready");
  CHECK(body(r)["error"]["retryable"] == true);
  CHECK(body(r)["error"]["details"]["reasons"] == json::array({"draining", "database_unreachable"}));
  CHECK(header(r, "Retry-After") == "5");
  CHECK(a.handle(req("GET", "/v1/info")).status == 503);

  // Draining alone: new work is refused, reads still answer.
  svc.snap = actors::make_snapshot({{actors::reason::draining, "SIGTERM"}}, now_ms());
  auto post = req("POST", "/v1/convert/jobs", {{"content-type", "application/pdf"}});
  post.body = kPdf;
  CHECK(a.handle(post).status == 503);
  CHECK(a.handle(req("GET", "/v1/convert/jobs/" + kJob)).status == 200);
  CHECK(svc.submissions.empty());

  svc.snap = actors::make_snapshot({}, now_ms());
  CHECK(a.handle(req("GET", "/readyz")).status == 200);
  CHECK(a.handle(req("GET", "/v1/convert/jobs/" + kJob)).status == 200);
}

TEST_CASE("errors use the envelope and the correlation id is echoed or generated") {
  fake_service svc;
  actors::service_config cfg;
  http::api a(svc, cfg);
  auto r = a.handle(req("GET", "/v1/convert/jobs/" + kOtherJob, {{"x-correlation-id", "abc-123"}}));
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

  r = a.handle(req("DELETE", "/v1/convert/jobs/" + kJob));
  CHECK(r.status == 405);
  CHECK(header(r, "Allow") == "GET");
}

TEST_CASE("job routes need a valid API key when keys are configured") {
  fake_service svc;
  actors::service_config cfg;
  cfg.api_keys = {"secret-1", "secret-2"};
  http::api a(svc, cfg);
  CHECK(a.handle(req("GET", "/v1/convert/jobs/" + kJob)).status == 401);
  CHECK(a.handle(req("GET", "/v1/convert/jobs/" + kJob, {{"x-api-key", "wrong"}})).status == 401);
  CHECK(a.handle(req("GET", "/v1/convert/jobs/" + kJob, {{"x-api-key", "secret-2"}})).status == 200);
  CHECK(a.handle(req("GET", "/v1/convert/jobs/" + kJob, {{"authorization", "Bearer secret-1"}})).status == 200);
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
  CHECK(header(r, "Location") == "/v1/convert/jobs/" + kJob);
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

TEST_CASE("a job naming an OCR language the lane lacks is refused at submit with the installed ones") {
  fake_service svc;
  actors::service_config cfg;
  cfg.ocr_languages = {"eng", "fra"};
  http::api a(svc, cfg);
  auto raw = req("POST", "/v1/convert/jobs", {{"content-type", "application/pdf"}});
  raw.body = kPdf;
  raw.query["job_spec"] = R"({"conversion":{"ocr":"force","ocr_languages":"eng+deu"}})";
  auto r = a.handle(raw);
  CHECK(r.status == 422);
  CHECK(body(r)["error"]["code"] == "ocr_language_unavailable");
  CHECK(body(r)["error"]["retryable"] == false);
  CHECK(body(r)["error"]["details"]["field"] == "conversion.ocr_languages");
  CHECK(body(r)["error"]["details"]["missing"] == json{"deu"});
  CHECK(body(r)["error"]["details"]["installed"] == json{"eng", "fra"});
  CHECK(body(r)["error"]["message"] ==
        "conversion.ocr_languages: OCR language(s) not installed on this service: deu (GET /v1/info lists ocr_languages)");
  CHECK(svc.submissions.empty());

  raw.query["job_spec"] = R"({"conversion":{"ocr":"force","ocr_languages":"fra"}})";
  CHECK(a.handle(raw).status == 202);
  REQUIRE(svc.submissions.size() == 1);
  CHECK(svc.submissions[0].job_spec["conversion"]["ocr_languages"] == "fra");
}

TEST_CASE("list, result and cancel shapes") {
  fake_service svc;
  actors::service_config cfg;
  http::api a(svc, cfg);
  auto l = req("GET", "/v1/convert/jobs");
  l.query["limit"] = "7";
  auto r = a.handle(l);
  CHECK(r.status == 200);
  REQUIRE(svc.listed);
  CHECK(svc.listed->limit == 7);
  CHECK(body(r)["jobs"][0]["job_id"] == kJob);
  CHECK(body(r)["next_cursor"].is_null());
  l.query["status"] = "bogus";
  CHECK(a.handle(l).status == 422);

  auto res = req("GET", "/v1/convert/jobs/" + kJob + "/result");
  res.query["inline"] = "true";
  r = a.handle(res);
  CHECK(body(r)["result"]["markdown_content"] == "# x");
  r = a.handle(req("GET", "/v1/convert/jobs/" + kJob + "/result/markdown"));
  CHECK(r.body == "# x");
  CHECK(header(r, "Content-Type") == "text/markdown; charset=utf-8");
  CHECK(header(r, "Content-Disposition") == "attachment; filename=\"" + kJob + ".md\"");
  CHECK(header(r, "X-Content-SHA256") == "ab");
  // The other formats: by name, each with its media type; one not asked for, or unknown, is 404.
  r = a.handle(req("GET", "/v1/convert/jobs/" + kJob + "/result/json"));
  CHECK(r.status == 200);
  CHECK(r.body == R"({"blocks":[]})");
  CHECK(header(r, "Content-Type") == "application/json");
  CHECK(header(r, "Content-Disposition") == "attachment; filename=\"" + kJob + ".json\"");
  CHECK(header(r, "X-Content-SHA256") == "cd");
  r = a.handle(req("GET", "/v1/convert/jobs/" + kJob + "/result/chunks"));
  CHECK(r.status == 404);
  CHECK(body(r)["error"]["code"] == "format_not_available");
  r = a.handle(req("GET", "/v1/convert/jobs/" + kJob + "/result/html"));
  CHECK(r.status == 404);
  CHECK(body(r)["error"]["code"] == "format_unknown");
  // The bundle: a zip (local file header magic), bounded by QUIRE_MAX_BUNDLE_BYTES.
  r = a.handle(req("GET", "/v1/convert/jobs/" + kJob + "/result/bundle"));
  CHECK(r.status == 200);
  CHECK(header(r, "Content-Type") == "application/zip");
  CHECK(header(r, "Content-Disposition") == "attachment; filename=\"" + kJob + ".zip\"");
  CHECK(r.body.rfind("PK\x03\x04", 0) == 0);
  CHECK(svc.bundle_limit_seen == cfg.max_bundle_bytes);
  auto embedded = req("GET", "/v1/convert/jobs/" + kJob + "/result/bundle");
  embedded.query["images"] = "embedded";
  r = a.handle(embedded);
  CHECK(r.status == 200);
  CHECK(r.body.find("assets/img-p1-1.png") == std::string::npos);  // neither a link nor a file
  embedded.query["images"] = "inline";
  r = a.handle(embedded);
  CHECK(r.status == 422);
  CHECK(body(r)["error"]["details"]["field"] == "images");
  r = a.handle(req("POST", "/v1/convert/jobs/" + kJob + "/cancel"));
  CHECK(r.status == 409);
  CHECK(body(r)["error"]["code"] == "job_not_cancelable");
}

TEST_CASE("every served route and every error code is in the OpenAPI document") {
  auto doc = json::parse(http::openapi_json());
  for (const auto& route : http::routes()) {
    const std::string tmpl(route.path);
    INFO(route.method << " " << tmpl);
    REQUIRE(doc["paths"].contains(tmpl));
    std::string m(route.method);
    std::transform(m.begin(), m.end(), m.begin(), ::tolower);
    CHECK(doc["paths"][tmpl].contains(m));
  }
  std::set<std::string> documented;
  for (auto& c : doc["components"]["schemas"]["ErrorEnvelope"]["properties"]["error"]["properties"]["code"]["enum"])
    documented.insert(c.get<std::string>());
  for (const auto& k : http::error_kinds()) CHECK(documented.count(k.code) == 1);
  CHECK(documented.size() == http::error_kinds().size());
}

TEST_CASE("docs/api.md's error table is the api's: every code with its status and retryability") {
  std::ifstream in(std::string(QUIRE_SOURCE_DIR) + "/docs/api.md");
  REQUIRE(in.good());
  std::string line;
  bool in_table = false;
  std::map<std::string, std::pair<int, bool>> documented;
  while (std::getline(in, line)) {
    if (line.rfind("## ", 0) == 0) in_table = line == "## Error codes";
    // | `code` | status | yes/no | when |
    if (!in_table || line.rfind("| `", 0) != 0) continue;
    const auto code_end = line.find('`', 3);
    const std::string code = line.substr(3, code_end - 3);
    std::stringstream cells(line.substr(code_end + 1));
    std::string sep, status, retryable;
    std::getline(cells, sep, '|');
    std::getline(cells, status, '|');
    std::getline(cells, retryable, '|');
    auto trim = [](std::string v) {
      v.erase(0, v.find_first_not_of(' '));
      v.erase(v.find_last_not_of(' ') + 1);
      return v;
    };
    documented[code] = {std::stoi(trim(status)), trim(retryable) == "yes"};
  }
  CHECK(documented.size() == http::error_kinds().size());
  for (const auto& k : http::error_kinds()) {
    INFO(k.code);
    REQUIRE(documented.count(k.code) == 1);
    CHECK(documented[k.code].first == k.status);
    CHECK(documented[k.code].second == k.retryable);
  }
}

TEST_CASE("the route table: one lane per path, uploads keyed, matching by segments") {
  std::map<std::string, http::lane> lane_by_path;
  for (const auto& route : http::routes()) {
    const std::string path(route.path);
    INFO(route.method << " " << path);
    auto [it, fresh] = lane_by_path.emplace(path, route.lane);
    CHECK(it->second == route.lane);  // the listener picks the thread from the path alone
    CHECK(route.handle != nullptr);
    if (route.upload) {
      CHECK(route.access == http::access::keyed);
      CHECK(route.lane == http::lane::handler);
    }
    if (route.lane != http::lane::handler) CHECK(route.access == http::access::open);  // never blocks on a gate
    CHECK(http::find_route(route.method, path) == &route);
  }
  http::path_params params;
  const auto* artifact = http::find_route("GET", "/v1/convert/jobs/" + kJob + "/artifacts/page-1.png", &params);
  REQUIRE(artifact != nullptr);
  CHECK(artifact->path == "/v1/convert/jobs/{job_id}/artifacts/{name}");
  CHECK(params == http::path_params{{"job_id", kJob}, {"name", "page-1.png"}});
  CHECK(http::find_route("HEAD", "/docs") == http::find_route("GET", "/docs"));
  CHECK(http::find_route("GET", "//v1///info/") == http::find_route("GET", "/v1/info"));
  CHECK(http::find_route("DELETE", "/v1/convert/jobs") == nullptr);
  CHECK(http::find_route("GET", "/v1/convert/jobs/" + kJob + "/nope") == nullptr);
  CHECK(http::allowed_methods("/v1/convert/jobs") == "POST, GET");
  CHECK(http::allowed_methods("/v1/nope").empty());
  CHECK(http::lane_of("/readyz") == http::lane::probe);
  CHECK(http::lane_of("/ui/app.js") == http::lane::io);
  CHECK(http::lane_of("/v1/convert/jobs") == http::lane::handler);
  CHECK(http::lane_of("/unknown") == http::lane::handler);
}

TEST_CASE("405 names the allowed methods; HEAD is served by GET routes") {
  fake_service svc;
  actors::service_config cfg;
  http::api a(svc, cfg);
  auto r = a.handle(req("DELETE", "/v1/convert/jobs"));
  CHECK(r.status == 405);
  CHECK(header(r, "Allow") == "POST, GET");
  r = a.handle(req("HEAD", "/livez"));
  CHECK(r.status == 200);
  r = a.handle(req("GET", "/nowhere"));
  CHECK(r.status == 404);
  CHECK(body(r)["error"]["code"] == "route_not_found");
}

TEST_CASE("requests are counted by route template in /metrics") {
  fake_service svc;
  actors::service_config cfg;
  http::api a(svc, cfg);
  a.handle(req("GET", "/v1/convert/jobs/" + kJob));
  auto text = a.handle(req("GET", "/metrics")).body;
  CHECK(text.find("quire_http_requests_total{method=\"GET\",route=\"/v1/convert/jobs/{job_id}\",status=\"200\"}") !=
        std::string::npos);
}

TEST_CASE("request durations count from when the request was read: a wait for a handler is included") {
  fake_service svc;
  actors::service_config cfg;
  http::api a(svc, cfg);
  auto bucket = [&](const std::string& le) {
    auto text = a.handle(req("GET", "/metrics")).body;
    const std::string key = "quire_http_request_duration_seconds_bucket{method=\"GET\",route=\"/v1/info\",le=\"" + le + "\"} ";
    auto at = text.find(key);
    return at == std::string::npos ? -1.0 : std::stod(text.substr(at + key.size()));
  };
  const double under_1s = std::max(0.0, bucket("1")), under_5s = std::max(0.0, bucket("5"));
  // Read 2 s before the api got to it (it waited for a handler thread that long).
  auto late = req("GET", "/v1/info");
  late.received_at = std::chrono::steady_clock::now() - std::chrono::seconds(2);
  CHECK(a.handle(late).status == 200);
  CHECK(bucket("1") == under_1s);
  CHECK(bucket("5") == under_5s + 1);
  // Without a reading time (an internal caller) it counts from when the api started on it.
  CHECK(a.handle(req("GET", "/v1/info")).status == 200);
  CHECK(bucket("1") == under_1s + 1);
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

TEST_CASE("malformed job ids are 400 invalid_job_id, unknown well-formed ones 404 job_not_found") {
  fake_service svc;
  actors::service_config cfg;
  http::api a(svc, cfg);
  for (const std::string& id : std::vector<std::string>{"ZZZ", "..%2F..%2Fetc%2Fpasswd", std::string(26, 'A'), std::string(27, 'a'),
                               std::string(25, 'a') + "1"}) {
    INFO(id);
    auto r = a.handle(req("GET", "/v1/convert/jobs/" + id));
    CHECK(r.status == 400);
    CHECK(body(r)["error"]["code"] == "invalid_job_id");
    CHECK(body(r)["error"]["details"]["field"] == "job_id");
    CHECK(a.handle(req("POST", "/v1/convert/jobs/" + id + "/cancel")).status == 400);
  }
  CHECK(a.handle(req("GET", "/v1/convert/jobs/" + kOtherJob)).status == 404);
  CHECK(http::well_formed_job_id(kJob));
  CHECK_FALSE(http::well_formed_job_id(""));
}

TEST_CASE("hostile multipart and headers: stable codes, nothing submitted") {
  fake_service svc;
  actors::service_config cfg;
  http::api a(svc, cfg);
  auto form = [](const std::string& ctype, const std::string& b) {
    auto r = req("POST", "/v1/convert/jobs", {{"content-type", ctype}});
    r.body = b;
    return r;
  };
  const std::string file = "--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.pdf\"\r\n\r\n" + kPdf + "\r\n";
  auto code = [&](const http::request& r) { return body(a.handle(r))["error"]["code"].get<std::string>(); };
  auto field = [&](const http::request& r) { return body(a.handle(r))["error"]["details"].value("field", ""); };

  CHECK(code(form("multipart/form-data", file + "--B--\r\n")) == "bad_request");  // no boundary
  CHECK(field(form("multipart/form-data; boundary=B", file + file + "--B--\r\n")) == "file");
  const std::string spec = "--B\r\nContent-Disposition: form-data; name=\"job_spec\"\r\n\r\n{}\r\n";
  CHECK(field(form("multipart/form-data; boundary=B", spec + spec + file + "--B--\r\n")) == "job_spec");
  const std::string big_spec = "--B\r\nContent-Disposition: form-data; name=\"job_spec\"\r\n\r\n{\"a\":\"" +
                               std::string(70000, 'x') + "\"}\r\n";
  CHECK(field(form("multipart/form-data; boundary=B", big_spec + file + "--B--\r\n")) == "job_spec");
  const std::string padded = "--B\r\nContent-Disposition: form-data; name=\"file\"\r\nX-Pad: " +
                             std::string(20000, 'p') + "\r\n\r\n" + kPdf + "\r\n--B--\r\n";
  CHECK(code(form("multipart/form-data; boundary=B", padded)) == "bad_request");
  // A field name that is not UTF-8 is echoed safely (never a 500).
  auto odd = form("multipart/form-data; boundary=B",
                  "--B\r\nContent-Disposition: form-data; name=\"\xff\xfe\"\r\n\r\nx\r\n" + file + "--B--\r\n");
  auto r = a.handle(odd);
  CHECK(r.status == 422);
  CHECK(body(r)["error"]["details"]["field"] == "\xEF\xBF\xBD\xEF\xBF\xBD");

  auto key = form("application/pdf", kPdf);
  key.headers["idempotency-key"] = "tab\there";
  CHECK(field(key) == "Idempotency-Key");
  auto q = form("application/pdf", kPdf);
  q.query_malformed = true;
  CHECK(code(q) == "bad_request");
  CHECK(svc.submissions.empty());

  // Media types compare case-insensitively, parameters ignored.
  CHECK(a.handle(form("Application/PDF; charset=binary", kPdf)).status == 202);
  CHECK(a.handle(form("MULTIPART/FORM-DATA; boundary=B", file + "--B--\r\n")).status == 202);
  CHECK(svc.submissions.size() == 2);
}

TEST_CASE("filenames are display names: last path component, valid UTF-8, no control characters") {
  CHECK(http::safe_filename("../../etc/passwd") == "passwd");
  CHECK(http::safe_filename("C:\\temp\\..\\evil.pdf") == "evil.pdf");
  CHECK(http::safe_filename("/abs/x.pdf") == "x.pdf");
  CHECK(http::safe_filename(std::string("a\0b.pdf", 7)) == "a\xEF\xBF\xBD" "b.pdf");
  CHECK(http::safe_filename("\xff.pdf") == "\xEF\xBF\xBD.pdf");
  CHECK(http::safe_filename("\xc0\xaf.pdf") == "\xEF\xBF\xBD\xEF\xBF\xBD.pdf");  // overlong '/'
  CHECK(http::safe_filename("\xed\xa0\x80") == "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // a UTF-16 surrogate
  CHECK(http::safe_filename("r\xC3\xA9sum\xC3\xA9 \xF0\x9F\x93\x84.pdf") == "r\xC3\xA9sum\xC3\xA9 \xF0\x9F\x93\x84.pdf");
  CHECK(http::safe_filename("..").empty());
  CHECK(http::safe_filename("dir/").empty());
  CHECK(http::safe_filename(std::string(300, 'n')) == std::string(255, 'n'));
  CHECK(http::safe_filename(std::string(254, 'n') + "\xC3\xA9") == std::string(254, 'n'));  // cut on a boundary
  // Bidi controls are dropped: "invoice\u202Efdp.exe" would display as "invoiceexe.pdf".
  CHECK(http::safe_filename("invoice\xE2\x80\xAE" "fdp.exe") == "invoicefdp.exe");
  CHECK(http::safe_filename("\xE2\x81\xA6" "a\xE2\x81\xA9" "\xE2\x80\x8F" "b\xD8\x9C.pdf") == "ab.pdf");
  CHECK(http::safe_filename("\xE2\x80\xAA..\xE2\x80\xAC").empty());

  fake_service svc;
  actors::service_config cfg;
  http::api a(svc, cfg);
  auto mp = req("POST", "/v1/convert/jobs", {{"content-type", "multipart/form-data; boundary=B"}});
  mp.body = "--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"../../etc/passwd\"\r\n\r\n" + kPdf +
            "\r\n--B--\r\n";
  REQUIRE(a.handle(mp).status == 202);
  CHECK(svc.submissions.back().filename == "passwd");
  // A browser sends a Windows path unescaped inside the quotes: its last component is kept.
  mp.body = "--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"C:\\temp\\..\\evil.pdf\"\r\n\r\n" + kPdf +
            "\r\n--B--\r\n";
  REQUIRE(a.handle(mp).status == 202);
  CHECK(svc.submissions.back().filename == "evil.pdf");
}

TEST_CASE("a repeated query parameter is refused, not resolved by last-wins") {
  fake_service svc;
  actors::service_config cfg;
  http::api a(svc, cfg);
  auto r = req("POST", "/v1/convert/jobs", {{"content-type", "application/pdf"}});
  r.body = kPdf;
  r.query["job_spec"] = R"({"conversion":{"ocr":"off"}})";
  r.repeated_query = {"job_spec"};
  auto resp = a.handle(r);
  CHECK(resp.status == 422);
  CHECK(body(resp)["error"]["code"] == "validation_error");
  CHECK(body(resp)["error"]["details"]["field"] == "job_spec");
  auto list = req("GET", "/v1/convert/jobs");
  list.query["limit"] = "5";
  list.repeated_query = {"limit"};
  CHECK(body(a.handle(list))["error"]["details"]["field"] == "limit");
  CHECK(svc.submissions.empty());
}

TEST_CASE("transfer codings other than chunked are 501 on every route") {
  fake_service svc;
  actors::service_config cfg;
  http::api a(svc, cfg);
  for (const std::string path : {"/readyz", "/v1/info", "/v1/convert/jobs"}) {
    INFO(path);
    auto v = req(path == "/v1/convert/jobs" ? "POST" : "GET", path, {{"content-type", "application/pdf"}});
    v.body = kPdf;
    v.headers["transfer-encoding"] = "gzip, chunked";
    auto r = a.handle(v);
    CHECK(r.status == 501);
    CHECK(body(r)["error"]["code"] == "unsupported_transfer_encoding");
    CHECK(body(r)["error"]["details"]["field"] == "Transfer-Encoding");
  }
  CHECK(svc.submissions.empty());
  auto ok = req("POST", "/v1/convert/jobs", {{"content-type", "application/pdf"}, {"transfer-encoding", " Chunked "}});
  ok.body = kPdf;
  CHECK(a.handle(ok).status == 202);
}

TEST_CASE("admission: upload slots are taken before the handler queue and given back") {
  fake_service svc;
  actors::service_config cfg;
  cfg.max_concurrent_uploads = 2;
  http::api a(svc, cfg);
  auto up = [] {
    auto r = req("POST", "/v1/convert/jobs", {{"content-type", "application/pdf"}, {"x-correlation-id", "flood-1"}});
    r.body = kPdf;
    return r;
  };
  auto first = up(), second = up(), third = up();
  CHECK_FALSE(a.admit(first));
  CHECK_FALSE(a.admit(second));
  CHECK(a.uploads_in_flight() == 2);
  auto refused = a.admit(third);
  REQUIRE(refused);
  CHECK(refused->status == 503);
  CHECK(body(*refused)["error"]["code"] == "overloaded");
  CHECK(body(*refused)["error"]["details"]["limit"] == "max_concurrent_uploads");
  CHECK(header(*refused, "Retry-After") == "1");
  CHECK(header(*refused, "X-Correlation-ID") == "flood-1");
  // A direct handle() while both slots are held is refused as well.
  CHECK(a.handle(up()).status == 503);
  CHECK(a.handle(first).status == 202);  // an admitted upload runs and gives its slot back
  CHECK(a.uploads_in_flight() == 1);
  a.release(second);  // refused later (it waited too long): its slot comes back too
  CHECK(a.uploads_in_flight() == 0);
  // Other routes take no slot.
  auto get = req("GET", "/v1/convert/jobs/" + kJob);
  CHECK_FALSE(a.admit(get));
  CHECK(a.uploads_in_flight() == 0);
  auto backlog = a.refuse(get, "overloaded", "backlog full", {{"limit", "handler_backlog"}});
  CHECK(backlog.status == 503);
  CHECK(body(backlog)["error"]["details"]["limit"] == "handler_backlog");
  auto text = a.handle(req("GET", "/metrics")).body;
  CHECK(text.find("quire_http_requests_total{method=\"GET\",route=\"/v1/convert/jobs/{job_id}\",status=\"503\"}") !=
        std::string::npos);
}

TEST_CASE("a readiness snapshot that stopped being refreshed fails closed as readiness_stalled") {
  fake_service svc;
  actors::service_config cfg;
  cfg.readiness_interval = std::chrono::seconds(1);
  http::api a(svc, cfg);
  svc.snap = actors::make_snapshot({}, now_ms() - 14000);  // older than 3 intervals + 10 s
  auto r = a.handle(req("GET", "/readyz"));
  CHECK(r.status == 503);
  CHECK(body(r)["reasons"][0]["code"] == "readiness_stalled");
  r = a.handle(req("GET", "/v1/convert/jobs/" + kJob));
  CHECK(r.status == 503);
  CHECK(body(r)["error"]["details"]["reasons"] == json::array({"readiness_stalled"}));
  CHECK(a.handle(req("GET", "/livez")).status == 200);
  svc.snap = actors::make_snapshot({}, now_ms() - 2000);  // a check two intervals ago is fine
  CHECK(a.handle(req("GET", "/readyz")).status == 200);
}

TEST_CASE("storage_full is 507, retryable, with Retry-After") {
  auto r = http::error_response("storage_full", "the data root is full", "c1", {{"reserve_bytes", 10}});
  CHECK(r.status == 507);
  CHECK(body(r)["error"]["retryable"] == true);
  CHECK(body(r)["error"]["details"]["reserve_bytes"] == 10);
  CHECK(header(r, "Retry-After") == "60");
  // An unknown code is never answered with a made-up status.
  CHECK(http::error_response("no_such_code", "x", "c2").status == 500);
}

namespace {
// A service whose submits complete later, when the test says so (as the submit batcher does).
struct deferred_service : fake_service {
  std::vector<std::function<void(actors::api_result<actors::submitted>)>> pending;
  void submit_async(const actors::submission& s, std::function<void(actors::api_result<actors::submitted>)> done) override {
    submissions.push_back(s);
    pending.push_back(std::move(done));
  }
};

// quire_http_requests_total for POST /v1/convert/jobs answered 202, as /metrics reports it.
double accepted_posts(http::api& a) {
  const std::string series = "quire_http_requests_total{method=\"POST\",route=\"/v1/convert/jobs\",status=\"202\"} ";
  const auto text = a.handle(req("GET", "/metrics")).body;
  const auto at = text.find(series);
  return at == std::string::npos ? 0 : std::stod(text.substr(at + series.size()));
}
}  // namespace

TEST_CASE("handle_async: a submit is answered when its commit completes, holding its upload slot until then") {
  deferred_service svc;
  actors::service_config cfg;
  cfg.max_concurrent_uploads = 1;
  http::api a(svc, cfg);
  auto up = [](const std::string& cid, const std::string& query_wait = "") {
    auto r = req("POST", "/v1/convert/jobs", {{"content-type", "application/pdf"}, {"x-correlation-id", cid}});
    if (!query_wait.empty()) r.query["wait_seconds"] = query_wait;
    r.body = kPdf;
    return r;
  };
  std::vector<http::response> answers;
  auto collect = [&](http::response r) { answers.push_back(std::move(r)); };

  const double accepted_before = accepted_posts(a);
  a.handle_async(up("async-1"), collect);
  CHECK(answers.empty());  // handed to the service; the handler thread is free
  REQUIRE(svc.pending.size() == 1);
  CHECK(a.uploads_in_flight() == 1);
  a.handle_async(up("async-2"), collect);  // the slot is still held: refused at once
  REQUIRE(answers.size() == 1);
  CHECK(answers[0].status == 503);
  CHECK(body(answers[0])["error"]["details"]["limit"] == "max_concurrent_uploads");

  svc.pending[0](actors::submitted{record(kJob), true});
  REQUIRE(answers.size() == 2);
  CHECK(answers[1].status == 202);
  CHECK(body(answers[1])["job"]["job_id"] == kJob);
  CHECK(header(answers[1], "Location") == "/v1/convert/jobs/" + kJob);
  CHECK(header(answers[1], "X-Idempotent-Replay") == "true");
  CHECK(header(answers[1], "X-Correlation-ID") == "async-1");
  CHECK(a.uploads_in_flight() == 0);

  // A failed commit answers its error, and gives the slot back too.
  a.handle_async(up("async-3"), collect);
  REQUIRE(svc.pending.size() == 2);
  svc.pending[1](actors::api_error{"database_unavailable", "retry later"});
  REQUIRE(answers.size() == 3);
  CHECK(answers[2].status == 503);
  CHECK(body(answers[2])["error"]["code"] == "database_unavailable");
  CHECK(header(answers[2], "X-Correlation-ID") == "async-3");
  CHECK(a.uploads_in_flight() == 0);

  // wait_seconds needs the handler thread to wait for the job: the blocking submit, answered at once.
  a.handle_async(up("async-4", "1"), collect);
  CHECK(svc.pending.size() == 2);
  REQUIRE(answers.size() == 4);
  CHECK(answers[3].status == 202);
  CHECK(a.uploads_in_flight() == 0);
  // The deferred answers are counted like any other (the registry is process-wide: compare).
  CHECK(accepted_posts(a) == accepted_before + 2);
}

TEST_CASE("the AGPL source offer: /v1/info names it, /v1/source serves the archive byte for byte, without a key") {
  fake_service svc;
  actors::service_config cfg;
  cfg.api_keys = {"k1"};
  const std::string archive = "/tmp/quire-api-test-source-" + std::to_string(::getpid()) + ".tar.gz";
  std::string bytes = std::string("\x1f\x8b\x08\0", 4) + std::string(70000, 'x') + std::string(1, '\0') + "end";
  {
    std::ofstream(archive, std::ios::binary) << bytes;
  }
  cfg.source_archive = archive;
  {
    http::api a(svc, cfg);
    auto info = body(a.handle(req("GET", "/v1/info")));
    CHECK(info["license"]["spdx"] == "AGPL-3.0-or-later");
    CHECK(info["license"]["source"]["url"] == "/v1/source");
    CHECK(info["license"]["source"]["elsewhere"].is_null());
    auto r = a.handle(req("GET", "/v1/source"));
    CHECK(r.status == 200);
    CHECK(header(r, "Content-Type") == "application/gzip");
    CHECK(r.body == bytes);
  }
  std::remove(archive.c_str());
  cfg.source_url = "https://example.org/quire.git";
  http::api a(svc, cfg);
  auto info = body(a.handle(req("GET", "/v1/info")));
  CHECK(info["license"]["source"]["url"].is_null());
  CHECK(info["license"]["source"]["elsewhere"] == "https://example.org/quire.git");
  auto r = a.handle(req("GET", "/v1/source"));
  CHECK(r.status == 404);
  CHECK(body(r)["error"]["code"] == "source_not_available");
  CHECK(body(r)["error"]["message"].get<std::string>().find("https://example.org/quire.git") != std::string::npos);
}

TEST_CASE("the open /readyz names failing checks without their details; ?verbose with a key shows them") {
  fake_service svc;
  actors::service_config cfg;
  cfg.api_keys = {"k1"};
  http::api a(svc, cfg);
  const std::string raw =
      "connection to server at \"db-7.internal.example\" (10.2.3.4), port 5432 failed: FATAL: role \"quire_prod\"";
  svc.snap = actors::make_snapshot({{actors::reason::database_unreachable, raw},
                                    {actors::reason::data_root_missing, "data root /srv/secret/root does not exist"}},
                                   now_ms());
  auto r = a.handle(req("GET", "/readyz"));
  CHECK(r.status == 503);
  CHECK(r.body.find("internal.example") == std::string::npos);
  CHECK(r.body.find("10.2.3.4") == std::string::npos);
  CHECK(r.body.find("/srv/secret") == std::string::npos);
  CHECK(body(r)["reasons"][0]["code"] == "database_unreachable");
  CHECK(body(r)["reasons"][0]["message"] == "the database cannot be reached or does not answer");
  CHECK(body(r)["reasons"][1]["code"] == "data_root_missing");

  auto verbose = req("GET", "/readyz");
  verbose.query["verbose"] = "";
  r = a.handle(verbose);
  CHECK(r.status == 401);
  CHECK(body(r)["error"]["code"] == "unauthorized");
  verbose.headers["x-api-key"] = "wrong";
  CHECK(a.handle(verbose).status == 401);
  verbose.headers["x-api-key"] = "k1";
  r = a.handle(verbose);
  CHECK(r.status == 503);
  CHECK(body(r)["reasons"][0]["message"] == raw);
  CHECK(body(r)["reasons"][1]["message"] == "data root /srv/secret/root does not exist");
}

TEST_CASE("the web page and its files are open: no key, served while the lane is not ready") {
  fake_service svc;
  svc.snap = actors::make_snapshot({{actors::reason::database_unreachable, "down"}}, now_ms());
  actors::service_config cfg;
  cfg.api_keys = {"secret-1"};
  http::api a(svc, cfg);
  auto r = a.handle(req("GET", "/"));
  REQUIRE(r.status == 200);
  CHECK(header(r, "Content-Type") == "text/html; charset=utf-8");
  // Only the page's own scripts run: no inline script, nothing from elsewhere.
  const auto csp = header(r, "Content-Security-Policy");
  CHECK(csp.find("default-src 'none'") != std::string::npos);
  CHECK(csp.find("script-src 'self';") != std::string::npos);
  CHECK(csp.find("unsafe") == std::string::npos);
  CHECK(header(r, "X-Content-Type-Options") == "nosniff");
  CHECK(r.body.find("<script src=\"/ui/app.js\"") != std::string::npos);
  CHECK(r.body.find("<script>") == std::string::npos);

  r = a.handle(req("GET", "/docs"));
  CHECK(r.status == 200);
  CHECK(r.body.find("/ui/swagger-ui-bundle.js") != std::string::npos);
  r = a.handle(req("GET", "/ui/markdown-it.min.js"));
  CHECK(r.status == 200);
  CHECK(header(r, "Content-Type") == "text/javascript; charset=utf-8");
  CHECK(r.body.find("markdown-it") != std::string::npos);
  CHECK(header(r, "Content-Security-Policy").empty());  // only documents carry the policy

  r = a.handle(req("GET", "/ui/no-such-file.js"));
  CHECK(r.status == 404);
  CHECK(body(r)["error"]["code"] == "route_not_found");
  r = a.handle(req("POST", "/"));
  CHECK(r.status == 405);
  // The API itself stays closed: not ready, and then a key.
  CHECK(a.handle(req("GET", "/v1/convert/jobs")).status == 503);
}

TEST_CASE("every file the pages name under /ui/ is served, and an unchanged one revalidates as 304") {
  fake_service svc;
  actors::service_config cfg;
  http::api a(svc, cfg);
  std::set<std::string> named;
  for (const char* page : {"/", "/docs"}) {
    const auto html = a.handle(req("GET", page)).body;
    for (auto at = html.find("\"/ui/"); at != std::string::npos; at = html.find("\"/ui/", at + 1))
      named.insert(html.substr(at + 1, html.find('"', at + 1) - at - 1));
  }
  CHECK(named.count("/ui/app.js") == 1);
  CHECK(named.count("/ui/swagger-ui.css") == 1);
  for (const auto& path : named) {
    INFO(path);
    auto r = a.handle(req("GET", path));
    CHECK(r.status == 200);
    CHECK_FALSE(r.body.empty());
    const auto etag = header(r, "ETag");
    REQUIRE(etag.size() > 2);
    CHECK(header(r, "Cache-Control") == "no-cache");
    auto again = a.handle(req("GET", path, {{"if-none-match", etag}}));
    CHECK(again.status == 304);
    CHECK(again.body.empty());
    CHECK(a.handle(req("GET", path, {{"if-none-match", "\"other\""}})).status == 200);
  }
}
