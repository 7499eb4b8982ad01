// Internal to actors/: the readiness checks the supervisor actor runs at startup, periodically and
// on events (the contract they fill in: readiness.hpp). Plain functions, so they are tested without
// actors, a database or a network; job_service and the converters reuse the data root's reserve.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "actors/config.hpp"
#include "actors/readiness.hpp"
#include "log/log.hpp"

namespace quire::actors {

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
void check_converters(int configured, int live, std::vector<failing_check>& out);

}  // namespace quire::actors
