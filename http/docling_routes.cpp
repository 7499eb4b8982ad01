// docling-serve's v1 API over quire's jobs: POST /v1/convert/file[/async] (multipart `files`),
// POST /v1/convert/source[/async] (JSON, base64 `file_sources` / `sources` of kind "file"),
// GET /v1/status/poll/{task_id}, GET /v1/result/{task_id}, GET /health and GET /version, all
// under QUIRE_DOCLING_PREFIX. A docling task id IS a quire job id: the same row, its status,
// cancel (the native route) and retention. Translation of options and answers is in docling.cpp;
// the contract is in docs/api.md ("docling-serve compatible API").
#include <algorithm>
#include <string_view>
#include <utility>

#include "api/job_spec.hpp"
#include "api/result_formats.hpp"
#include "http/detail/documents.hpp"
#include "http/detail/exchange.hpp"
#include "http/docling.hpp"
#include "http/multipart.hpp"

namespace quire::http::detail {
namespace {

namespace dl = docling;

// The longest a status poll waits for a finished task (its `wait`), as the native long poll.
constexpr double kMaxPollWaitSeconds = 20;

// One document to convert and the options it came with.
struct docling_input {
  std::string_view pdf;   // into the request body (multipart) or into `decoded`
  std::string decoded;    // a base64 source's bytes
  std::string filename;
  dl::option_values options;
};

bool looks_like_pdf(std::string_view bytes) { return bytes.substr(0, 1024).find("%PDF-") != std::string_view::npos; }

// A multipart form as docling-serve takes it: the document in `files` (quire converts one per
// request), every other field an option.
std::optional<response> read_form(const request& req, const std::string& cid, docling_input& in) {
  const auto ctype = req.header("content-type");
  if (media_type(ctype) != "multipart/form-data")
    return error_response("unsupported_media_type", "send multipart/form-data with the document in 'files'", cid);
  auto boundary = form_boundary(ctype);
  if (!boundary)
    return error_response("bad_request", "multipart/form-data needs a boundary parameter of 1 to 70 characters", cid,
                          {{"field", "Content-Type"}});
  auto parts = parse_form(req.body, *boundary);
  if (!parts) return error_response("bad_request", "malformed multipart body", cid);
  int files = 0;
  for (const auto& p : *parts) {
    if (p.name == "files" || p.name == "file") {
      if (++files > 1)
        return validation("files", "quire converts one document per request; send each file in its own request", cid);
      in.pdf = p.body;
      in.filename = safe_filename(p.filename);
    } else {
      in.options[p.name].emplace_back(p.body);
    }
  }
  if (files == 0) return validation("files", "is required (the document, as a multipart file)", cid);
  return std::nullopt;
}

// The JSON body of /v1/convert/source: {"options": {...}, "sources": [{"kind": "file",
// "base64_string", "filename"}] or the older "file_sources": [{"base64_string", "filename"}]}.
// URL sources are refused: quire does not fetch documents.
std::optional<response> read_source(const request& req, const std::string& cid, docling_input& in) {
  if (media_type(req.header("content-type")) != "application/json")
    return error_response("unsupported_media_type", "send application/json: {\"options\": {...}, \"file_sources\": [...]}",
                          cid);
  const auto body = json::parse(req.body, nullptr, false);
  if (!body.is_object()) return validation("body", "is not a JSON object", cid);
  auto options = dl::from_json(body.value("options", json(nullptr)));
  if (!options) return refused(options.err(), cid);
  in.options = std::move(*options);
  const char* no_urls =
      "quire does not fetch documents from URLs; send the document itself (file_sources with base64_string, or "
      "POST /v1/convert/file)";
  std::vector<std::pair<std::string, json>> files;  // (field path, source)
  for (const char* key : {"http_sources", "file_sources", "sources"}) {
    if (!body.contains(key) || body[key].is_null()) continue;
    if (!body[key].is_array()) return validation(key, "must be a list", cid);
    for (std::size_t i = 0; i < body[key].size(); ++i) {
      const auto& src = body[key][i];
      const auto field = std::string(key) + "[" + std::to_string(i) + "]";
      if (!src.is_object()) return validation(field, "must be an object", cid);
      const auto kind = std::string(key) == "sources" ? src.value("kind", "") : std::string(key) == "http_sources" ? "http" : "file";
      if (kind == "http" || src.contains("url")) return validation(field, no_urls, cid);
      if (kind != "file") return validation(field + ".kind", "only \"file\" sources (base64) are supported", cid);
      files.emplace_back(field, src);
    }
  }
  if (files.empty()) return validation("file_sources", "one source is required", cid);
  if (files.size() > 1)
    return validation(files[1].first, "quire converts one document per request; send each in its own request", cid);
  const auto& [field, src] = files.front();
  if (!src.contains("base64_string") || !src["base64_string"].is_string())
    return validation(field + ".base64_string", "is required (the document, base64-encoded)", cid);
  auto bytes = dl::base64_decode(src["base64_string"].get_ref<const std::string&>());
  if (!bytes) return validation(field + ".base64_string", "is not valid base64", cid);
  in.decoded = std::move(*bytes);
  in.pdf = in.decoded;
  if (src.contains("filename") && src["filename"].is_string()) in.filename = safe_filename(src["filename"].get<std::string>());
  if (body.contains("target") && body["target"].is_object()) {
    const auto kind = body["target"].value("kind", "inbody");
    if (kind != "inbody") return validation("target.kind", "only \"inbody\" is supported (the result is answered in the body)", cid);
  }
  if (body.contains("callbacks") && body["callbacks"].is_array() && !body["callbacks"].empty())
    in.options["callbacks"].emplace_back(body["callbacks"].dump());
  return std::nullopt;
}

// What a submit needs besides the document: the options translated and validated as a native
// job spec (so OCR languages, limits and defaults are checked in one place).
struct accepted {
  dl::translation t;
  quire::api::job_spec spec;
};

std::optional<response> translate(const api_state& s, const docling_input& in, const std::string& cid, accepted& out) {
  const auto& cfg = s.cfg;
  dl::translate_limits lim;
  lim.ocr_languages = &cfg.ocr_languages;
  lim.max_timeout_seconds = static_cast<int>(cfg.document_timeout.count());
  auto t = dl::translate(in.options, lim);
  if (!t) return refused(t.err(), cid);
  auto spec = quire::api::parse_job_spec(t->job_spec.dump(), actors::job_spec_limits(cfg));
  if (!spec) return refused(spec.err(), cid);
  out.t = std::move(*t);
  out.spec = std::move(*spec);
  return std::nullopt;
}

// The one place these routes create a job (actors::service::submit), with the native submit's
// checks: queue depth, size, a PDF at all, a GPU when the policy requires one.
std::optional<response> submit(api_state& s, exchange& ex, const docling_input& in, const quire::api::job_spec& spec,
                               json& job) {
  const auto& cfg = s.cfg;
  const auto& cid = ex.correlation_id;
  if (s.svc.queued_jobs() >= cfg.max_queue_depth)
    return error_response("queue_full", "the queue is full; retry later", cid, {{"max_queue_depth", cfg.max_queue_depth}});
  if (in.pdf.size() > cfg.max_upload_bytes)
    return error_response("payload_too_large", "the PDF is larger than the limit", cid,
                          {{"max_upload_bytes", cfg.max_upload_bytes}});
  if (in.pdf.empty()) return validation("files", "is empty", cid);
  if (!looks_like_pdf(in.pdf)) return validation("files", "is not a PDF (no %PDF- header); quire converts PDFs only", cid);
  if (spec.execution.acceleration == convert::acceleration_policy::gpu_required && s.svc.working_gpu_converters() <= 0)
    return error_response("gpu_not_available", "acceleration_policy gpu_required, but this lane has no working GPU",
                          cid, {{"acceleration_policy", "gpu_required"}});
  actors::submission sub;
  sub.api_key_id = ex.api_key_id;
  sub.correlation_id = cid;
  sub.filename = in.filename;
  sub.job_spec = quire::api::to_json(spec);
  sub.pdf.assign(in.pdf.data(), in.pdf.size());
  auto res = s.svc.submit(sub);
  if (!res) return from_error(res.err(), cid);
  job = detail::job_document(std::move(res->job));
  return std::nullopt;
}

// An error from the job store as docling-serve's clients expect it: a task that is gone or not
// finished is 404 (its client maps 404 to "not found" / "result not ready"), whatever quire's code.
response docling_error(const actors::api_error& e, const std::string& cid) {
  auto r = from_error(e, cid);
  if (e.code == "job_expired" || e.code == "job_not_finished") r.status = 404;
  return r;
}

// The task id of a poll or result: a malformed one is simply not found, as in docling-serve.
std::optional<response> check_task_id(const exchange& ex) {
  if (well_formed_job_id(ex.params.at("task_id"))) return std::nullopt;
  return error_response("job_not_found", "Task not found.", ex.correlation_id, {{"field", "task_id"}});
}

// The answer for a finished job: its Markdown (and JSON/text where asked and stored), with images
// as the request's image_export_mode wants them. `errors` are the request's option reports.
response finished_answer(api_state& s, exchange& ex, const json& job, const dl::translation& t) {
  const auto& cid = ex.correlation_id;
  const auto id = job.value("job_id", "");
  const auto st = job.value("status", "");
  dl::document_parts doc;
  doc.filename = job.value("source_filename", "");
  json errors = t.errors;
  if (st != "succeeded") {
    std::string message = "job " + st;
    if (job.contains("error") && job["error"].is_object())
      message = job["error"].value("code", "") + ": " + job["error"].value("message", "");
    errors.push_back(dl::error_item(message, "document_backend", "quire"));
    return json_response(200, dl::convert_response(doc, dl::conversion_status_of(st), errors, dl::processing_seconds(job)));
  }
  auto res = s.svc.get_result(id, ex.api_key_id, t.want_markdown);
  if (!res) return docling_error(res.err(), cid);
  if (t.want_markdown) {
    auto md = std::move(res->markdown);
    if (t.images == dl::image_mode::embedded) {
      md = dl::rewrite_image_links(md, [&](const std::string& name) -> std::optional<std::string> {
        auto a = s.svc.get_artifact(id, ex.api_key_id, name);
        if (!a) return std::nullopt;
        return "data:" + a->media_type + ";base64," + dl::base64_encode(a->bytes);
      });
    } else if (t.images == dl::image_mode::referenced) {
      md = dl::rewrite_image_links(md, [&](const std::string& name) -> std::optional<std::string> {
        return "/v1/convert/jobs/" + id + "/artifacts/" + name;
      });
    }
    doc.markdown = std::move(md);
  }
  // The other formats the job stored (conversion.formats): JSON is quire's document model
  // (docs/document.md), not a DoclingDocument.
  auto stored = [&](const char* format) -> std::optional<std::string> {
    auto f = s.svc.get_result_format(id, ex.api_key_id, format);
    if (f) return std::move(f->bytes);
    errors.push_back(dl::error_item(std::string("to_formats: ") + format + " is not available for this task (" +
                                    f.err().code + "); its field is null"));
    return std::nullopt;
  };
  if (t.want_json) {
    if (auto text = stored("json")) {
      auto parsed = json::parse(*text, nullptr, false);
      if (parsed.is_discarded()) errors.push_back(dl::error_item("to_formats: the stored json is not readable"));
      else doc.json_content = std::move(parsed);
    }
  }
  if (t.want_text) doc.text = stored("text");
  return json_response(200, dl::convert_response(doc, "success", errors, dl::processing_seconds(job)));
}

// The options a task was submitted with, as far as its answer depends on them, from its job
// spec: its formats, and extract_images for whether images were asked for (the mode itself is not
// stored, so a later result embeds them).
dl::translation stored_translation(const json& job) {
  dl::translation t;
  const auto& spec = job.value("job_spec", json::object());
  const auto conv = spec.value("conversion", json::object());
  t.images = conv.value("extract_images", false) ? dl::image_mode::embedded : dl::image_mode::placeholder;
  for (const auto& f : quire::api::formats_of(spec)) {
    t.want_json = t.want_json || f == "json";
    t.want_text = t.want_text || f == "text";
  }
  return t;
}

using reader = std::optional<response> (*)(const request&, const std::string&, docling_input&);

// Reads the request's document and options, translates them and submits the job (`job` its
// document): what the sync and the async converts share.
std::optional<response> read_and_submit(api_state& s, exchange& ex, reader read, accepted& a, json& job) {
  docling_input in;
  if (auto err = read(ex.req, ex.correlation_id, in)) return err;
  if (auto err = translate(s, in, ex.correlation_id, a)) return err;
  return submit(s, ex, in, a.spec, job);
}

// Submits, then waits for the job up to QUIRE_DOCLING_MAX_SYNC_WAIT_SECONDS; past it 504 as
// docling-serve answers, naming the task so the client can still poll for it.
response convert_sync(api_state& s, exchange& ex, reader read) {
  const auto& cid = ex.correlation_id;
  accepted a;
  json job;
  if (auto err = read_and_submit(s, ex, read, a, job)) return std::move(*err);
  const auto id = job.value("job_id", "");
  const auto limit = std::chrono::duration_cast<std::chrono::milliseconds>(s.cfg.docling_max_sync_wait);
  auto w = s.svc.wait_job(id, ex.api_key_id, limit);
  if (!w) return docling_error(w.err(), cid);
  job = detail::job_document(std::move(*w));
  const auto st = job.value("status", "");
  if (st == "queued" || st == "running") {
    auto r = error_response("sync_wait_exceeded",
                            "Conversion is taking too long. The maximum wait time is configured as "
                            "QUIRE_DOCLING_MAX_SYNC_WAIT_SECONDS=" +
                                std::to_string(s.cfg.docling_max_sync_wait.count()) + "; the task goes on: poll " +
                                docling_prefix() + "/v1/status/poll/" + id,
                            cid, {{"task_id", id}});
    r.headers.emplace_back("Location", docling_prefix() + "/v1/status/poll/" + id);
    return r;
  }
  return finished_answer(s, ex, job, a.t);
}

response convert_async(api_state& s, exchange& ex, reader read) {
  accepted a;
  json job;
  if (auto err = read_and_submit(s, ex, read, a, job)) return std::move(*err);
  auto body = dl::task_status(job);
  // The option reports cannot wait for the result (its options are not all stored): they are
  // part of the submit's answer, in a field docling's TaskStatusResponse does not have.
  if (!a.t.errors.empty()) body["errors"] = a.t.errors;
  return json_response(200, body);
}

}  // namespace

response docling_health(api_state&, exchange&) { return json_response(200, {{"status", "ok"}}); }

response docling_version(api_state& s, exchange&) {
  const auto info = s.svc.info();
  return json_response(200, {{"quire", info.revision},
                             {"docling-serve-api", "v1"},
                             {"engine", "quire (rules-based PDF converter)"}});
}

response docling_convert_file(api_state& s, exchange& ex) { return convert_sync(s, ex, read_form); }
response docling_convert_file_async(api_state& s, exchange& ex) { return convert_async(s, ex, read_form); }
response docling_convert_source(api_state& s, exchange& ex) { return convert_sync(s, ex, read_source); }
response docling_convert_source_async(api_state& s, exchange& ex) { return convert_async(s, ex, read_source); }

response docling_poll(api_state& s, exchange& ex) {
  const auto& cid = ex.correlation_id;
  if (auto err = check_task_id(ex)) return std::move(*err);
  double wait = 0;
  if (auto it = ex.req.query.find("wait"); it != ex.req.query.end()) {
    char* end = nullptr;
    wait = std::strtod(it->second.c_str(), &end);
    if (it->second.empty() || end != it->second.c_str() + it->second.size() || !(wait >= 0))
      return validation("wait", "must be a number of seconds, 0 or more", cid);
    wait = std::min(wait, kMaxPollWaitSeconds);
  }
  const auto& id = ex.params.at("task_id");
  auto res = wait > 0 ? s.svc.wait_job(id, ex.api_key_id, std::chrono::milliseconds(static_cast<long>(wait * 1000)))
                      : s.svc.get_job(id, ex.api_key_id);
  if (!res) return docling_error(res.err(), cid);
  return json_response(200, dl::task_status(detail::job_document(std::move(*res))));
}

response docling_result(api_state& s, exchange& ex) {
  const auto& cid = ex.correlation_id;
  if (auto err = check_task_id(ex)) return std::move(*err);
  auto res = s.svc.get_job(ex.params.at("task_id"), ex.api_key_id);
  if (!res) return docling_error(res.err(), cid);
  const auto job = detail::job_document(std::move(*res));
  const auto st = job.value("status", "");
  if (st == "queued" || st == "running")
    return docling_error({"job_not_finished", "Task result not found. Please wait for a completion status.",
                          {{"status", st}}},
                         cid);
  return finished_answer(s, ex, job, stored_translation(job));
}

}  // namespace quire::http::detail
