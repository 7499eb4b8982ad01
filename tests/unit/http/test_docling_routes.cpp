// The docling-serve compatible routes against a fake service: request shapes as Open WebUI and
// docling's client send them, the prefix setting, X-Api-Key, docling's `detail`, the sync wait.
#include <catch2/catch.hpp>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "http/api.hpp"
#include "http/docling.hpp"
#include "http/routes.hpp"

using namespace quire;
using json = nlohmann::json;

namespace {

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

const std::string kJob = "dddddddddddddddddddddddddd";
const std::string kPdf = "%PDF-1.4\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n";

// A service whose one job ends as `final_status` once waited for (or stays queued).
struct fake_service : actors::service {
  actors::readiness_snapshot snap = actors::make_snapshot({}, now_ms());
  std::vector<actors::submission> submissions;
  std::string final_status = "succeeded";
  std::string markdown = "# Title\n\n![](assets/p1-img1.png)\n";
  std::chrono::milliseconds last_wait{0};

  // The job as the service answers it (the http layer renders its document): started at a fixed
  // time, finished 2.5 s later unless queued.
  storage::job_record job(const std::string& status) const {
    storage::job_record j;
    j.id = kJob;
    j.status = *storage::parse_job_status(status);
    if (!submissions.empty()) {
      j.source_filename = submissions.back().filename;
      j.spec = submissions.back().job_spec;
    }
    if (status == "failed") j.error = storage::job_error_info{"pdf_invalid", "cannot open", false};
    const auto start = std::chrono::system_clock::time_point(std::chrono::milliseconds(1796601600000));
    j.created_at = j.updated_at = start;
    j.started_at = start;
    if (status != "queued") j.finished_at = start + std::chrono::milliseconds(2500);
    return j;
  }
  actors::readiness_snapshot readiness() const override { return snap; }
  actors::service_info info() const override {
    actors::service_info i;
    i.revision = "abc123";
    return i;
  }
  actors::api_result<actors::submitted> submit(const actors::submission& s) override {
    submissions.push_back(s);
    return actors::submitted{job("queued"), false};
  }
  actors::api_result<storage::job_record> get_job(const std::string& id, const std::string&) override {
    if (id != kJob) return actors::api_error{"job_not_found", "no job " + id};
    return storage::job_record(job(final_status));
  }
  actors::api_result<storage::job_record> wait_job(const std::string& id, const std::string& k,
                                                   std::chrono::milliseconds w) override {
    last_wait = w;
    return get_job(id, k);
  }
  actors::api_result<actors::job_page> list_jobs(const actors::list_query&, const std::string&) override {
    return actors::job_page{};
  }
  actors::api_result<storage::job_record> cancel_job(const std::string&, const std::string&) override {
    return actors::api_error{"job_not_cancelable", "finished"};
  }
  actors::api_result<actors::job_result> get_result(const std::string& id, const std::string& k, bool md) override {
    auto j = get_job(id, k);
    if (j->status != storage::job_status::succeeded)
      return actors::api_error{"job_not_succeeded", "not succeeded"};
    actors::job_result r;
    r.job = std::move(*j);
    if (md) r.markdown = markdown;
    return r;
  }
  actors::api_result<actors::artifact> get_artifact(const std::string&, const std::string&,
                                                    const std::string& name) override {
    if (name != "p1-img1.png") return actors::api_error{"artifact_not_found", "none"};
    return actors::artifact{"image/png", "PNG"};
  }
  actors::api_result<actors::result_file> get_result_format(const std::string& id, const std::string& k,
                                                            const std::string& format) override {
    auto j = get_job(id, k);
    const auto asked = j->spec.value("conversion", json::object()).value("formats", json::array());
    if (std::find(asked.begin(), asked.end(), format) == asked.end())
      return actors::api_error{"format_not_available", "not asked for"};
    if (format == "json")
      return actors::result_file{"document.json", "application/json", R"({"blocks":[{"type":"heading"}]})", ""};
    return actors::result_file{"result.txt", "text/plain", "Title\n", ""};
  }
  actors::api_result<actors::result_files> get_result_files(const std::string&, const std::string&,
                                                            std::uint64_t) override {
    return actors::api_error{"internal_error", "not used"};
  }
  std::int64_t queued_jobs() const override { return 0; }
  int working_gpu_converters() const override { return 0; }
};

http::request req(std::string method, std::string path, std::map<std::string, std::string> headers = {}) {
  http::request r;
  r.method = std::move(method);
  r.path = std::move(path);
  r.headers = std::move(headers);
  return r;
}

// A multipart body as Python's requests builds it: the file in `files`, each option a field
// (a list as repeated fields).
http::request form(const std::string& path, const std::vector<std::pair<std::string, std::string>>& fields,
                   const std::string& filename = "/tmp/uploads/report.pdf", const std::string& pdf = kPdf) {
  const std::string b = "b0undary";
  auto r = req("POST", path, {{"content-type", "multipart/form-data; boundary=" + b}});
  for (const auto& [k, v] : fields)
    r.body += "--" + b + "\r\nContent-Disposition: form-data; name=\"" + k + "\"\r\n\r\n" + v + "\r\n";
  r.body += "--" + b + "\r\nContent-Disposition: form-data; name=\"files\"; filename=\"" + filename +
            "\"\r\nContent-Type: application/pdf\r\n\r\n" + pdf + "\r\n--" + b + "--\r\n";
  return r;
}

http::request source(const std::string& path, const json& body) {
  auto r = req("POST", path, {{"content-type", "application/json"}});
  r.body = body.dump();
  return r;
}

json body(const http::response& r) { return json::parse(r.body); }

}  // namespace

