// The job routes: submit (POST /v1/convert/jobs), list, get, cancel, result, the result's formats
// and bundle, and artifacts. They run after dispatch's gates (routes.cpp: keyed, so the API key and a well-formed
// job_id have been checked). Behaviour and error codes are specified in docs/api.md.
#include <algorithm>
#include <string_view>
#include <utility>

#include "api/job_spec.hpp"
#include "api/result_formats.hpp"
#include "http/bundle.hpp"
#include "http/detail/documents.hpp"
#include "http/detail/exchange.hpp"
#include "http/multipart.hpp"

namespace quire::http::detail {
namespace {

// The answer to a submit: 202 with the job (200 when `waited` found it finished), or the error.
// Takes both by value: the job record moves into the answer's document.
response submit_answer(actors::api_result<actors::submitted> res, std::optional<storage::job_record> waited,
                       const std::string& cid) {
  if (!res) return from_error(res.err(), cid);
  storage::job_record& job = waited ? *waited : res->job;
  const int status = job.status == storage::job_status::succeeded || job.status == storage::job_status::failed ||
                             job.status == storage::job_status::canceled
                         ? 200
                         : 202;
  const auto location = "/v1/convert/jobs/" + job.id;
  auto r = json_response(status, {{"api_version", "v1"}, {"job", job_document(std::move(job))}});
  r.headers.emplace_back("Location", location);
  if (res->replay) r.headers.emplace_back("X-Idempotent-Replay", "true");
  return r;
}

// wait_seconds in 0..20; the 422 when malformed.
std::optional<response> parse_wait(const request& req, int& seconds, const std::string& cid) {
  seconds = 0;
  auto it = req.query.find("wait_seconds");
  if (it == req.query.end()) return std::nullopt;
  const auto& v = it->second;
  if (v.empty() || v.size() > 2 || v.find_first_not_of("0123456789") != std::string::npos || std::stoi(v) > 20)
    return validation("wait_seconds", "must be an integer from 0 to 20", cid);
  seconds = std::stoi(v);
  return std::nullopt;
}

bool looks_like_pdf(std::string_view bytes) { return bytes.substr(0, 1024).find("%PDF-") != std::string_view::npos; }

// A job spec is a few hundred bytes; anything near this is not one.
constexpr std::size_t kMaxJobSpecBytes = 64 * 1024;
const char* kVisibleAscii =
    "!\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~";

// What an upload carries, as views into the request (no copy of the PDF yet).
struct upload {
  std::string_view pdf;
  std::string spec_text;
  std::string filename;
};

// The PDF and job spec of a submit: a multipart form (file, job_spec) or a PDF body with
// ?job_spec=; the error to answer when neither is well formed.
std::optional<response> read_upload(const request& req, const std::string& cid, upload& up) {
  const auto ctype = req.header("content-type");
  const auto base = media_type(ctype);
  if (base == "application/pdf" || base == "application/octet-stream") {
    up.pdf = req.body;
    if (auto it = req.query.find("job_spec"); it != req.query.end()) up.spec_text = it->second;
    return std::nullopt;
  }
  if (base != "multipart/form-data")
    return error_response("unsupported_media_type",
                          "send multipart/form-data (file, job_spec) or an application/pdf body", cid);
  auto boundary = form_boundary(ctype);
  if (!boundary)
    return error_response("bad_request", "multipart/form-data needs a boundary parameter of 1 to 70 characters", cid,
                          {{"field", "Content-Type"}});
  auto parts = parse_form(req.body, *boundary);
  if (!parts) return error_response("bad_request", "malformed multipart body", cid);
  int files = 0, specs = 0;
  for (const auto& p : *parts) {
    if (p.name == "file") {
      if (++files > 1) return validation("file", "must be sent once", cid);
      up.pdf = p.body;
      up.filename = safe_filename(p.filename);
    } else if (p.name == "job_spec") {
      if (++specs > 1) return validation("job_spec", "must be sent once", cid);
      up.spec_text = std::string(p.body);
    } else {
      return validation(p.name.substr(0, 64), "unknown form field (expected file and job_spec)", cid);
    }
  }
  if (files == 0) return validation("file", "is required", cid);
  return std::nullopt;
}

// Answers a submit from the submit batcher's thread once its batch has committed: the handler
// thread goes on to the next request meanwhile. The upload slot goes along and is given back then.
void submit_deferred(api_state& s, exchange& ex, const actors::submission& sub) {
  ex.deferred = true;
  auto respond = std::move(*std::exchange(ex.respond, nullptr));
  // What finish() reads (metrics, access log), without the body.
  request head;
  head.method = ex.req.method;
  head.path = ex.req.path;
  head.peer = ex.req.peer;
  s.svc.submit_async(sub, [&s, respond = std::move(respond), head = std::move(head), route = ex.matched,
                           cid = ex.correlation_id, key = ex.api_key_id,
                           start = ex.start](actors::api_result<actors::submitted> res) mutable {
    response r;
    try {
      r = submit_answer(std::move(res), {}, cid);
    } catch (const std::exception& e) {
      r = error_response("internal_error", std::string("unexpected: ") + e.what(), cid);
    }
    s.uploads.give_back();
    exchange done(head);
    done.matched = route;
    done.correlation_id = std::move(cid);
    done.api_key_id = std::move(key);
    done.start = start;
    respond(finish(head, done, std::move(r)));
  });
}

}  // namespace

response submit_job(api_state& s, exchange& ex) {
  const auto& req = ex.req;
  const auto& cid = ex.correlation_id;
  const auto& cfg = s.cfg;
  int wait = 0;
  if (auto err = parse_wait(req, wait, cid)) return std::move(*err);
  if (s.svc.queued_jobs() >= cfg.max_queue_depth)
    return error_response("queue_full", "the queue is full; retry later", cid, {{"max_queue_depth", cfg.max_queue_depth}});
  actors::submission sub;
  sub.api_key_id = ex.api_key_id;
  sub.correlation_id = cid;
  sub.idempotency_key = req.header("idempotency-key");
  if (sub.idempotency_key.size() > 255 || sub.idempotency_key.find_first_not_of(kVisibleAscii) != std::string::npos)
    return validation("Idempotency-Key", "must be at most 255 visible ASCII characters", cid);
  upload up;
  if (auto err = read_upload(req, cid, up)) return std::move(*err);
  if (up.spec_text.size() > kMaxJobSpecBytes)
    return validation("job_spec", "is larger than " + std::to_string(kMaxJobSpecBytes) + " bytes", cid);
  if (up.pdf.size() > cfg.max_upload_bytes)
    return error_response("payload_too_large", "the PDF is larger than the limit", cid,
                          {{"max_upload_bytes", cfg.max_upload_bytes}});
  if (up.pdf.empty()) return validation("file", "is empty", cid);
  if (!looks_like_pdf(up.pdf)) return validation("file", "is not a PDF (no %PDF- header)", cid);
  auto spec = quire::api::parse_job_spec(up.spec_text, actors::job_spec_limits(cfg));
  if (!spec) return refused(spec.err(), cid);
  // gpu_required never falls back: with no working GPU converter now, refuse rather than queue a job
  // nothing can run. Retryable: a GPU may come back (another replica, a restart).
  if (spec->execution.acceleration == convert::acceleration_policy::gpu_required && s.svc.working_gpu_converters() <= 0)
    return error_response("gpu_not_available", "acceleration_policy gpu_required, but this lane has no working GPU",
                          cid, {{"acceleration_policy", "gpu_required"}});
  sub.filename = std::move(up.filename);
  sub.job_spec = quire::api::to_json(*spec);
  sub.pdf.assign(up.pdf.data(), up.pdf.size());
  // Nothing to wait for after the commit: answered when it is done, from the batcher's thread.
  if (wait == 0 && ex.respond) {
    submit_deferred(s, ex, sub);
    return {};
  }
  auto res = s.svc.submit(sub);
  std::optional<storage::job_record> waited;
  if (res && wait > 0) {
    auto w = s.svc.wait_job(res->job.id, ex.api_key_id, std::chrono::seconds(wait));
    if (w) waited = std::move(*w);
  }
  return submit_answer(std::move(res), std::move(waited), cid);
}

response list_jobs(api_state& s, exchange& ex) {
  const auto& req = ex.req;
  const auto& cid = ex.correlation_id;
  actors::list_query q;
  if (auto it = req.query.find("status"); it != req.query.end()) {
    static const std::vector<std::string> states{"queued", "running", "succeeded", "failed", "canceled", "expired"};
    if (std::find(states.begin(), states.end(), it->second) == states.end())
      return validation("status", "must be one of queued, running, succeeded, failed, canceled, expired", cid);
    q.status = it->second;
  }
  if (auto it = req.query.find("limit"); it != req.query.end()) {
    const auto& v = it->second;
    if (v.empty() || v.size() > 3 || v.find_first_not_of("0123456789") != std::string::npos || std::stoi(v) < 1 ||
        std::stoi(v) > 200)
      return validation("limit", "must be an integer from 1 to 200", cid);
    q.limit = std::stoi(v);
  }
  if (auto it = req.query.find("cursor"); it != req.query.end()) q.cursor = it->second;
  auto res = s.svc.list_jobs(q, ex.api_key_id);
  if (!res) return from_error(res.err(), cid);
  return json_response(200, job_page_document(std::move(*res)));
}

response get_job(api_state& s, exchange& ex) {
  const auto& cid = ex.correlation_id;
  const auto& job_id = ex.params.at("job_id");
  int wait = 0;
  if (auto err = parse_wait(ex.req, wait, cid)) return std::move(*err);
  auto res = wait > 0 ? s.svc.wait_job(job_id, ex.api_key_id, std::chrono::seconds(wait))
                      : s.svc.get_job(job_id, ex.api_key_id);
  if (!res) return from_error(res.err(), cid);
  return json_response(200, {{"api_version", "v1"}, {"job", job_document(std::move(*res))}});
}

response cancel_job(api_state& s, exchange& ex) {
  auto res = s.svc.cancel_job(ex.params.at("job_id"), ex.api_key_id);
  if (!res) return from_error(res.err(), ex.correlation_id);
  return json_response(200, {{"api_version", "v1"}, {"job", job_document(std::move(*res))}});
}

response get_result(api_state& s, exchange& ex) {
  const auto& cid = ex.correlation_id;
  auto it = ex.req.query.find("inline");
  const bool inline_md = it != ex.req.query.end() && (it->second == "true" || it->second == "1");
  if (it != ex.req.query.end() && !inline_md && it->second != "false" && it->second != "0")
    return validation("inline", "must be true or false", cid);
  auto res = s.svc.get_result(ex.params.at("job_id"), ex.api_key_id, inline_md);
  if (!res) return from_error(res.err(), cid);
  json result = result_document(*res);
  if (inline_md) result["markdown_content"] = std::move(res->markdown);
  return json_response(200, {{"api_version", "v1"}, {"result", result}});
}

namespace {
// One result format's file as a download: its media type, `<job_id><extension>` as the file name,
// X-Content-SHA256 with the recorded hash it was verified against.
response format_download(api_state& s, exchange& ex, const std::string& format) {
  const auto& job_id = ex.params.at("job_id");
  auto res = s.svc.get_result_format(job_id, ex.api_key_id, format);
  if (!res) return from_error(res.err(), ex.correlation_id);
  const auto* f = quire::api::find_result_format(format);
  response r;
  r.headers.emplace_back("Content-Type", std::string(f->media_type));
  r.headers.emplace_back("Content-Disposition", "attachment; filename=\"" + job_id + std::string(f->extension) + "\"");
  r.headers.emplace_back("X-Content-SHA256", res->sha256);
  r.body = std::move(res->bytes);
  return r;
}
}  // namespace

response get_markdown(api_state& s, exchange& ex) { return format_download(s, ex, "markdown"); }

response get_result_format(api_state& s, exchange& ex) { return format_download(s, ex, ex.params.at("format")); }

// The zip of result.md, the job's other formats and its images under assets/ (bundle.hpp); with
// ?images=embedded the images are data URIs in result.md instead, and not in the archive.
response get_bundle(api_state& s, exchange& ex) {
  const auto& cid = ex.correlation_id;
  const auto& job_id = ex.params.at("job_id");
  auto it = ex.req.query.find("images");
  if (it != ex.req.query.end() && it->second != "files" && it->second != "embedded")
    return validation("images", "must be files (the default: images under assets/) or embedded (data URIs)", cid);
  const bool embedded = it != ex.req.query.end() && it->second == "embedded";
  auto res = s.svc.get_result_files(job_id, ex.api_key_id, s.cfg.max_bundle_bytes);
  if (!res) return from_error(res.err(), cid);
  std::vector<embedded_image> images;
  if (embedded)
    for (const auto& f : res->files)
      if (f.name.rfind("assets/", 0) == 0) images.push_back({f.name.substr(7), f.media_type, f.bytes});
  std::string markdown;  // result.md with the images in it (embedded only)
  std::vector<zip_entry> entries;
  for (const auto& f : res->files) {
    const bool image = f.name.rfind("assets/", 0) == 0;
    if (embedded && image) continue;
    if (embedded && f.name == "result.md") {
      markdown = embed_images(f.bytes, images);
      entries.push_back({f.name, markdown, true});
      continue;
    }
    entries.push_back({f.name, f.bytes, !image});
  }
  auto zip = make_zip(entries);
  if (!zip) return from_error(zip.err(), cid);
  response r;
  r.headers.emplace_back("Content-Type", "application/zip");
  r.headers.emplace_back("Content-Disposition", "attachment; filename=\"" + job_id + ".zip\"");
  r.body = std::move(*zip);
  return r;
}

response get_artifact(api_state& s, exchange& ex) {
  auto res = s.svc.get_artifact(ex.params.at("job_id"), ex.api_key_id, ex.params.at("name"));
  if (!res) return from_error(res.err(), ex.correlation_id);
  response r;
  r.headers.emplace_back("Content-Type", res->media_type);
  r.body = std::move(res->bytes);
  return r;
}

}  // namespace quire::http::detail
