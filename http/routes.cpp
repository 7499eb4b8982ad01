// The route table and its matcher; see routes.hpp. Matching runs on every request (on the I/O
// thread, then in dispatch), so it compares views of the path and allocates nothing but the
// parameters it is asked for.
#include "http/routes.hpp"

#include "http/detail/exchange.hpp"

#include <optional>

namespace quire::http {
namespace {

using namespace detail;

// The next non-empty '/'-separated segment of s from pos, advancing pos; "" at the end.
std::string_view next_segment(std::string_view s, std::size_t& pos) {
  while (pos < s.size() && s[pos] == '/') ++pos;
  const auto begin = pos;
  while (pos < s.size() && s[pos] != '/') ++pos;
  return s.substr(begin, pos - begin);
}

bool is_param(std::string_view seg) { return seg.size() > 2 && seg.front() == '{' && seg.back() == '}'; }

bool matches(std::string_view tmpl, std::string_view path, path_params* params) {
  std::size_t t = 0, p = 0;
  for (;;) {
    const auto ts = next_segment(tmpl, t), ps = next_segment(path, p);
    if (ts.empty() || ps.empty()) {
      if (!ts.empty() || !ps.empty()) return false;
      break;
    }
    if (!is_param(ts) && ts != ps) return false;
  }
  if (params == nullptr) return true;
  params->clear();
  t = p = 0;
  for (auto ts = next_segment(tmpl, t), ps = next_segment(path, p); !ts.empty();
       ts = next_segment(tmpl, t), ps = next_segment(path, p))
    if (is_param(ts)) params->emplace(ts.substr(1, ts.size() - 2), ps);
  return true;
}

std::string& prefix_store() {
  static std::string prefix;
  return prefix;
}

// The path as r's template sees it: a docling route's prefix removed; nullopt when the path is
// not under it.
std::optional<std::string_view> path_for(const route& r, std::string_view path) {
  if (r.family != family::docling) return path;
  const auto& prefix = prefix_store();
  if (prefix.empty()) return path;
  if (path.substr(0, prefix.size()) != prefix) return std::nullopt;
  auto rest = path.substr(prefix.size());
  if (!rest.empty() && rest.front() != '/') return std::nullopt;  // "/doclingx/v1/…" is not under "/docling"
  return rest;
}

bool route_matches(const route& r, std::string_view path, path_params* params) {
  auto p = path_for(r, path);
  return p && matches(r.path, *p, params);
}

bool serves(const route& r, std::string_view method) {
  return r.method == method || (method == "HEAD" && r.method == "GET");
}

}  // namespace

const std::vector<route>& routes() {
  using a = access;
  using l = lane;
  using f = family;
  static const std::vector<route> table{
      // method, path template, who may call it, which thread answers, an upload?, handler
      {"GET", "/livez", a::open, l::probe, false, alive},
      {"GET", "/", a::open, l::io, false, web_asset},
      {"GET", "/docs", a::open, l::io, false, web_asset},
      {"GET", "/ui/{asset}", a::open, l::io, false, web_asset},
      {"GET", "/healthz", a::open, l::probe, false, alive},
      {"GET", "/readyz", a::open, l::probe, false, readiness},
      {"GET", "/metrics", a::open, l::probe, false, metrics},
      {"GET", "/v1/info", a::ready, l::handler, false, info},
      {"GET", "/v1/source", a::ready, l::handler, false, source},
      {"GET", "/openapi.json", a::ready, l::handler, false, openapi},
      {"POST", "/v1/convert/jobs", a::keyed, l::handler, true, submit_job},
      {"GET", "/v1/convert/jobs", a::keyed, l::handler, false, list_jobs},
      {"GET", "/v1/convert/jobs/{job_id}", a::keyed, l::handler, false, get_job},
      {"GET", "/v1/convert/jobs/{job_id}/result", a::keyed, l::handler, false, get_result},
      {"GET", "/v1/convert/jobs/{job_id}/result/markdown", a::keyed, l::handler, false, get_markdown},
      {"GET", "/v1/convert/jobs/{job_id}/result/bundle", a::keyed, l::handler, false, get_bundle},
      {"GET", "/v1/convert/jobs/{job_id}/result/{format}", a::keyed, l::handler, false, get_result_format},
      {"POST", "/v1/convert/jobs/{job_id}/cancel", a::keyed, l::handler, false, cancel_job},
      {"GET", "/v1/convert/jobs/{job_id}/artifacts/{name}", a::keyed, l::handler, false, get_artifact},
      // docling-serve's v1 API over the same jobs (docling_routes.cpp), under QUIRE_DOCLING_PREFIX.
      // A sync convert waits for its job on a handler thread, up to QUIRE_DOCLING_MAX_SYNC_WAIT_SECONDS.
      {"GET", "/health", a::open, l::io, false, docling_health, f::docling},
      {"GET", "/version", a::ready, l::handler, false, docling_version, f::docling},
      {"POST", "/v1/convert/file", a::keyed, l::handler, true, docling_convert_file, f::docling},
      {"POST", "/v1/convert/file/async", a::keyed, l::handler, true, docling_convert_file_async, f::docling},
      {"POST", "/v1/convert/source", a::keyed, l::handler, true, docling_convert_source, f::docling},
      {"POST", "/v1/convert/source/async", a::keyed, l::handler, true, docling_convert_source_async, f::docling},
      {"GET", "/v1/status/poll/{task_id}", a::keyed, l::handler, false, docling_poll, f::docling},
      {"GET", "/v1/result/{task_id}", a::keyed, l::handler, false, docling_result, f::docling},
  };
  return table;
}

void set_docling_prefix(std::string prefix) {
  while (!prefix.empty() && prefix.back() == '/') prefix.pop_back();
  prefix_store() = std::move(prefix);
}

const std::string& docling_prefix() { return prefix_store(); }

const route* find_route(std::string_view method, std::string_view path, path_params* params) {
  for (const auto& r : routes())
    if (serves(r, method) && route_matches(r, path, params)) return &r;
  return nullptr;
}

std::string allowed_methods(std::string_view path) {
  std::string allowed;
  for (const auto& r : routes())
    if (route_matches(r, path, nullptr)) {
      if (!allowed.empty()) allowed += ", ";
      allowed += r.method;
    }
  return allowed;
}

lane lane_of(std::string_view path) {
  for (const auto& r : routes())
    if (route_matches(r, path, nullptr)) return r.lane;
  return lane::handler;
}

}  // namespace quire::http