TEST_CASE("docling sync file convert: Open WebUI's request gets md_content of the job") {
  fake_service svc;
  actors::service_config cfg;
  cfg.ocr_languages = {"deu", "eng"};
  http::api a(svc, cfg);
  auto r = a.handle(form("/v1/convert/file", {{"image_export_mode", "placeholder"}, {"do_ocr", "True"},
                                              {"ocr_lang", "en"}, {"table_mode", "accurate"}}));
  REQUIRE(r.status == 200);
  auto b = body(r);
  CHECK(b["status"] == "success");
  CHECK(b["document"]["filename"] == "report.pdf");  // the client's path is not echoed
  CHECK(b["document"]["md_content"] == svc.markdown);
  CHECK(b["errors"] == json::array());
  CHECK(b["processing_time"] == 2.5);
  REQUIRE(svc.submissions.size() == 1);
  const auto& spec = svc.submissions[0].job_spec;
  CHECK(spec["conversion"]["ocr"] == "auto");
  CHECK(spec["conversion"]["ocr_languages"] == "eng");
  CHECK(spec["conversion"]["extract_images"] == false);
  CHECK(svc.submissions[0].pdf == kPdf);
  CHECK(svc.last_wait == std::chrono::seconds(120));
}

TEST_CASE("docling sync convert: embedded images become data URIs, referenced ones artifact links") {
  fake_service svc;
  actors::service_config cfg;
  http::api a(svc, cfg);
  auto r = a.handle(form("/v1/convert/file", {{"image_export_mode", "embedded"}}));
  REQUIRE(r.status == 200);
  CHECK(body(r)["document"]["md_content"] == "# Title\n\n![](data:image/png;base64,UE5H)\n");
  CHECK(svc.submissions.back().job_spec["conversion"]["extract_images"] == true);
  r = a.handle(form("/v1/convert/file", {{"image_export_mode", "referenced"}}));
  CHECK(body(r)["document"]["md_content"] == "# Title\n\n![](/v1/convert/jobs/" + kJob + "/artifacts/p1-img1.png)\n");
}

TEST_CASE("docling sync convert past QUIRE_DOCLING_MAX_SYNC_WAIT_SECONDS: 504 naming the task") {
  fake_service svc;
  svc.final_status = "running";
  actors::service_config cfg;
  cfg.docling_max_sync_wait = std::chrono::seconds(7);
  http::api a(svc, cfg);
  auto r = a.handle(form("/v1/convert/file", {}));
  CHECK(r.status == 504);
  auto b = body(r);
  CHECK(b["error"]["code"] == "sync_wait_exceeded");
  CHECK(b["error"]["details"]["task_id"] == kJob);
  CHECK(b["detail"].get<std::string>().find("QUIRE_DOCLING_MAX_SYNC_WAIT_SECONDS=7") != std::string::npos);
  CHECK(svc.last_wait == std::chrono::seconds(7));
}

TEST_CASE("docling sync convert: json and text from the formats stored with the job") {
  fake_service svc;
  actors::service_config cfg;
  http::api a(svc, cfg);
  auto r = a.handle(form("/v1/convert/file", {{"to_formats", "json"}, {"to_formats", "text"}}));
  REQUIRE(r.status == 200);
  auto b = body(r);
  CHECK(b["document"]["md_content"].is_null());  // not asked for
  CHECK(b["document"]["json_content"]["blocks"][0]["type"] == "heading");
  CHECK(b["document"]["text_content"] == "Title\n");
  CHECK(svc.submissions.back().job_spec["conversion"]["formats"] == json::array({"markdown", "json", "text"}));
}

