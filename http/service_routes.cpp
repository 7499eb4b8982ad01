// The service's own routes: the probes (/livez, /healthz, /readyz), /metrics, /v1/info, the
// source offer (/v1/source) and /openapi.json. Which of them are open is routes.cpp's table.
#include <fstream>
#include <iterator>
#include <map>

#include "http/detail/documents.hpp"
#include "http/detail/exchange.hpp"

namespace quire::http::detail {
namespace {

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

// AGPL-3.0 section 13 asks a network service to offer its users the Corresponding Source: the image
// carries its revision's source tree (QUIRE_SOURCE_ARCHIVE) and every instance serves it.
bool source_readable(const actors::service_config& cfg) {
  return !cfg.source_archive.empty() && std::ifstream(cfg.source_archive, std::ios::binary).good();
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

}  // namespace

json license_info(const actors::service_config& cfg) {
  json source = json::object();
  source["url"] = source_readable(cfg) ? json("/v1/source") : json(nullptr);
  source["elsewhere"] = cfg.source_url.empty() ? json(nullptr) : json(cfg.source_url);
  return {{"spdx", "AGPL-3.0-or-later"},
          {"notice", "quire is free software under the GNU Affero General Public License v3 or later; "
                     "you may get its Corresponding Source from the source URLs here"},
          {"source", source}};
}

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

response alive(api_state&, exchange&) { return json_response(200, {{"status", "alive"}}); }

response readiness(api_state& s, exchange& ex) {
  const auto view = readiness_view(s.svc.readiness(), s.cfg);
  json reasons = view.reasons;
  if (ex.req.query.count("verbose")) {
    // The checks' own messages: for the operator, so behind the API key like the job routes.
    if (auto refusal = authenticate(s, ex)) return std::move(*refusal);
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

response metrics(api_state& s, exchange&) {
  // The supervisor sets quire_ready when a check finishes; a stalled check never finishes, so
  // the stall is recorded here, where it is detected (the next finished check clears it).
  const auto view = readiness_view(s.svc.readiness(), s.cfg);
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

response info(api_state& s, exchange&) {
  auto doc = info_document(s.svc.info(), s.cfg);
  doc["license"] = s.license;
  return json_response(200, doc);
}

response source(api_state& s, exchange& ex) { return source_response(s.cfg, ex.correlation_id); }

response openapi(api_state&, exchange&) {
  response r;
  r.headers.emplace_back("Content-Type", "application/json");
  r.body = openapi_json();
  return r;
}

}  // namespace quire::http::detail
