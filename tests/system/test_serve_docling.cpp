// The docling-serve compatible API end to end (issue 15 part 1): the real binary and PostgreSQL,
// driven with the request shapes docling-serve's clients send — Open WebUI's DoclingLoader (a
// multipart `files` upload with form options, X-Api-Key, reading document.md_content), docling's
// DoclingServiceClient (async submit with every default option as a form field, then
// /v1/status/poll?wait= and /v1/result; or /v1/convert/source/async with `sources` of kind "file")
// and docling-serve's documented base64 `file_sources`.
#include <catch2/catch.hpp>

#include <signal.h>

#include <thread>

#include "lane.hpp"

using namespace quire::systest;
using namespace std::chrono_literals;
using json = nlohmann::json;

namespace {

const std::string kKey = "docling-test-key";

std::string base64(const std::string& bytes) {
  static const char* a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const unsigned n = (static_cast<unsigned char>(bytes[i]) << 16) | (static_cast<unsigned char>(bytes[i + 1]) << 8) |
                       static_cast<unsigned char>(bytes[i + 2]);
    for (int s : {18, 12, 6, 0}) out += a[(n >> s) & 63];
  }
  if (i < bytes.size()) {
    unsigned n = static_cast<unsigned char>(bytes[i]) << 16;
    if (i + 1 < bytes.size()) n |= static_cast<unsigned char>(bytes[i + 1]) << 8;
    out += a[(n >> 18) & 63];
    out += a[(n >> 12) & 63];
    out += i + 1 < bytes.size() ? a[(n >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

// A multipart form as Python's requests/httpx build it: option fields (lists repeated), then the
// file in `files` with the client's filename and type.
http_response docling_form(int port, const std::string& path, const std::vector<std::pair<std::string, std::string>>& fields,
                           const std::string& pdf, const std::string& filename,
                           std::map<std::string, std::string> headers = {}) {
  const std::string b = "a1b2c3d4e5f6boundary";
  std::string body;
  for (const auto& [k, v] : fields)
    body += "--" + b + "\r\nContent-Disposition: form-data; name=\"" + k + "\"\r\n\r\n" + v + "\r\n";
  body += "--" + b + "\r\nContent-Disposition: form-data; name=\"files\"; filename=\"" + filename +
          "\"\r\nContent-Type: application/pdf\r\n\r\n" + pdf + "\r\n--" + b + "--\r\n";
  headers["Content-Type"] = "multipart/form-data; boundary=" + b;
  return http(port, "POST", path, headers, body);
}

http_response post_json(int port, const std::string& path, const json& body, std::map<std::string, std::string> headers) {
  headers["Content-Type"] = "application/json";
  return http(port, "POST", path, headers, body.dump());
}

// What DoclingServiceClient sends as form data: its ConvertDocumentsOptions defaults, dumped.
const std::vector<std::pair<std::string, std::string>> kClientDefaults = {
    {"from_formats", "pdf"},       {"from_formats", "docx"},       {"to_formats", "md"},
    {"to_formats", "json"},        {"image_export_mode", "placeholder"}, {"do_ocr", "true"},
    {"force_ocr", "false"},        {"ocr_engine", "auto"},          {"pdf_backend", "docling_parse"},
    {"table_mode", "accurate"},    {"table_cell_matching", "true"}, {"pipeline", "standard"},
    {"page_range", "1"},           {"page_range", "9223372036854775807"},
    {"abort_on_error", "false"},   {"do_table_structure", "true"},  {"include_images", "true"},
    {"images_scale", "2.0"},       {"do_code_enrichment", "false"}, {"do_formula_enrichment", "false"},
    {"do_picture_classification", "false"}, {"do_picture_description", "false"},
    {"target_type", "inbody"}};

// The native API's Markdown for the same PDF with default options.
std::string native_markdown(lane& l, const std::string& pdf, const std::map<std::string, std::string>& auth) {
  auto r = submit(l.svc.port(), pdf, "", auth, "?wait_seconds=20");
  REQUIRE((r.status == 200 || r.status == 202));
  const auto id = job_id_of(r);
  auto job = l.svc.wait_job(id, {"succeeded"}, 60s);
  REQUIRE(job.value("status", "") == "succeeded");
  auto md = http(l.svc.port(), "GET", "/v1/convert/jobs/" + id + "/result/markdown", auth);
  REQUIRE(md.status == 200);
  return md.body;
}

// Polls as DoclingServiceClient does (wait=5) until the task is terminal.
json poll_until_done(int port, const std::string& task, const std::map<std::string, std::string>& auth,
                     std::chrono::seconds limit, const std::string& prefix = "") {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  json s;
  while (std::chrono::steady_clock::now() < deadline) {
    auto r = http(port, "GET", prefix + "/v1/status/poll/" + task + "?wait=5", auth);
    if (r.status == 200) {
      s = r.json();
      if (s["task_status"] == "success" || s["task_status"] == "failure") return s;
    }
    std::this_thread::sleep_for(200ms);
  }
  return s;
}

}  // namespace

TEST_CASE("docling-serve clients convert through quire: same Markdown as the native API, sync, async and base64") {
  lane l("docling", {{"QUIRE_CPU_CONVERTERS", "1"}, {"QUIRE_API_KEYS", kKey}});
  l.svc.start();
  REQUIRE(l.svc.wait_ready(60s));
  const int port = l.svc.port();
  const std::map<std::string, std::string> auth{{"X-Api-Key", kKey}};
  const std::string pdf = sample_pdf();
  const std::string native = native_markdown(l, pdf, {{"Authorization", "Bearer " + kKey}});
  REQUIRE_FALSE(native.empty());

  {  // Open WebUI's DoclingLoader: sync /v1/convert/file, X-Api-Key, md_content
    // The loader sends the file under its temporary path and image_export_mode=placeholder plus
    // DOCLING_PARAMS, with Python's True for booleans.
    auto r = docling_form(port, "/v1/convert/file",
                          {{"image_export_mode", "placeholder"}, {"do_ocr", "True"}, {"ocr_engine", "tesseract"},
                           {"ocr_lang", "en"}, {"pdf_backend", "dlparse_v4"}, {"table_mode", "accurate"}},
                          pdf, "/app/backend/data/uploads/1234_report.pdf", auth);
    REQUIRE(r.status == 200);
    auto b = r.json();
    CHECK(b["status"] == "success");
    CHECK(b["document"]["md_content"] == native);
    CHECK(b["document"]["filename"] == "1234_report.pdf");
    CHECK(b["errors"] == json::array());
    CHECK(b["processing_time"].get<double>() >= 0);
    // The task is a quire job: visible on the native routes.
    const auto jobs = http(port, "GET", "/v1/convert/jobs?limit=5", auth).json()["jobs"];
    CHECK(jobs.size() == 2);
  }

  {  // no key, or a wrong one: 401 with docling's detail; /health stays open
    auto r = docling_form(port, "/v1/convert/file", {}, pdf, "a.pdf");
    CHECK(r.status == 401);
    CHECK(r.json()["detail"].is_string());
    r = docling_form(port, "/v1/convert/file", {}, pdf, "a.pdf", {{"X-Api-Key", "nope"}});
    CHECK(r.status == 401);
    CHECK(http(port, "GET", "/v1/status/poll/" + std::string(26, 'a')).status == 401);
    r = http(port, "GET", "/health");
    CHECK(r.status == 200);
    CHECK(r.json()["status"] == "ok");
    r = http(port, "GET", "/version");
    CHECK(r.status == 200);
    CHECK(r.json().contains("quire"));
  }

  {  // DoclingServiceClient: async file submit with its default options, poll with wait, result
    auto r = docling_form(port, "/v1/convert/file/async", kClientDefaults, pdf, "report.pdf", auth);
    REQUIRE(r.status == 200);
    auto task = r.json();
    CHECK(task["task_type"] == "convert");
    CHECK((task["task_status"] == "pending" || task["task_status"] == "started"));
    CHECK_FALSE(task.contains("errors"));  // the client's defaults are all honoured or change nothing
    const auto id = task["task_id"].get<std::string>();
    auto done = poll_until_done(port, id, auth, 60s);
    REQUIRE(done["task_status"] == "success");
    CHECK(done["task_meta"]["num_succeeded"] == 1);
    r = http(port, "GET", "/v1/result/" + id, auth);
    REQUIRE(r.status == 200);
    CHECK(r.json()["status"] == "success");
    CHECK(r.json()["document"]["md_content"] == native);
    // json (the client's default) is quire's document model, the same the native route serves.
    const auto model = r.json()["document"]["json_content"];
    REQUIRE(model.is_object());
    CHECK(model == http(port, "GET", "/v1/convert/jobs/" + id + "/result/json", auth).json());
    CHECK(model["markdown"] == native);
    // The same row on the native API.
    CHECK(http(port, "GET", "/v1/convert/jobs/" + id, auth).json()["job"]["status"] == "succeeded");
  }

  {  // base64 sources: file_sources (sync) and sources of kind file (async)
    auto r = post_json(port, "/v1/convert/source",
                       {{"options", {{"to_formats", {"md", "text"}}, {"image_export_mode", "placeholder"}}},
                        {"file_sources", {{{"base64_string", base64(pdf)}, {"filename", "b64.pdf"}}}}},
                       auth);
    REQUIRE(r.status == 200);
    CHECK(r.json()["document"]["md_content"] == native);
    CHECK(r.json()["document"]["filename"] == "b64.pdf");
    CHECK(r.json()["errors"] == json::array());
    CHECK_FALSE(r.json()["document"]["text_content"].get<std::string>().empty());

    r = post_json(port, "/v1/convert/source/async",
                  {{"options", json::object()},
                   {"sources", {{{"kind", "file"}, {"base64_string", base64(pdf)}, {"filename", "k.pdf"}}}},
                   {"target", {{"kind", "inbody"}}}},
                  auth);
    REQUIRE(r.status == 200);
    const auto id = r.json()["task_id"].get<std::string>();
    REQUIRE(poll_until_done(port, id, auth, 60s)["task_status"] == "success");
    CHECK(http(port, "GET", "/v1/result/" + id, auth).json()["document"]["md_content"] == native);
  }

  {  // URL sources are refused: quire fetches nothing
    const auto jobs_before = http(port, "GET", "/v1/convert/jobs?limit=50", auth).json()["jobs"].size();
    auto r = post_json(port, "/v1/convert/source", {{"http_sources", {{{"url", "https://arxiv.org/pdf/2206.01062"}}}}},
                       auth);
    CHECK(r.status == 422);
    CHECK(r.json()["detail"].get<std::string>().find("URL") != std::string::npos);
    r = post_json(port, "/v1/convert/source/async", {{"sources", {{{"kind", "http"}, {"url", "http://127.0.0.1:1/x.pdf"}}}}},
                  auth);
    CHECK(r.status == 422);
    CHECK(http(port, "GET", "/v1/convert/jobs?limit=50", auth).json()["jobs"].size() == jobs_before);
  }
}

TEST_CASE("docling tasks outlive the service: a SIGKILL between submit and poll, and a sync wait past its limit") {
  lane l("docling_restart",
         {{"QUIRE_CPU_CONVERTERS", "1"}, {"QUIRE_MAX_ATTEMPTS", "3"}, {"QUIRE_DOCLING_MAX_SYNC_WAIT_SECONDS", "1"},
          {"QUIRE_DOCLING_PREFIX", "/docling"}});
  l.svc.start();
  REQUIRE(l.svc.wait_ready(60s));
  const std::string slow = sample_pdf("QUIRE_TEST_SLOW");  // the worker sleeps 4 s first

  // Sync past QUIRE_DOCLING_MAX_SYNC_WAIT_SECONDS: 504 as docling-serve, naming the task.
  auto r = docling_form(l.svc.port(), "/docling/v1/convert/file", {}, slow, "slow.pdf");
  REQUIRE(r.status == 504);
  CHECK(r.json()["error"]["code"] == "sync_wait_exceeded");
  CHECK(r.json()["detail"].get<std::string>().find("QUIRE_DOCLING_MAX_SYNC_WAIT_SECONDS=1") != std::string::npos);
  const auto waited = r.json()["error"]["details"]["task_id"].get<std::string>();
  CHECK(r.headers["location"] == "/docling/v1/status/poll/" + waited);

  r = docling_form(l.svc.port(), "/docling/v1/convert/file/async", {{"to_formats", "md"}}, slow, "slow2.pdf");
  REQUIRE(r.status == 200);
  const auto id = r.json()["task_id"].get<std::string>();
  CHECK(http(l.svc.port(), "GET", "/docling/v1/result/" + id).status == 404);  // not finished yet

  l.svc.kill9();
  l.svc.wait_exit(10s);
  l.svc.start();
  REQUIRE(l.svc.wait_ready(60s));

  for (const auto& task : {waited, id}) {
    auto done = poll_until_done(l.svc.port(), task, {}, 60s, "/docling");
    INFO(l.svc.log());
    REQUIRE(done["task_status"] == "success");
    r = http(l.svc.port(), "GET", "/docling/v1/result/" + task);
    REQUIRE(r.status == 200);
    CHECK(r.json()["status"] == "success");
    CHECK_FALSE(r.json()["document"]["md_content"].get<std::string>().empty());
  }
  CHECK(http(l.svc.port(), "GET", "/v1/status/poll/" + id).status == 404);  // only under the prefix
}
