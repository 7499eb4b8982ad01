// The v1 routes; see api.hpp. Route behaviour and error codes are specified in docs/api.md.
#include "http/api.hpp"

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <random>

#include "http/job_spec.hpp"
#include "http/multipart.hpp"
#include "http/web_routes.hpp"
#include "log/log.hpp"

namespace quire::http {
namespace {

using json = nlohmann::json;
using clock_type = std::chrono::steady_clock;

const std::vector<error_kind> kErrors = {
    {"bad_request", 400, false},
    {"invalid_job_id", 400, false},
    {"unauthorized", 401, false},
    {"route_not_found", 404, false},
    {"job_not_found", 404, false},
    {"artifact_not_found", 404, false},
    {"source_not_available", 404, false},
    {"method_not_allowed", 405, false},
    {"idempotency_conflict", 409, false},
    {"job_not_finished", 409, true},
    {"job_not_succeeded", 409, false},
    {"job_not_cancelable", 409, false},
    {"job_expired", 410, false},
    {"payload_too_large", 413, false},
    {"unsupported_media_type", 415, false},
    {"validation_error", 422, false},
    {"ocr_language_unavailable", 422, false},
    {"internal_error", 500, true},
    {"unsupported_transfer_encoding", 501, false},
    {"artifact_missing", 500, false},
    {"artifact_corrupt", 500, false},
    {"not_ready", 503, true},
    {"gpu_not_available", 503, true},
    {"overloaded", 503, true},
    {"queue_full", 503, true},
    {"database_unavailable", 503, true},
    {"storage_full", 507, true},
};

const error_kind& kind_of(const std::string& code) {
  static const error_kind internal{"internal_error", 500, true};
  for (const auto& k : kErrors)
    if (code == k.code) return k;
  return internal;
}

// Appends the UTF-8 sequence starting at s[i] to out when it is valid (and not a control
// character), else U+FFFD; a bidi control is dropped. Returns the number of input bytes consumed.
std::size_t copy_utf8_char(std::string_view s, std::size_t i, std::string& out) {
  static const char* kReplacement = "\xEF\xBF\xBD";
  const auto c = static_cast<unsigned char>(s[i]);
  if (c < 0x20 || c == 0x7f) {
    out += kReplacement;
    return 1;
  }
  if (c < 0x80) {
    out += static_cast<char>(c);
    return 1;
  }
  std::size_t len = c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
  if (len == 0 || i + len > s.size()) {
    out += kReplacement;
    return 1;
  }
  std::uint32_t cp = c & (len == 2 ? 0x1f : len == 3 ? 0x0f : 0x07);
  for (std::size_t k = 1; k < len; ++k) {
    const auto cc = static_cast<unsigned char>(s[i + k]);
    if ((cc & 0xc0) != 0x80) {
      out += kReplacement;
      return 1;
    }
    cp = (cp << 6) | (cc & 0x3f);
  }
  // Overlong forms, UTF-16 surrogates, beyond U+10FFFF and C1 controls are not text.
  const std::uint32_t min = len == 2 ? 0x80 : len == 3 ? 0x800 : 0x10000;
  if (cp < min || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff || (cp >= 0x80 && cp <= 0x9f)) {
    out += kReplacement;
    return 1;
  }
  // Bidi controls reorder what follows on screen: "\u202Efdp.exe" displays as "exe.pdf". A
  // display name keeps none of them (dropped, not replaced: nothing is there to show).
  const bool bidi = cp == 0x061c || cp == 0x200e || cp == 0x200f || (cp >= 0x202a && cp <= 0x202e) ||
                    (cp >= 0x2066 && cp <= 0x2069);
  if (!bidi) out.append(s.substr(i, len));
  return len;
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
  // Client text (a field name, a path, a filename) may be any bytes; never fail on it.
  r.body = body.dump(-1, ' ', false, json::error_handler_t::replace);
  return r;
}

response from_error(const actors::api_error& e, const std::string& cid) {
  return error_response(e.code, e.message, cid, e.details);
}

// The answer to a submit: 202 with the job (200 when `waited` found it finished), or the error.
// Takes both by value: the job record moves into the answer's document.
response submit_answer(actors::api_result<actors::submitted> res, std::optional<json> waited, const std::string& cid) {
  if (!res) return from_error(*res.error, cid);
  json& job = waited ? *waited : res.value->job;
  const auto st = job.value("status", "");
  const int status = st == "succeeded" || st == "failed" || st == "canceled" ? 200 : 202;
  const auto location = "/v1/convert/jobs/" + job.value("job_id", "");
  auto r = json_response(status, {{"api_version", "v1"}, {"job", std::move(job)}});
  r.headers.emplace_back("Location", location);
  if (res.value->replay) r.headers.emplace_back("X-Idempotent-Replay", "true");
  return r;
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

// A route template split once into its segments: matching a request against every route is on
// the path of every request, and splitting the templates each time was most of its allocations.
struct compiled_route {
  const std::string& method;
  const std::string& tmpl;
  std::vector<std::string> segs;
};

const std::vector<compiled_route>& compiled_routes();

bool match(const compiled_route& route, const std::vector<std::string>& segs,
           std::map<std::string, std::string>& params) {
  const auto& t = route.segs;
  if (t.size() != segs.size()) return false;
  for (std::size_t i = 0; i < t.size(); ++i) {
    const bool param = t[i].size() > 2 && t[i].front() == '{' && t[i].back() == '}';
    if (!param && t[i] != segs[i]) return false;
  }
  params.clear();
  for (std::size_t i = 0; i < t.size(); ++i)
    if (t[i].size() > 2 && t[i].front() == '{') params[t[i].substr(1, t[i].size() - 2)] = segs[i];
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

// A job spec is a few hundred bytes; anything near this is not one.
constexpr std::size_t kMaxJobSpecBytes = 64 * 1024;
const char* kVisibleAscii =
    "!\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~";

// "Application/PDF; charset=x" → "application/pdf".
std::string media_type(std::string_view content_type) {
  auto base = content_type.substr(0, content_type.find(';'));
  while (!base.empty() && (base.front() == ' ' || base.front() == '\t')) base.remove_prefix(1);
  while (!base.empty() && (base.back() == ' ' || base.back() == '\t')) base.remove_suffix(1);
  std::string out(base);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

// The readiness snapshot as served. The supervisor evaluates it on its own thread, where a hung
// dependency (a locked table, a database that stopped answering) blocks the evaluation; the last
// snapshot would then claim "ready" forever. Past a few intervals without a finished check the
// truth is unknown, so the lane fails closed with `readiness_stalled` until a check completes.
struct readiness_view_t {
  actors::readiness_snapshot snap;
  bool ready = false;
  json reasons = json::array();  // [{code, message}]
};

readiness_view_t readiness_view(actors::readiness_snapshot snap, const actors::service_config& cfg) {
  readiness_view_t v;
  v.ready = snap.ready;
  for (const auto& f : snap.reasons) v.reasons.push_back({{"code", actors::to_string(f.code)}, {"message", f.message}});
  const auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch()).count();
  const auto limit_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(3 * cfg.readiness_interval + std::chrono::seconds(10)).count();
  if (snap.checked_at_ms > 0 && now_ms - snap.checked_at_ms > limit_ms) {
    v.ready = false;
    v.reasons.push_back({{"code", "readiness_stalled"},
                         {"message", "the last readiness check finished " + std::to_string((now_ms - snap.checked_at_ms) / 1000) +
                                         " s ago: a dependency (most likely the database) is not answering"}});
  }
  v.snap = std::move(snap);
  return v;
}

const char* kOpenRoutes[] = {"/livez", "/healthz", "/readyz", "/metrics"};

// AGPL-3.0 section 13 asks a network service to offer its users the Corresponding Source: the image
// carries its revision's source tree (QUIRE_SOURCE_ARCHIVE) and every instance serves it.
bool source_readable(const actors::service_config& cfg) {
  return !cfg.source_archive.empty() && std::ifstream(cfg.source_archive, std::ios::binary).good();
}

json license_info(const actors::service_config& cfg) {
  json source = json::object();
  source["url"] = source_readable(cfg) ? json("/v1/source") : json(nullptr);
  source["elsewhere"] = cfg.source_url.empty() ? json(nullptr) : json(cfg.source_url);
  return {{"spdx", "AGPL-3.0-or-later"},
          {"notice", "quire is free software under the GNU Affero General Public License v3 or later; "
                     "you may get its Corresponding Source from the source URLs here"},
          {"source", source}};
}

response source_response(const actors::service_config& cfg, const std::string& cid) {
  std::ifstream in(cfg.source_archive, std::ios::binary);
  if (cfg.source_archive.empty() || !in)
    return error_response("source_not_available",
                          cfg.source_url.empty() ? "this instance carries no source archive (QUIRE_SOURCE_ARCHIVE)"
                                                 : "this instance carries no source archive; see " + cfg.source_url,
                          cid);
  response r;
  r.body.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  r.headers.emplace_back("Content-Type", "application/gzip");
  r.headers.emplace_back("Content-Disposition", "attachment; filename=\"quire-source.tar.gz\"");
  return r;
}

// /readyz is open to anyone (load balancers, healthchecks), and the checks' own messages name
// internal hosts, ports, roles and paths (libpq's "connection to server at …"). The open answer
// says what kind of failure it is; the details are for `?verbose` with an API key, and the log.
std::string public_reason_message(const std::string& code) {
  static const std::map<std::string, std::string> kText = {
      {"unknown_service_revision", "this binary was built without a git revision"},
      {"stale_revision", "the running revision is not the expected one"},
      {"profile_mismatch", "the data root is not this lane's"},
      {"data_root_missing", "the data root is missing"},
      {"data_root_not_writable", "the data root is not writable"},
      {"data_root_profile_mismatch", "the data root belongs to another profile"},
      {"data_root_collision", "the prod and eval data roots are the same directory"},
      {"data_root_full", "the data root is full"},
      {"database_unreachable", "the database cannot be reached or does not answer"},
      {"database_profile_mismatch", "the database belongs to another lane"},
      {"schema_version_mismatch", "the database schema is not the one this revision needs"},
      {"gpu_unavailable", "no working GPU converter, and this lane requires one"},
      {"converters_not_ready", "no converter is running"},
      {"draining", "shutting down: new work is refused"},
      {"readiness_stalled", "the readiness checks stopped finishing: a dependency is not answering"},
  };
  auto it = kText.find(code);
  return it == kText.end() ? "not ready" : it->second;
}

// What the socket layer lets through but the api cannot serve. Its parser decodes chunked only:
// a body sent as `gzip, chunked` would arrive still compressed and be stored as the PDF (RFC 9112:
// 501). (The request line's version cannot be checked here: RESTinio 0.6 does not pass it on.)
std::optional<response> protocol_refusal(const request& req, const std::string& cid) {
  const auto te = req.header("transfer-encoding");
  std::size_t start = 0;
  while (start <= te.size()) {
    auto end = te.find(',', start);
    if (end == std::string::npos) end = te.size();
    auto coding = media_type(std::string_view(te).substr(start, end - start));  // trimmed, lowercased
    if (!coding.empty() && coding != "chunked")
      return error_response("unsupported_transfer_encoding",
                            "transfer coding '" + coding.substr(0, 64) + "' is not supported (only chunked)", cid,
                            {{"field", "Transfer-Encoding"}});
    start = end + 1;
  }
  return std::nullopt;
}

}  // namespace

std::string request::header(const std::string& lower_name) const {
  auto it = headers.find(lower_name);
  return it == headers.end() ? std::string{} : it->second;
}

const std::vector<error_kind>& error_kinds() { return kErrors; }

const std::vector<std::pair<std::string, std::string>>& route_table() {
  static const std::vector<std::pair<std::string, std::string>> routes{{"GET", "/livez"},
          {"GET", "/"},
          {"GET", "/docs"},
          {"GET", "/ui/{asset}"},
          {"GET", "/healthz"},
          {"GET", "/readyz"},
          {"GET", "/metrics"},
          {"GET", "/v1/info"},
          {"GET", "/v1/source"},
          {"GET", "/openapi.json"},
          {"POST", "/v1/convert/jobs"},
          {"GET", "/v1/convert/jobs"},
          {"GET", "/v1/convert/jobs/{job_id}"},
          {"GET", "/v1/convert/jobs/{job_id}/result"},
          {"GET", "/v1/convert/jobs/{job_id}/result/markdown"},
          {"POST", "/v1/convert/jobs/{job_id}/cancel"},
          {"GET", "/v1/convert/jobs/{job_id}/artifacts/{name}"}};
  return routes;
}

namespace {
const std::vector<compiled_route>& compiled_routes() {
  static const std::vector<compiled_route> routes = [] {
    std::vector<compiled_route> out;
    for (const auto& [method, tmpl] : route_table()) out.push_back({method, tmpl, segments(tmpl)});
    return out;
  }();
  return routes;
}
}  // namespace

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
  // Space comes back when retention sweeps or an operator frees it: minutes, not seconds.
  if (k.status == 507) r.headers.emplace_back("Retry-After", "60");
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

std::string safe_filename(std::string_view raw) {
  // RFC 7578 4.2: a path in the filename is the client's business, not ours.
  if (auto cut = raw.find_last_of("/\\"); cut != std::string_view::npos) raw.remove_prefix(cut + 1);
  std::string out;
  for (std::size_t i = 0; i < raw.size();) {
    std::string one;
    i += copy_utf8_char(raw, i, one);
    if (out.size() + one.size() > 255) break;  // cut on a character boundary
    out += one;
  }
  if (out == "." || out == "..") return {};
  return out;
}

bool well_formed_job_id(std::string_view id) {
  return id.size() == 26 && id.find_first_not_of("abcdefghijklmnopqrstuvwxyz234567") == std::string_view::npos;
}

struct api::context {
  std::string correlation_id;
  std::string route = "unmatched";
  std::map<std::string, std::string> params;
  std::string api_key_id;
  clock_type::time_point start = clock_type::now();
  respond_fn* respond = nullptr;  // handle_async: a submit may answer through this later
  bool deferred = false;          // dispatch handed the answer to *respond
};

api::api(actors::service& svc, const actors::service_config& cfg)
    : svc_(svc), cfg_(cfg), license_(license_info(cfg)) {
  using k = actors::metrics_registry::kind;
  auto& m = actors::service_metrics();
  m.declare("quire_http_uploads_in_flight", k::gauge,
            "Uploads admitted and not yet answered (bounded by QUIRE_MAX_CONCURRENT_UPLOADS).");
  m.declare("quire_http_handler_backlog", k::gauge, "Requests waiting for an HTTP handler thread.");
  m.set("quire_http_uploads_in_flight", {}, 0);
  m.set("quire_http_handler_backlog", {}, 0);
}

void api::publish_uploads() const {
  actors::service_metrics().set("quire_http_uploads_in_flight", {}, uploads_in_flight_.load());
}

namespace {

bool is_upload(const request& r) { return r.method == "POST" && segments(r.path) == std::vector<std::string>{"v1", "convert", "jobs"}; }

// The route template a request matches, for metrics labels ("unmatched" when none).
std::string route_label(const request& r) {
  const auto segs = segments(r.path);
  std::map<std::string, std::string> params;
  for (const auto& route : compiled_routes())
    if ((route.method == r.method || (r.method == "HEAD" && route.method == "GET")) && match(route, segs, params))
      return route.tmpl;
  return "unmatched";
}

std::string correlation_of(const request& r) {
  auto cid = r.header("x-correlation-id");
  return valid_correlation_id(cid) ? cid : random_hex(16);
}

}  // namespace

std::optional<response> api::admit(request& head) {
  if (!is_upload(head)) return std::nullopt;
  if (uploads_in_flight_.fetch_add(1) >= cfg_.max_concurrent_uploads) {
    uploads_in_flight_.fetch_sub(1);
    return refuse(head, "overloaded", "too many uploads in progress; retry later",
                  {{"limit", "max_concurrent_uploads"}, {"max_concurrent_uploads", cfg_.max_concurrent_uploads}});
  }
  head.admitted = true;
  publish_uploads();
  return std::nullopt;
}

void api::release(const request& head) {
  if (!head.admitted || !is_upload(head)) return;
  uploads_in_flight_.fetch_sub(1);
  publish_uploads();
}

response api::refuse(const request& head, const std::string& code, const std::string& message,
                     const json& details) {
  context ctx;
  ctx.correlation_id = correlation_of(head);
  ctx.route = route_label(head);
  return finish(head, ctx, error_response(code, message, ctx.correlation_id, details), clock_type::now());
}

response api::handle(const request& req) {
  std::optional<response> answer;
  run(req, [&answer](response r) { answer = std::move(r); }, false);
  return std::move(*answer);
}

void api::handle_async(const request& req, respond_fn respond) { run(req, std::move(respond), true); }

void api::run(const request& req, respond_fn respond, bool may_defer) {
  context ctx;
  if (req.received_at) ctx.start = *req.received_at;
  ctx.correlation_id = correlation_of(req);
  if (may_defer) ctx.respond = &respond;
  response r;
  try {
    r = dispatch(req, ctx);
  } catch (const std::exception& e) {
    r = error_response("internal_error", std::string("unexpected: ") + e.what(), ctx.correlation_id);
  }
  if (ctx.deferred) return;  // the submit's completion answers and gives the upload slot back
  release(req);
  respond(finish(req, ctx, std::move(r), ctx.start));
}

response api::finish(const request& req, context& ctx, response r, clock_type::time_point start) {
  r.headers.emplace_back("X-Correlation-ID", ctx.correlation_id);
  const double seconds = std::chrono::duration<double>(clock_type::now() - start).count();
  auto& m = actors::service_metrics();
  m.add("quire_http_requests_total",
        {{"method", req.method}, {"route", ctx.route}, {"status", std::to_string(r.status)}});
  m.observe("quire_http_request_duration_seconds", {{"method", req.method}, {"route", ctx.route}}, seconds);
  log_access(req, ctx, r, seconds);
  return r;
}

std::optional<response> api::authenticate(const request& req, context& ctx) const {
  if (cfg_.api_keys.empty()) return std::nullopt;
  const auto& cid = ctx.correlation_id;
  std::string presented = req.header("x-api-key");
  if (presented.empty()) {
    auto authz = req.header("authorization");
    if (authz.size() > 7 && (authz.compare(0, 7, "Bearer ") == 0 || authz.compare(0, 7, "bearer ") == 0))
      presented = authz.substr(7);
  }
  if (presented.empty()) return error_response("unauthorized", "an API key is required (X-API-Key or Bearer)", cid);
  ctx.api_key_id = match_api_key(cfg_.api_keys, presented);
  if (ctx.api_key_id.empty()) return error_response("unauthorized", "the API key is not valid", cid);
  return std::nullopt;
}

// The access log: one http.access line per answer. Probes and scrapes (/livez, /healthz, /readyz,
// /metrics: a container healthcheck every few seconds) are at debug level; readiness changes have
// their own line (readiness.changed).
void api::log_access(const request& req, const context& ctx, const response& r, double seconds) {
  const bool probe = ctx.route == "/livez" || ctx.route == "/healthz" || ctx.route == "/readyz" || ctx.route == "/metrics";
  const auto at = probe ? log::level::debug : log::level::info;
  if (!log::enabled(at)) return;
  log::fields f{{"correlation_id", ctx.correlation_id},
                {"method", req.method},
                {"route", ctx.route},
                {"path", req.path},
                {"status", r.status},
                {"bytes", r.body.size()},
                {"duration_ms", std::round(seconds * 1e6) / 1e3},
                {"peer", req.peer}};
  if (!ctx.api_key_id.empty()) f["api_key_id"] = ctx.api_key_id;
  log::emit(at, "http.access", f);
}

response api::dispatch(const request& req, context& ctx) {
  const auto& cid = ctx.correlation_id;
  if (auto refusal = protocol_refusal(req, cid)) return std::move(*refusal);
  const auto segs = segments(req.path);
  bool path_known = false;
  std::string allowed;
  std::map<std::string, std::string> params;
  for (const auto& route : compiled_routes()) {
    if (!match(route, segs, params)) continue;
    const auto& method = route.method;
    const auto& tmpl = route.tmpl;
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
  if (is_web_route(route)) return web_response(req, cid);
  const auto view = readiness_view(svc_.readiness(), cfg_);
  if (route == "/readyz") {
    json reasons = view.reasons;
    if (req.query.count("verbose")) {
      // The checks' own messages: for the operator, so behind the API key like the job routes.
      if (auto refusal = authenticate(req, ctx)) return std::move(*refusal);
    } else {
      for (auto& f : reasons) f["message"] = public_reason_message(f.value("code", ""));
    }
    auto r = json_response(view.ready ? 200 : 503, {{"status", view.ready ? "ready" : "not_ready"},
                                                    {"reasons", reasons},
                                                    {"warnings", view.snap.warnings},
                                                    {"checked_at_ms", view.snap.checked_at_ms}});
    if (!view.ready) r.headers.emplace_back("Retry-After", "5");
    return r;
  }
  if (route == "/metrics") {
    // The supervisor sets quire_ready when a check finishes; a stalled check never finishes, so
    // the stall is recorded here, where it is detected (the next finished check clears it).
    if (!view.ready && view.snap.ready) {
      auto& m = actors::service_metrics();
      m.set("quire_ready", {}, 0);
      m.set("quire_readiness_failing", {{"reason", "readiness_stalled"}}, 1);
    }
    response r;
    r.headers.emplace_back("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
    r.body = actors::service_metrics().render();
    return r;
  }
  (void)kOpenRoutes;
  if (req.query_malformed) return error_response("bad_request", "the query string is not valid percent-encoding", cid);
  // `?job_spec=a&job_spec=b`: whichever one counted, the client meant something else.
  if (!req.repeated_query.empty()) return validation(req.repeated_query.front().substr(0, 64), "must be given once", cid);

  // --- everything else waits for readiness (fail closed). While the lane is only draining or
  // its data root is only full, reads and cancels still work: clients can follow and fetch the
  // jobs they have. A full root refuses new work in submit itself (507 storage_full, nothing
  // written), which also notices at once when space has come back. ---
  if (!view.ready) {
    bool reads_ok = !view.reasons.empty(), draining = false;
    for (const auto& f : view.reasons) {
      draining = draining || f["code"] == "draining";
      reads_ok = reads_ok && (f["code"] == "draining" || f["code"] == "data_root_full");
    }
    const bool new_work = route == "/v1/convert/jobs" && req.method == "POST";
    if (!reads_ok || (new_work && draining)) {
      json reasons = json::array();
      for (const auto& f : view.reasons) reasons.push_back(f["code"]);
      return error_response("not_ready", "this lane is not ready", cid, {{"reasons", reasons}});
    }
  }
  if (route == "/v1/info") {
    auto info = svc_.info();
    info["license"] = license_;
    return json_response(200, info);
  }
  if (route == "/v1/source") return source_response(cfg_, cid);
  if (route == "/openapi.json") {
    response r;
    r.headers.emplace_back("Content-Type", "application/json");
    r.body = openapi_json();
    return r;
  }

  // --- job routes: authenticated ---
  if (auto refusal = authenticate(req, ctx)) return std::move(*refusal);
  const std::string job_id = ctx.params.count("job_id") ? ctx.params["job_id"] : "";
  // A malformed id is the client's mistake (400), a well-formed unknown one is not found (404).
  if (ctx.params.count("job_id") && !well_formed_job_id(job_id))
    return error_response("invalid_job_id", "a job id is 26 characters of [a-z2-7]", cid, {{"field", "job_id"}});

  if (route == "/v1/convert/jobs" && req.method == "POST") {
    int wait = 0;
    response err;
    if (!parse_wait(req, wait, err, cid)) return err;
    if (svc_.queued_jobs() >= cfg_.max_queue_depth)
      return error_response("queue_full", "the queue is full; retry later", cid,
                            {{"max_queue_depth", cfg_.max_queue_depth}});
    // An upload the server admitted already holds its slot (api::admit); a direct call takes one here.
    std::atomic<int>* own_slot = nullptr;
    if (!req.admitted) {
      if (uploads_in_flight_.fetch_add(1) >= cfg_.max_concurrent_uploads) {
        uploads_in_flight_.fetch_sub(1);
        return error_response("overloaded", "too many uploads in progress; retry later", cid,
                              {{"limit", "max_concurrent_uploads"}, {"max_concurrent_uploads", cfg_.max_concurrent_uploads}});
      }
      own_slot = &uploads_in_flight_;
    }
    struct release_slot {
      std::atomic<int>* n;
      ~release_slot() {
        if (n) n->fetch_sub(1);
      }
    } guard{own_slot};

    actors::submission sub;
    sub.api_key_id = ctx.api_key_id;
    sub.correlation_id = cid;
    sub.idempotency_key = req.header("idempotency-key");
    if (sub.idempotency_key.size() > 255 ||
        sub.idempotency_key.find_first_not_of(kVisibleAscii) != std::string::npos)
      return validation("Idempotency-Key", "must be at most 255 visible ASCII characters", cid);
    std::string spec_text;
    const auto ctype = req.header("content-type");
    const auto base = media_type(ctype);
    std::string_view pdf;
    if (base == "multipart/form-data") {
      auto boundary = form_boundary(ctype);
      if (!boundary)
        return error_response("bad_request", "multipart/form-data needs a boundary parameter of 1 to 70 characters",
                              cid, {{"field", "Content-Type"}});
      auto parts = parse_form(req.body, *boundary);
      if (!parts) return error_response("bad_request", "malformed multipart body", cid);
      int files = 0, specs = 0;
      for (const auto& p : *parts) {
        if (p.name == "file") {
          if (++files > 1) return validation("file", "must be sent once", cid);
          pdf = p.body;
          sub.filename = safe_filename(p.filename);
        } else if (p.name == "job_spec") {
          if (++specs > 1) return validation("job_spec", "must be sent once", cid);
          spec_text = std::string(p.body);
        } else {
          return validation(p.name.substr(0, 64), "unknown form field (expected file and job_spec)", cid);
        }
      }
      if (files == 0) return validation("file", "is required", cid);
    } else if (base == "application/pdf" || base == "application/octet-stream") {
      pdf = req.body;
      if (auto it = req.query.find("job_spec"); it != req.query.end()) spec_text = it->second;
    } else {
      return error_response("unsupported_media_type",
                            "send multipart/form-data (file, job_spec) or an application/pdf body", cid);
    }
    if (spec_text.size() > kMaxJobSpecBytes)
      return validation("job_spec", "is larger than " + std::to_string(kMaxJobSpecBytes) + " bytes", cid);
    if (pdf.size() > cfg_.max_upload_bytes)
      return error_response("payload_too_large", "the PDF is larger than the limit", cid,
                            {{"max_upload_bytes", cfg_.max_upload_bytes}});
    if (pdf.empty()) return validation("file", "is empty", cid);
    if (!looks_like_pdf(pdf)) return validation("file", "is not a PDF (no %PDF- header)", cid);
    spec_limits limits;
    limits.max_timeout_seconds = static_cast<int>(cfg_.document_timeout.count());
    limits.default_policy = cfg_.effective_acceleration_policy();
    limits.ocr_languages = &cfg_.ocr_languages;
    spec_problem problem;
    auto spec = validate_job_spec(spec_text, limits, problem);
    if (!spec) {
      json details = problem.details;
      details["field"] = problem.field;
      return error_response(problem.code, problem.field + ": " + problem.message, cid, details);
    }
    // gpu_required never falls back: with no working GPU converter now, refuse rather than queue a job
    // nothing can run. Retryable: a GPU may come back (another replica, a restart).
    if ((*spec)["execution"].value("acceleration_policy", "") == "gpu_required" && svc_.working_gpu_converters() <= 0)
      return error_response("gpu_not_available", "acceleration_policy gpu_required, but this lane has no working GPU",
                            cid, {{"acceleration_policy", "gpu_required"}});
    sub.job_spec = std::move(*spec);
    sub.pdf.assign(pdf.data(), pdf.size());
    if (wait == 0 && ctx.respond) {
      // Nothing to wait for after the commit: the handler thread goes on to the next request and
      // the batcher's thread answers this one when its batch has committed. The upload slot
      // (admitted, or taken above) is given back then.
      guard.n = nullptr;
      ctx.deferred = true;
      auto respond = std::move(*std::exchange(ctx.respond, nullptr));
      svc_.submit_async(sub, [this, respond = std::move(respond), method = req.method, path = req.path, peer = req.peer,
                              ctx](actors::api_result<actors::submitted> res) mutable {
        response r;
        try {
          r = submit_answer(std::move(res), {}, ctx.correlation_id);
        } catch (const std::exception& e) {
          r = error_response("internal_error", std::string("unexpected: ") + e.what(), ctx.correlation_id);
        }
        uploads_in_flight_.fetch_sub(1);
        publish_uploads();
        request head;  // what finish() reads (metrics, access log), without the body
        head.method = std::move(method);
        head.path = std::move(path);
        head.peer = std::move(peer);
        respond(finish(head, ctx, std::move(r), ctx.start));
      });
      return {};
    }
    auto res = svc_.submit(sub);
    std::optional<json> waited;
    if (res && wait > 0) {
      auto w = svc_.wait_job(res.value->job["job_id"].get<std::string>(), ctx.api_key_id, std::chrono::seconds(wait));
      if (w) waited = *w.value;
    }
    return submit_answer(std::move(res), std::move(waited), cid);
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
