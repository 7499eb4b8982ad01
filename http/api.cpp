// The api's core: matching a request to its route (routes.hpp), the gates every route passes
// (protocol, access, readiness, upload slots), and what every answer carries (the envelope,
// X-Correlation-ID, metrics, the access log). The handlers are in service_routes.cpp,
// job_routes.cpp and web_routes.cpp; route behaviour and error codes are specified in docs/api.md.
#include "http/api.hpp"

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <random>

#include "http/detail/exchange.hpp"
#include "log/log.hpp"

namespace quire::http {

using detail::json_response;
using detail::media_type;

namespace {

using json = nlohmann::json;
using detail::clock_type;
using detail::exchange;

const std::vector<error_kind> kErrors = {
    {"bad_request", 400, false},
    {"invalid_job_id", 400, false},
    {"unauthorized", 401, false},
    {"route_not_found", 404, false},
    {"job_not_found", 404, false},
    {"artifact_not_found", 404, false},
    {"format_unknown", 404, false},
    {"format_not_available", 404, false},
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
    {"key_quota_exceeded", 429, true},
    {"notify_url_not_allowed", 422, false},
    {"bundle_too_large", 422, false},
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
    {"sync_wait_exceeded", 504, true},
};

const error_kind& kind_of(const std::string& code) {
  static const error_kind internal{"internal_error", 500, true};
  for (const auto& k : kErrors)
    if (code == k.code) return k;
  return internal;
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

std::string correlation_of(const request& r) {
  auto cid = r.header("x-correlation-id");
  return valid_correlation_id(cid) ? cid : random_hex(16);
}

// The access log: one http.access line per answer. Probes and scrapes (a container healthcheck
// every few seconds) are at debug level; readiness changes have their own line (readiness.changed).
void log_access(const request& req, const exchange& ex, const response& r, double seconds) {
  const bool probe = ex.matched != nullptr && ex.matched->lane == lane::probe;
  const auto at = probe ? log::level::debug : log::level::info;
  if (!log::enabled(at)) return;
  log::fields f{{"correlation_id", ex.correlation_id},
                {"method", req.method},
                {"route", ex.matched ? std::string(ex.matched->path) : std::string("unmatched")},
                {"path", req.path},
                {"status", r.status},
                {"bytes", r.body.size()},
                {"duration_ms", std::round(seconds * 1e6) / 1e3},
                {"peer", req.peer}};
  if (!ex.api_key_id.empty()) f["api_key_id"] = ex.api_key_id;
  log::emit(at, "http.access", f);
}

// The gate in front of every route that is not open: the lane must be ready (fail closed). While
// it is only draining or its data root is only full, reads and cancels still work: clients can
// follow and fetch the jobs they have. A full root refuses new work in submit itself (507
// storage_full, nothing written), which also notices at once when space has come back.
std::optional<response> readiness_gate(const detail::api_state& s, const exchange& ex) {
  const auto view = detail::readiness_view(s.svc.readiness(), s.cfg);
  if (view.ready) return std::nullopt;
  bool reads_ok = !view.reasons.empty(), draining = false;
  for (const auto& f : view.reasons) {
    draining = draining || f["code"] == "draining";
    reads_ok = reads_ok && (f["code"] == "draining" || f["code"] == "data_root_full");
  }
  if (reads_ok && !(ex.matched->upload && draining)) return std::nullopt;
  json reasons = json::array();
  for (const auto& f : view.reasons) reasons.push_back(f["code"]);
  return error_response("not_ready", "this lane is not ready", ex.correlation_id, {{"reasons", reasons}});
}

}  // namespace

namespace detail {

bool upload_slots::try_take() {
  if (n_.fetch_add(1) >= limit_) {
    n_.fetch_sub(1);
    return false;
  }
  publish();
  return true;
}

void upload_slots::give_back() {
  n_.fetch_sub(1);
  publish();
}

void upload_slots::publish() const {
  actors::service_metrics().set("quire_http_uploads_in_flight", {}, n_.load());
}

response json_response(int status, const json& body) {
  response r;
  r.status = status;
  r.headers.emplace_back("Content-Type", "application/json");
  // Client text (a field name, a path, a filename) may be any bytes; never fail on it.
  r.body = body.dump(-1, ' ', false, json::error_handler_t::replace);
  return r;
}

response validation(const std::string& field, const std::string& message, const std::string& cid) {
  return refused({field, message}, cid);
}

response refused(const quire::api::field_problem& p, const std::string& cid) {
  json details = p.details;
  details["field"] = p.field;
  return error_response(p.code, p.field + ": " + p.message, cid, details);
}

response from_error(const actors::api_error& e, const std::string& cid) {
  return error_response(e.code, e.message, cid, e.details);
}

response uploads_full(const api_state& s, const std::string& cid) {
  return error_response("overloaded", "too many uploads in progress; retry later", cid,
                        {{"limit", "max_concurrent_uploads"}, {"max_concurrent_uploads", s.uploads.limit()}});
}

std::string media_type(std::string_view content_type) {
  auto base = content_type.substr(0, content_type.find(';'));
  while (!base.empty() && (base.front() == ' ' || base.front() == '\t')) base.remove_prefix(1);
  while (!base.empty() && (base.back() == ' ' || base.back() == '\t')) base.remove_suffix(1);
  std::string out(base);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

std::optional<response> authenticate(const api_state& s, exchange& ex) {
  if (s.cfg.api_keys.empty()) return std::nullopt;
  const auto& cid = ex.correlation_id;
  std::string presented = ex.req.header("x-api-key");
  if (presented.empty()) {
    auto authz = ex.req.header("authorization");
    if (authz.size() > 7 && (authz.compare(0, 7, "Bearer ") == 0 || authz.compare(0, 7, "bearer ") == 0))
      presented = authz.substr(7);
  }
  if (presented.empty()) return error_response("unauthorized", "an API key is required (X-API-Key or Bearer)", cid);
  ex.api_key_id = match_api_key(s.cfg.api_keys, presented);
  if (ex.api_key_id.empty()) return error_response("unauthorized", "the API key is not valid", cid);
  return std::nullopt;
}

// docling-serve's clients read an error's text from `detail` (FastAPI's shape): on its routes the
// envelope gets that field too, so both kinds of client understand the same answer.
void add_docling_detail(response& r) {
  if (r.status < 400) return;
  auto body = json::parse(r.body, nullptr, false);
  if (!body.is_object() || !body.contains("error") || !body["error"].is_object() || body.contains("detail")) return;
  body["detail"] = body["error"].value("message", "");
  r.body = body.dump(-1, ' ', false, json::error_handler_t::replace);
}

response finish(const request& req, const exchange& ex, response r) {
  if (ex.matched != nullptr && ex.matched->family == family::docling) add_docling_detail(r);
  r.headers.emplace_back("X-Correlation-ID", ex.correlation_id);
  const double seconds = std::chrono::duration<double>(clock_type::now() - ex.start).count();
  const std::string route = ex.matched ? std::string(ex.matched->path) : std::string("unmatched");
  auto& m = actors::service_metrics();
  m.add("quire_http_requests_total", {{"method", req.method}, {"route", route}, {"status", std::to_string(r.status)}});
  m.observe("quire_http_request_duration_seconds", {{"method", req.method}, {"route", route}}, seconds);
  log_access(req, ex, r, seconds);
  return r;
}

}  // namespace detail

std::string request::header(const std::string& lower_name) const {
  auto it = headers.find(lower_name);
  return it == headers.end() ? std::string{} : it->second;
}

const std::vector<error_kind>& error_kinds() { return kErrors; }

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
  if (k.status == 503 || k.status == 429) r.headers.emplace_back("Retry-After", code == "overloaded" ? "1" : "5");
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

bool well_formed_job_id(std::string_view id) {
  return id.size() == 26 && id.find_first_not_of("abcdefghijklmnopqrstuvwxyz234567") == std::string_view::npos;
}

api::api(actors::service& svc, const actors::service_config& cfg)
    : state_(new detail::api_state{svc, cfg, detail::license_info(cfg), detail::upload_slots(cfg.max_concurrent_uploads)}) {
  set_docling_prefix(cfg.docling_prefix);
  using k = actors::metrics_registry::kind;
  auto& m = actors::service_metrics();
  m.declare("quire_http_uploads_in_flight", k::gauge,
            "Uploads admitted and not yet answered (bounded by QUIRE_MAX_CONCURRENT_UPLOADS).");
  m.declare("quire_http_handler_backlog", k::gauge, "Requests waiting for an HTTP handler thread.");
  m.set("quire_http_uploads_in_flight", {}, 0);
  m.set("quire_http_handler_backlog", {}, 0);
}

api::~api() = default;

int api::uploads_in_flight() const { return state_->uploads.in_flight(); }

std::optional<response> api::admit(request& head) {
  const auto* r = find_route(head.method, head.path);
  if (r == nullptr || !r->upload) return std::nullopt;
  if (!state_->uploads.try_take()) {
    exchange ex(head);
    ex.matched = r;
    ex.correlation_id = correlation_of(head);
    return detail::finish(head, ex, detail::uploads_full(*state_, ex.correlation_id));
  }
  head.admitted = true;
  return std::nullopt;
}

void api::release(const request& head) {
  if (head.admitted) state_->uploads.give_back();
}

response api::refuse(const request& head, const std::string& code, const std::string& message,
                     const json& details) {
  exchange ex(head);
  ex.matched = find_route(head.method, head.path);
  ex.correlation_id = correlation_of(head);
  return detail::finish(head, ex, error_response(code, message, ex.correlation_id, details));
}

response api::handle(const request& req) {
  std::optional<response> answer;
  run(req, [&answer](response r) { answer = std::move(r); }, false);
  return std::move(*answer);
}

void api::handle_async(const request& req, respond_fn respond) { run(req, std::move(respond), true); }

void api::run(const request& req, respond_fn respond, bool may_defer) {
  exchange ex(req);
  if (req.received_at) ex.start = *req.received_at;
  ex.correlation_id = correlation_of(req);
  ex.holds_upload_slot = req.admitted;
  if (may_defer) ex.respond = &respond;
  response r;
  try {
    r = dispatch(ex);
  } catch (const std::exception& e) {
    r = error_response("internal_error", std::string("unexpected: ") + e.what(), ex.correlation_id);
  }
  if (ex.deferred) return;  // the submit's completion answers and gives the upload slot back
  if (ex.holds_upload_slot) state_->uploads.give_back();
  respond(detail::finish(req, ex, std::move(r)));
}

response api::dispatch(exchange& ex) {
  const auto& req = ex.req;
  const auto& cid = ex.correlation_id;
  if (auto refusal = protocol_refusal(req, cid)) return std::move(*refusal);
  ex.matched = find_route(req.method, req.path, &ex.params);
  if (ex.matched == nullptr) {
    auto allowed = allowed_methods(req.path);
    if (allowed.empty()) return error_response("route_not_found", "no route for " + req.path, cid);
    auto r = error_response("method_not_allowed", req.method + " is not allowed on " + req.path, cid);
    r.headers.emplace_back("Allow", std::move(allowed));
    return r;
  }
  const auto& route = *ex.matched;
  if (route.access != access::open) {
    if (req.query_malformed) return error_response("bad_request", "the query string is not valid percent-encoding", cid);
    // `?job_spec=a&job_spec=b`: whichever one counted, the client meant something else.
    if (!req.repeated_query.empty())
      return detail::validation(req.repeated_query.front().substr(0, 64), "must be given once", cid);
    if (auto refusal = readiness_gate(*state_, ex)) return std::move(*refusal);
  }
  if (route.access == access::keyed) {
    if (auto refusal = detail::authenticate(*state_, ex)) return std::move(*refusal);
    // A malformed id is the client's mistake (400), a well-formed unknown one is not found (404).
    if (auto it = ex.params.find("job_id"); it != ex.params.end() && !well_formed_job_id(it->second))
      return error_response("invalid_job_id", "a job id is 26 characters of [a-z2-7]", cid, {{"field", "job_id"}});
  }
  // An upload the server admitted holds its slot already (admit); a direct call takes one here.
  if (route.upload && !ex.holds_upload_slot) {
    if (!state_->uploads.try_take()) return detail::uploads_full(*state_, cid);
    ex.holds_upload_slot = true;
  }
  return route.handle(*state_, ex);
}

}  // namespace quire::http
