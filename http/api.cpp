// The v1 routes; see api.hpp. Route behaviour and error codes are specified in docs/api.md.
#include "http/api.hpp"

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include <algorithm>
#include <cstdio>
#include <random>

#include "http/job_spec.hpp"
#include "http/multipart.hpp"

namespace quire::http {
namespace {

using json = nlohmann::json;
using clock_type = std::chrono::steady_clock;

const std::vector<error_kind> kErrors = {
    {"bad_request", 400, false},
    {"unauthorized", 401, false},
    {"route_not_found", 404, false},
    {"job_not_found", 404, false},
    {"artifact_not_found", 404, false},
    {"method_not_allowed", 405, false},
    {"idempotency_conflict", 409, false},
    {"job_not_finished", 409, true},
    {"job_not_succeeded", 409, false},
    {"job_not_cancelable", 409, false},
    {"job_expired", 410, false},
    {"payload_too_large", 413, false},
    {"unsupported_media_type", 415, false},
    {"validation_error", 422, false},
    {"internal_error", 500, true},
    {"artifact_missing", 500, false},
    {"artifact_corrupt", 500, false},
    {"not_ready", 503, true},
    {"gpu_not_available", 503, true},
    {"overloaded", 503, true},
    {"queue_full", 503, true},
    {"database_unavailable", 503, true},
};

const error_kind& kind_of(const std::string& code) {
  for (const auto& k : kErrors)
    if (code == k.code) return k;
  return kErrors[14];  // internal_error
}

std::string random_hex(std::size_t bytes) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  static const char* hex = "0123456789abcdef";
  std::string s;
  for (std::size_t i = 0; i < bytes; ++i) {
    auto b = static_cast<unsigned>(rng() & 0xff);
    s += hex[b >> 4];
    s += hex[b & 15];
  }
  return s;
}

// Accept a client's correlation id when it is short and safe to echo into logs and headers.
bool valid_correlation_id(const std::string& id) {
  if (id.empty() || id.size() > 128) return false;
  for (char c : id)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.' && c != ':') return false;
  return true;
}

std::string sha256_hex(std::string_view data) {
  unsigned char d[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), d);
  static const char* hex = "0123456789abcdef";
  std::string s;
  for (unsigned char c : d) {
    s += hex[c >> 4];
    s += hex[c & 15];
  }
  return s;
}

response json_response(int status, const json& body) {
  response r;
  r.status = status;
  r.headers.emplace_back("Content-Type", "application/json");
  r.body = body.dump();
  return r;
}

response from_error(const actors::api_error& e, const std::string& cid) {
  return error_response(e.code, e.message, cid, e.details);
}

response validation(const std::string& field, const std::string& message, const std::string& cid) {
  return error_response("validation_error", field + ": " + message, cid, {{"field", field}});
}

// Splits "/a/b/c" into segments.
std::vector<std::string> segments(const std::string& path) {
  std::vector<std::string> out;
  std::size_t i = 0;
  while (i < path.size()) {
    if (path[i] == '/') { ++i; continue; }
    auto j = path.find('/', i);
    out.push_back(path.substr(i, j == std::string::npos ? std::string::npos : j - i));
    i = j == std::string::npos ? path.size() : j;
  }
  return out;
}

bool match(const std::string& tmpl, const std::vector<std::string>& segs, std::map<std::string, std::string>& params) {
  auto t = segments(tmpl);
  if (t.size() != segs.size()) return false;
  std::map<std::string, std::string> p;
  for (std::size_t i = 0; i < t.size(); ++i) {
    if (t[i].size() > 2 && t[i].front() == '{' && t[i].back() == '}')
      p[t[i].substr(1, t[i].size() - 2)] = segs[i];
    else if (t[i] != segs[i])
      return false;
  }
  params = std::move(p);
  return true;
}