TEST_CASE("docling failed job: 200 with status failure and the job's error, as docling answers") {
  fake_service svc;
  svc.final_status = "failed";
  actors::service_config cfg;
  http::api a(svc, cfg);
  auto r = a.handle(form("/v1/convert/file", {}));
  REQUIRE(r.status == 200);
  auto b = body(r);
  CHECK(b["status"] == "failure");
  CHECK(b["document"]["md_content"].is_null());
  REQUIRE(b["errors"].size() == 1);
  CHECK(b["errors"][0]["error_message"] == "pdf_invalid: cannot open");
}

TEST_CASE("docling async file convert, poll and result; options not honoured are reported") {
  fake_service svc;
  svc.final_status = "queued";
  actors::service_config cfg;
  http::api a(svc, cfg);
  auto r = a.handle(form("/v1/convert/file/async", {{"to_formats", "md"},
                                                    {"to_formats", "html"},
                                                    {"to_formats", "json"},
                                                    {"to_formats", "text"},
                                                    {"target_type", "inbody"}}));
  REQUIRE(r.status == 200);
  auto b = body(r);
  CHECK(b["task_id"] == kJob);
  CHECK(b["task_status"] == "pending");
  CHECK(b["task_type"] == "convert");
  REQUIRE(b["errors"].size() == 1);

  r = a.handle(req("GET", "/v1/status/poll/" + kJob));
  CHECK(body(r)["task_status"] == "pending");
  auto poll = req("GET", "/v1/status/poll/" + kJob);
  poll.query["wait"] = "99.5";
  a.handle(poll);
  CHECK(svc.last_wait == std::chrono::seconds(20));  // bounded
  poll.query["wait"] = "soon";
  CHECK(a.handle(poll).status == 422);

  r = a.handle(req("GET", "/v1/result/" + kJob));
  CHECK(r.status == 404);
  CHECK(body(r)["detail"] == "Task result not found. Please wait for a completion status.");

  svc.final_status = "succeeded";
  r = a.handle(req("GET", "/v1/result/" + kJob));
  REQUIRE(r.status == 200);
  CHECK(body(r)["document"]["md_content"] == svc.markdown);
  // The formats were stored with the job: the later result has them too.
  CHECK(body(r)["document"]["json_content"] == json::parse(R"({"blocks":[{"type":"heading"}]})"));
  CHECK(body(r)["document"]["text_content"] == "Title\n");
  CHECK(body(r)["errors"] == json::array());

  CHECK(a.handle(req("GET", "/v1/status/poll/nope")).status == 404);
  CHECK(a.handle(req("GET", "/v1/result/" + std::string(26, 'a'))).status == 404);
}

TEST_CASE("docling source convert: base64 file sources in both shapes; URL sources refused") {
  fake_service svc;
  actors::service_config cfg;
  http::api a(svc, cfg);
  const auto b64 = http::docling::base64_encode(kPdf);
  auto r = a.handle(source("/v1/convert/source", {{"options", {{"to_formats", {"md"}}, {"do_ocr", false}}},
                                                  {"file_sources", {{{"base64_string", b64}, {"filename", "a.pdf"}}}}}));
  REQUIRE(r.status == 200);
  CHECK(body(r)["document"]["filename"] == "a.pdf");
  CHECK(svc.submissions.back().pdf == kPdf);
  CHECK(svc.submissions.back().job_spec["conversion"]["ocr"] == "off");

  // docling's client: sources with kind, an inbody target.
  r = a.handle(source("/v1/convert/source/async",
                      {{"options", json::object()},
                       {"sources", {{{"kind", "file"}, {"base64_string", b64}, {"filename", "b.pdf"}}}},
                       {"target", {{"kind", "inbody"}}}}));
  REQUIRE(r.status == 200);
  CHECK(body(r)["task_id"] == kJob);
  CHECK(svc.submissions.back().filename == "b.pdf");

  const auto before = svc.submissions.size();
  for (const auto& bad : {json{{"http_sources", {{{"url", "https://arxiv.org/pdf/2206.01062"}}}}},
                          json{{"sources", {{{"kind", "http"}, {"url", "http://127.0.0.1/x.pdf"}}}}}}) {
    r = a.handle(source("/v1/convert/source", bad));
    CHECK(r.status == 422);
    CHECK(body(r)["detail"].get<std::string>().find("does not fetch documents from URLs") != std::string::npos);
  }
  r = a.handle(source("/v1/convert/source", {{"file_sources", {{{"base64_string", "%%%"}, {"filename", "a.pdf"}}}}}));
  CHECK(r.status == 422);
  r = a.handle(source("/v1/convert/source", {{"file_sources", json::array()}}));
  CHECK(r.status == 422);
  r = a.handle(source("/v1/convert/source", {{"file_sources", {{{"base64_string", b64}}, {{"base64_string", b64}}}}}));
  CHECK(r.status == 422);
  r = a.handle(source("/v1/convert/source",
                      {{"file_sources", {{{"base64_string", http::docling::base64_encode("hello")}}}}}));
  CHECK(r.status == 422);
  CHECK(svc.submissions.size() == before);
}

