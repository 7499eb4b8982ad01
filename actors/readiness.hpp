// quire::actors — the readiness contract (fail closed).
//
// A lane is ready only when every check passes. Each failing check contributes one reason with a
// stable code (clients and operators match on the text; never rename). This is what the service
// publishes (service::readiness()) and the HTTP layer renders; the checks themselves, which the
// readiness supervisor runs at startup, periodically and on events, are internal
// (detail/readiness_checks.hpp).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "actors/config.hpp"

namespace quire::actors {

enum class reason {
  unknown_service_revision,    // the binary carries no revision
  stale_revision,              // running revision != QUIRE_EXPECTED_REVISION
  profile_mismatch,            // QUIRE_PROFILE disagrees with the lane the data root belongs to
  data_root_missing,
  data_root_not_writable,
  data_root_profile_mismatch,  // .quire-root.json names another profile
  data_root_collision,         // prod and eval roots resolve to the same path
  database_unreachable,
  database_profile_mismatch,   // the database belongs to another lane
  schema_version_mismatch,     // pending (or unknown newer) migrations
  gpu_unavailable,             // the acceleration policy needs a GPU and none works
  converters_not_ready,        // no converter can take work
  draining,                    // SIGTERM received
  data_root_full,              // the data root has less free space than the reserve (or ENOSPC)
};

std::string_view to_string(reason r);

struct failing_check {
  reason code;
  std::string message;
};

struct readiness_snapshot {
  bool ready = false;                 // true iff reasons is empty and the first check has run
  std::vector<failing_check> reasons;
  std::int64_t checked_at_ms = 0;     // unix epoch milliseconds of the last evaluation
  // Not failures, but an operator must see them on every call: a prod lane allowed onto the CPU by
  // an override, a GPU that failed its self-test or died while running.
  std::vector<std::string> warnings;
};

// Builds a snapshot from the failures of one evaluation round.
readiness_snapshot make_snapshot(std::vector<failing_check> failures, std::int64_t now_ms);

// The warnings every readiness answer and /v1/info carry for this configuration (the CPU override).
std::vector<std::string> config_warnings(const service_config& cfg);

}  // namespace quire::actors