// wait_seconds in 0..20; false (and a 422) when malformed.
bool parse_wait(const request& req, int& seconds, response& err, const std::string& cid) {
  seconds = 0;
  auto it = req.query.find("wait_seconds");
  if (it == req.query.end()) return true;
  const auto& v = it->second;
  if (v.empty() || v.size() > 2 || v.find_first_not_of("0123456789") != std::string::npos || std::stoi(v) > 20) {
    err = validation("wait_seconds", "must be an integer from 0 to 20", cid);
    return false;
  }
  seconds = std::stoi(v);
  return true;
}

bool looks_like_pdf(std::string_view bytes) {
  return bytes.substr(0, 1024).find("%PDF-") != std::string_view::npos;
}

const char* kOpenRoutes[] = {"/livez", "/healthz", "/readyz", "/metrics"};

}  // namespace

std::string request::header(const std::string& lower_name) const {
  auto it = headers.find(lower_name);
  return it == headers.end() ? std::string{} : it->second;
}

const std::vector<error_kind>& error_kinds() { return kErrors; }

std::vector<std::pair<std::string, std::string>> route_table() {
  return {{"GET", "/livez"},
          {"GET", "/healthz"},
          {"GET", "/readyz"},
          {"GET", "/metrics"},
          {"GET", "/v1/info"},
          {"GET", "/openapi.json"},
          {"POST", "/v1/convert/jobs"},
          {"GET", "/v1/convert/jobs"},
          {"GET", "/v1/convert/jobs/{job_id}"},
          {"GET", "/v1/convert/jobs/{job_id}/result"},
          {"GET", "/v1/convert/jobs/{job_id}/result/markdown"},
          {"POST", "/v1/convert/jobs/{job_id}/cancel"},
          {"GET", "/v1/convert/jobs/{job_id}/artifacts/{name}"}};
}

response error_response(const std::string& code, const std::string& message, const std::string& correlation_id,
                        const json& details) {
  const auto& k = kind_of(code);
  auto r = json_response(k.status, {{"api_version", "v1"},
                                    {"error",
                                     {{"code", code},
                                      {"message", message},
                                      {"retryable", k.retryable},
                                      {"details", details.is_null() ? json::object() : details},
                                      {"correlation_id", correlation_id}}}});
  if (k.status == 503) r.headers.emplace_back("Retry-After", code == "overloaded" ? "1" : "5");
  if (k.status == 401) r.headers.emplace_back("WWW-Authenticate", "Bearer");
  return r;
}

std::string match_api_key(const std::vector<std::string>& keys, const std::string& presented) {
  // Compare digests, so neither the length nor the content of a key leaks through timing.
  unsigned char want[SHA256_DIGEST_LENGTH], have[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(presented.data()), presented.size(), have);
  std::string found;
  for (const auto& k : keys) {
    SHA256(reinterpret_cast<const unsigned char*>(k.data()), k.size(), want);
    if (CRYPTO_memcmp(want, have, sizeof want) == 0 && found.empty()) found = "key-" + sha256_hex(k).substr(0, 12);
  }
  return found;
}

struct api::context {
  std::string correlation_id;
  std::string route = "unmatched";
  std::map<std::string, std::string> params;
  std::string api_key_id;
};

api::api(actors::service& svc, const actors::service_config& cfg) : svc_(svc), cfg_(cfg) {}

response api::handle(const request& req) {
  const auto start = clock_type::now();
  context ctx;
  auto cid = req.header("x-correlation-id");
  ctx.correlation_id = valid_correlation_id(cid) ? cid : random_hex(16);
  response r;
  try {
    r = dispatch(req, ctx);
  } catch (const std::exception& e) {
    r = error_response("internal_error", std::string("unexpected: ") + e.what(), ctx.correlation_id);
  }
  r.headers.emplace_back("X-Correlation-ID", ctx.correlation_id);
  auto& m = actors::service_metrics();
  m.add("quire_http_requests_total",
        {{"method", req.method}, {"route", ctx.route}, {"status", std::to_string(r.status)}});
  m.observe("quire_http_request_duration_seconds", {{"method", req.method}, {"route", ctx.route}},
            std::chrono::duration<double>(clock_type::now() - start).count());
  return r;
}