TEST_CASE("docling options refused: 422 validation_error naming the option, its message as docling's detail") {
  fake_service svc;
  actors::service_config cfg;
  http::api a(svc, cfg);
  const auto b64 = http::docling::base64_encode(kPdf);
  auto refusal = [](const http::response& r) {
    CHECK(r.status == 422);
    const auto b = body(r);
    CHECK(b["detail"] == b["error"]["message"]);
    return json{{"code", b["error"]["code"]}, {"message", b["error"]["message"]}, {"details", b["error"]["details"]}};
  };
  CHECK(refusal(a.handle(source("/v1/convert/source",
                                {{"options", json::array()}, {"file_sources", {{{"base64_string", b64}}}}}))) ==
        json{{"code", "validation_error"}, {"message", "options: must be an object"}, {"details", {{"field", "options"}}}});
  CHECK(refusal(a.handle(form("/v1/convert/file", {{"do_ocr", "maybe"}}))) ==
        json{{"code", "validation_error"}, {"message", "do_ocr: must be a boolean"}, {"details", {{"field", "do_ocr"}}}});
  CHECK(refusal(a.handle(form("/v1/convert/file", {{"page_range", "5"}, {"page_range", "2"}}))) ==
        json{{"code", "validation_error"},
             {"message", "page_range: must be two page numbers from 1, [first, last], first <= last"},
             {"details", {{"field", "page_range"}}}});
  CHECK(svc.submissions.empty());
}

TEST_CASE("docling routes: X-Api-Key or Bearer, the same keys; 401 carries detail") {
  fake_service svc;
  actors::service_config cfg;
  cfg.api_keys = {"sekret"};
  http::api a(svc, cfg);
  auto r = a.handle(form("/v1/convert/file", {}));
  CHECK(r.status == 401);
  CHECK(body(r)["detail"].is_string());
  CHECK(body(r)["error"]["code"] == "unauthorized");
  auto f = form("/v1/convert/file", {});
  f.headers["x-api-key"] = "wrong";
  CHECK(a.handle(f).status == 401);
  f.headers["x-api-key"] = "sekret";
  CHECK(a.handle(f).status == 200);
  auto p = req("GET", "/v1/status/poll/" + kJob, {{"authorization", "Bearer sekret"}});
  CHECK(a.handle(p).status == 200);
  CHECK(a.handle(req("GET", "/health")).status == 200);  // open, as docling-serve's
  // detail only on the docling routes: the native envelope is unchanged.
  CHECK_FALSE(body(a.handle(req("GET", "/v1/convert/jobs/" + kJob)))["error"].is_null());
  CHECK_FALSE(body(a.handle(req("GET", "/v1/convert/jobs/" + kJob))).contains("detail"));
  CHECK(svc.submissions.size() == 1);
}

TEST_CASE("QUIRE_DOCLING_PREFIX moves the docling routes and only them") {
  fake_service svc;
  actors::service_config cfg;
  cfg.docling_prefix = "/docling";
  {
    http::api a(svc, cfg);
    CHECK(a.handle(req("GET", "/docling/health")).status == 200);
    CHECK(a.handle(req("GET", "/health")).status == 404);
    CHECK(a.handle(req("GET", "/doclingx/health")).status == 404);
    CHECK(a.handle(form("/docling/v1/convert/file", {})).status == 200);
    CHECK(a.handle(form("/v1/convert/file", {})).status == 404);
    CHECK(a.handle(req("GET", "/docling/v1/status/poll/" + kJob)).status == 200);
    CHECK(a.handle(req("GET", "/v1/convert/jobs/" + kJob)).status == 200);  // native routes stay
    CHECK(body(a.handle(req("GET", "/docling/version")))["quire"] == "abc123");
  }
  cfg.docling_prefix = "";
  http::api a(svc, cfg);
  CHECK(a.handle(req("GET", "/health")).status == 200);
}

TEST_CASE("docling and native routes never claim each other's paths") {
  for (const auto& r : http::routes()) {
    if (r.family != http::family::docling) continue;
    for (const auto& other : http::routes()) {
      if (other.family == http::family::docling) continue;
      CHECK(other.path != r.path);
    }
  }
  CHECK(http::find_route("POST", "/v1/convert/jobs")->family == http::family::native);
  CHECK(http::find_route("POST", "/v1/convert/file")->family == http::family::docling);
}
