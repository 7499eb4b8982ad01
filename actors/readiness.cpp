// The readiness contract's names and snapshot; see readiness.hpp. The checks: readiness_checks.cpp.
#include "actors/readiness.hpp"

namespace quire::actors {

std::string_view to_string(reason r) {
  switch (r) {
    case reason::unknown_service_revision: return "unknown_service_revision";
    case reason::stale_revision: return "stale_revision";
    case reason::profile_mismatch: return "profile_mismatch";
    case reason::data_root_missing: return "data_root_missing";
    case reason::data_root_not_writable: return "data_root_not_writable";
    case reason::data_root_profile_mismatch: return "data_root_profile_mismatch";
    case reason::data_root_collision: return "data_root_collision";
    case reason::database_unreachable: return "database_unreachable";
    case reason::database_profile_mismatch: return "database_profile_mismatch";
    case reason::schema_version_mismatch: return "schema_version_mismatch";
    case reason::gpu_unavailable: return "gpu_unavailable";
    case reason::converters_not_ready: return "converters_not_ready";
    case reason::draining: return "draining";
    case reason::data_root_full: return "data_root_full";
  }
  return "unknown";
}

readiness_snapshot make_snapshot(std::vector<failing_check> failures, std::int64_t now_ms) {
  readiness_snapshot s;
  s.ready = failures.empty();
  s.reasons = std::move(failures);
  s.checked_at_ms = now_ms;
  return s;
}

std::vector<std::string> config_warnings(const service_config& cfg) {
  std::vector<std::string> w;
  if (cfg.cpu_override())
    w.push_back("acceleration_override: QUIRE_ACCELERATION_POLICY=" + cfg.effective_acceleration_policy() +
                " lets this prod lane convert on the CPU (for local testing only; prod requires a GPU)");
  return w;
}

}  // namespace quire::actors