response api::dispatch(const request& req, context& ctx) {
  const auto& cid = ctx.correlation_id;
  const auto segs = segments(req.path);
  bool path_known = false;
  std::string allowed;
  for (const auto& [method, tmpl] : route_table()) {
    std::map<std::string, std::string> params;
    if (!match(tmpl, segs, params)) continue;
    path_known = true;
    allowed += (allowed.empty() ? "" : ", ") + method;
    if (method == req.method || (req.method == "HEAD" && method == "GET")) {
      ctx.route = tmpl;
      ctx.params = std::move(params);
    }
  }
  if (ctx.route == "unmatched") {
    if (!path_known) return error_response("route_not_found", "no route for " + req.path, cid);
    auto r = error_response("method_not_allowed", req.method + " is not allowed on " + req.path, cid);
    r.headers.emplace_back("Allow", allowed);
    return r;
  }
  const auto& route = ctx.route;

  // --- open routes: no auth, no readiness gate ---
  if (route == "/livez" || route == "/healthz") return json_response(200, {{"status", "alive"}});
  if (route == "/readyz") {
    auto snap = svc_.readiness();
    json reasons = json::array();
    for (const auto& f : snap.reasons) reasons.push_back({{"code", actors::to_string(f.code)}, {"message", f.message}});
    auto r = json_response(snap.ready ? 200 : 503, {{"status", snap.ready ? "ready" : "not_ready"},
                                                    {"reasons", reasons},
                                                    {"warnings", snap.warnings},
                                                    {"checked_at_ms", snap.checked_at_ms}});
    if (!snap.ready) r.headers.emplace_back("Retry-After", "5");
    return r;
  }
  if (route == "/metrics") {
    response r;
    r.headers.emplace_back("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
    r.body = actors::service_metrics().render();
    return r;
  }
  (void)kOpenRoutes;

  // --- everything else waits for readiness (fail closed). While only draining, reads and
  // cancels still work: clients can follow the jobs that are finishing. ---
  if (auto snap = svc_.readiness(); !snap.ready) {
    bool only_draining = !snap.reasons.empty();
    for (const auto& f : snap.reasons) only_draining = only_draining && f.code == actors::reason::draining;
    const bool new_work = route == "/v1/convert/jobs" && req.method == "POST";
    if (!only_draining || new_work) {
      json reasons = json::array();
      for (const auto& f : snap.reasons) reasons.push_back(std::string(actors::to_string(f.code)));
      return error_response("not_ready", "this lane is not ready", cid, {{"reasons", reasons}});
    }
  }
  if (route == "/v1/info") return json_response(200, svc_.info());
  if (route == "/openapi.json") {
    response r;
    r.headers.emplace_back("Content-Type", "application/json");
    r.body = openapi_json();
    return r;
  }

  // --- job routes: authenticated ---
  if (!cfg_.api_keys.empty()) {
    std::string presented = req.header("x-api-key");
    if (presented.empty()) {
      auto authz = req.header("authorization");
      if (authz.size() > 7 && (authz.compare(0, 7, "Bearer ") == 0 || authz.compare(0, 7, "bearer ") == 0))
        presented = authz.substr(7);
    }
    if (presented.empty()) return error_response("unauthorized", "an API key is required (X-API-Key or Bearer)", cid);
    ctx.api_key_id = match_api_key(cfg_.api_keys, presented);
    if (ctx.api_key_id.empty()) return error_response("unauthorized", "the API key is not valid", cid);
  }
  const std::string job_id = ctx.params.count("job_id") ? ctx.params["job_id"] : "";

  if (route == "/v1/convert/jobs" && req.method == "POST") {
    int wait = 0;
    response err;
    if (!parse_wait(req, wait, err, cid)) return err;
    if (svc_.queued_jobs() >= cfg_.max_queue_depth)
      return error_response("queue_full", "the queue is full; retry later", cid,
                            {{"max_queue_depth", cfg_.max_queue_depth}});
    if (uploads_in_flight_.fetch_add(1) >= cfg_.max_concurrent_uploads) {
      uploads_in_flight_.fetch_sub(1);
      return error_response("overloaded", "too many uploads in progress; retry later", cid);
    }
    struct release {
      std::atomic<int>& n;
      ~release() { n.fetch_sub(1); }
    } guard{uploads_in_flight_};

    actors::submission sub;
    sub.api_key_id = ctx.api_key_id;
    sub.idempotency_key = req.header("idempotency-key");
    if (sub.idempotency_key.size() > 255)
      return validation("Idempotency-Key", "must be at most 255 characters", cid);
    std::string spec_text;
    auto ctype = req.header("content-type");
    std::string_view pdf;
    if (auto boundary = form_boundary(ctype)) {
      auto parts = parse_form(req.body, *boundary);
      if (!parts) return error_response("bad_request", "malformed multipart body", cid);
      bool have_file = false;
      for (const auto& p : *parts) {
        if (p.name == "file") { pdf = p.body; sub.filename = p.filename; have_file = true; }
        else if (p.name == "job_spec") spec_text = std::string(p.body);
        else return validation(p.name, "unknown form field (expected file and job_spec)", cid);
      }
      if (!have_file) return validation("file", "is required", cid);
    } else {
      auto semi = ctype.find(';');
      auto base = ctype.substr(0, semi);
      if (base != "application/pdf" && base != "application/octet-stream")
        return error_response("unsupported_media_type",
                              "send multipart/form-data (file, job_spec) or an application/pdf body", cid);
      pdf = req.body;
      if (auto it = req.query.find("job_spec"); it != req.query.end()) spec_text = it->second;
    }
    if (pdf.size() > cfg_.max_upload_bytes)
      return error_response("payload_too_large", "the PDF is larger than the limit", cid,
                            {{"max_upload_bytes", cfg_.max_upload_bytes}});
    if (pdf.empty()) return validation("file", "is empty", cid);
    if (!looks_like_pdf(pdf)) return validation("file", "is not a PDF (no %PDF- header)", cid);
    spec_limits limits;
    limits.max_timeout_seconds = static_cast<int>(cfg_.document_timeout.count());
    limits.default_policy = cfg_.effective_acceleration_policy();
    spec_problem problem;
    auto spec = validate_job_spec(spec_text, limits, problem);
    if (!spec) return validation(problem.field, problem.message, cid);
    // gpu_required never falls back: with no working GPU converter now, refuse rather than queue a job
    // nothing can run. Retryable: a GPU may come back (another replica, a restart).
    if ((*spec)["execution"].value("acceleration_policy", "") == "gpu_required" && svc_.working_gpu_converters() <= 0)
      return error_response("gpu_not_available", "acceleration_policy gpu_required, but this lane has no working GPU",
                            cid, {{"acceleration_policy", "gpu_required"}});
    sub.job_spec = std::move(*spec);
    sub.pdf.assign(pdf.data(), pdf.size());
    auto res = svc_.submit(sub);
    if (!res) return from_error(*res.error, cid);
    json job = res.value->job;
    bool replay = res.value->replay;
    int status = 202;
    if (wait > 0) {
      auto waited = svc_.wait_job(job["job_id"].get<std::string>(), ctx.api_key_id, std::chrono::seconds(wait));
      if (waited) job = *waited.value;
    }
    const auto st = job.value("status", "");
    if (st == "succeeded" || st == "failed" || st == "canceled") status = 200;
    auto r = json_response(status, {{"api_version", "v1"}, {"job", job}});
    r.headers.emplace_back("Location", "/v1/convert/jobs/" + job.value("job_id", ""));
    if (replay) r.headers.emplace_back("X-Idempotent-Replay", "true");
    return r;
  }
  if (route == "/v1/convert/jobs") {
    actors::list_query q;
    if (auto it = req.query.find("status"); it != req.query.end()) {
      static const std::vector<std::string> states{"queued", "running", "succeeded", "failed", "canceled", "expired"};
      if (std::find(states.begin(), states.end(), it->second) == states.end())
        return validation("status", "must be one of queued, running, succeeded, failed, canceled, expired", cid);
      q.status = it->second;
    }
    if (auto it = req.query.find("limit"); it != req.query.end()) {
      const auto& v = it->second;
      if (v.empty() || v.size() > 3 || v.find_first_not_of("0123456789") != std::string::npos ||
          std::stoi(v) < 1 || std::stoi(v) > 200)
        return validation("limit", "must be an integer from 1 to 200", cid);
      q.limit = std::stoi(v);
    }
    if (auto it = req.query.find("cursor"); it != req.query.end()) q.cursor = it->second;
    auto res = svc_.list_jobs(q, ctx.api_key_id);
    if (!res) return from_error(*res.error, cid);
    json body = {{"api_version", "v1"}, {"jobs", res.value->jobs}};
    body["next_cursor"] = res.value->next_cursor.empty() ? json(nullptr) : json(res.value->next_cursor);
    return json_response(200, body);
  }
  if (route == "/v1/convert/jobs/{job_id}") {
    int wait = 0;
    response err;
    if (!parse_wait(req, wait, err, cid)) return err;
    auto res = wait > 0 ? svc_.wait_job(job_id, ctx.api_key_id, std::chrono::seconds(wait))
                        : svc_.get_job(job_id, ctx.api_key_id);
    if (!res) return from_error(*res.error, cid);
    return json_response(200, {{"api_version", "v1"}, {"job", *res.value}});
  }
  if (route == "/v1/convert/jobs/{job_id}/cancel") {
    auto res = svc_.cancel_job(job_id, ctx.api_key_id);
    if (!res) return from_error(*res.error, cid);
    return json_response(200, {{"api_version", "v1"}, {"job", *res.value}});
  }
  if (route == "/v1/convert/jobs/{job_id}/result") {
    auto it = req.query.find("inline");
    bool inline_md = it != req.query.end() && (it->second == "true" || it->second == "1");
    if (it != req.query.end() && !inline_md && it->second != "false" && it->second != "0")
      return validation("inline", "must be true or false", cid);
    auto res = svc_.get_result(job_id, ctx.api_key_id, inline_md);
    if (!res) return from_error(*res.error, cid);
    json result = res.value->metadata;
    if (inline_md) result["markdown_content"] = res.value->markdown;
    return json_response(200, {{"api_version", "v1"}, {"result", result}});
  }
  if (route == "/v1/convert/jobs/{job_id}/result/markdown") {
    auto res = svc_.get_result(job_id, ctx.api_key_id, true);
    if (!res) return from_error(*res.error, cid);
    response r;
    r.headers.emplace_back("Content-Type", "text/markdown; charset=utf-8");
    r.headers.emplace_back("Content-Disposition", "attachment; filename=\"" + job_id + ".md\"");
    if (res.value->metadata.contains("sha256"))
      r.headers.emplace_back("X-Content-SHA256", res.value->metadata["sha256"].get<std::string>());
    r.body = std::move(res.value->markdown);
    return r;
  }
  if (route == "/v1/convert/jobs/{job_id}/artifacts/{name}") {
    auto res = svc_.get_artifact(job_id, ctx.api_key_id, ctx.params["name"]);
    if (!res) return from_error(*res.error, cid);
    response r;
    r.headers.emplace_back("Content-Type", res.value->metadata.value("media_type", "application/octet-stream"));
    r.body = std::move(res.value->markdown);
    return r;
  }
  return error_response("internal_error", "route without handler: " + route, cid);
}

}  // namespace quire::http
