// quire::actors — the readiness contract (fail closed).
//
// A lane is ready only when every check passes. Each failing check contributes one reason with a
// stable code (clients and operators match on the text; never rename). The pure check functions
// below are what the readiness supervisor actor runs at startup, periodically and on events; they
// are plain functions so they can be tested without actors, a database or a network.
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

// Whether the readiness log should report `after` (readiness.changed): on the first evaluation
// (`before` never checked), when ready flips, when the set of failing reason codes changes or when
// the warnings change. Not when only a message changes (free bytes, a seconds count): every check
// round would log then.
bool readiness_changed(const readiness_snapshot& before, const readiness_snapshot& after);
// The readiness.changed event's fields: ready, reasons [{code, message}], the codes that appeared
// and cleared since `before`, warnings.
log::fields readiness_change_fields(const readiness_snapshot& before, const readiness_snapshot& after);

// --- the individual checks; each appends its failures to `out` ---

void check_revision(std::string_view running, std::string_view expected, std::vector<failing_check>& out);

// Profile vs data-root wiring, marker and prod/eval collision, and the write probe, all with the
// data root's own checks (storage/data_root.hpp). Initialises the root (marker `.quire-root.json`,
// `jobs/`, `inputs/`, `tmp/`) on first use, when the directory exists and has no marker.
void check_data_root(const service_config& cfg, std::vector<failing_check>& out);

// Free space the data root must keep: uploads that would leave less are refused (storage_full) and
// readiness reports data_root_full below it. It is QUIRE_MAX_UPLOAD_BYTES: a ready lane can take at
// least one more upload of the largest size, and the results of the jobs it already accepted have
// that much headroom.
std::uint64_t data_root_reserve_bytes(const service_config& cfg);

// data_root_full when the filesystem of `data_root` has less than `reserve` bytes free. Nothing
// when the root cannot be inspected (check_data_root reports that).
void check_data_root_space(const std::string& data_root, std::uint64_t reserve, std::vector<failing_check>& out);

// gpu_unavailable when the lane's policy is gpu_required and no GPU converter works; `detail` says why
// (no driver, self-test failed, device died), appended to the message.
void check_gpu(const service_config& cfg, int working_gpus, std::vector<failing_check>& out,
               const std::string& detail = {});
// The warnings every readiness answer and /v1/info carry for this configuration (the CPU override).
std::vector<std::string> config_warnings(const service_config& cfg);
void check_converters(int configured, int live, std::vector<failing_check>& out);

}  // namespace quire::actors
