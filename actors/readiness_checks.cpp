// The pure readiness checks; see detail/readiness_checks.hpp and, for the contract, readiness.hpp.
#include "actors/detail/readiness_checks.hpp"

#include <filesystem>
#include <set>
#include <system_error>

#include "storage/data_root.hpp"

namespace quire::actors {
namespace fs = std::filesystem;

namespace {
std::set<std::string_view> reason_codes(const readiness_snapshot& s) {
  std::set<std::string_view> out;
  for (const auto& r : s.reasons) out.insert(to_string(r.code));
  return out;
}
}  // namespace

bool readiness_changed(const readiness_snapshot& before, const readiness_snapshot& after) {
  return before.checked_at_ms == 0 || before.ready != after.ready || reason_codes(before) != reason_codes(after) ||
         before.warnings != after.warnings;
}

log::fields readiness_change_fields(const readiness_snapshot& before, const readiness_snapshot& after) {
  const auto was = before.checked_at_ms == 0 ? std::set<std::string_view>{} : reason_codes(before);
  const auto now = reason_codes(after);
  log::fields reasons = log::fields::array(), added = log::fields::array(), cleared = log::fields::array();
  for (const auto& r : after.reasons) reasons.push_back({{"code", std::string(to_string(r.code))}, {"message", r.message}});
  for (auto c : now)
    if (!was.count(c)) added.push_back(std::string(c));
  for (auto c : was)
    if (!now.count(c)) cleared.push_back(std::string(c));
  return {{"ready", after.ready}, {"reasons", reasons}, {"added", added}, {"cleared", cleared},
          {"warnings", after.warnings}};
}

void check_revision(std::string_view running, std::string_view expected, std::vector<failing_check>& out) {
  if (running.empty() || running == "unknown") {
    out.push_back({reason::unknown_service_revision, "this binary was built without a git revision"});
    return;
  }
  if (!expected.empty() && expected != running)
    out.push_back({reason::stale_revision,
                   "running revision " + std::string(running) + " but QUIRE_EXPECTED_REVISION is " +
                       std::string(expected)});
}

namespace {

// Same path after resolving symlinks and "..": the canonical form when it exists, else lexical.
std::string resolved(const std::string& p) {
  std::error_code ec;
  auto c = fs::weakly_canonical(fs::absolute(p, ec), ec);
  return ec ? fs::path(p).lexically_normal().string() : c.string();
}

}  // namespace

void check_data_root(const service_config& cfg, std::vector<failing_check>& out) {
  if (!cfg.prod_data_root.empty() && !cfg.eval_data_root.empty() &&
      resolved(cfg.prod_data_root) == resolved(cfg.eval_data_root))
    out.push_back({reason::data_root_collision, "QUIRE_PROD_DATA_ROOT and QUIRE_EVAL_DATA_ROOT resolve to " +
                                                    resolved(cfg.prod_data_root)});
  if (!cfg.data_root.empty()) {
    const auto mine = resolved(cfg.data_root);
    const std::string& other = cfg.profile == "prod" ? cfg.eval_data_root : cfg.prod_data_root;
    const std::string& own = cfg.profile == "prod" ? cfg.prod_data_root : cfg.eval_data_root;
    const bool collided = !other.empty() && !own.empty() && resolved(other) == resolved(own);
    if (!collided && ((!other.empty() && resolved(other) == mine) || (!own.empty() && resolved(own) != mine)))
      out.push_back({reason::profile_mismatch, "QUIRE_PROFILE=" + cfg.profile + " but QUIRE_DATA_ROOT " + mine +
                                                   " is not this lane's root"});
  }
  if (cfg.data_root.empty()) {
    out.push_back({reason::data_root_missing, "QUIRE_DATA_ROOT is not set"});
    return;
  }
  std::error_code ec;
  fs::path root(cfg.data_root);
  if (!fs::is_directory(root, ec)) {
    out.push_back({reason::data_root_missing, "data root " + cfg.data_root + " does not exist"});
    return;
  }
  // The same probe, marker and layout as artifact_store::open (storage/data_root.hpp): what passes
  // here is what the store will accept.
  if (auto probe = storage::probe_writable(root); !probe) {
    if (probe.err().code == storage::errc::storage_full)
      out.push_back({reason::data_root_full, "no space left to write a file under " + cfg.data_root});
    else
      out.push_back({reason::data_root_not_writable,
                     "cannot write and fsync a file under " + cfg.data_root + ": " + probe.err().message});
    return;
  }
  auto marker = storage::read_root_marker(root);
  if (marker && !*marker) {  // a fresh root: this lane initialises it
    auto made = storage::initialise_data_root(root, cfg.profile);
    if (!made) {
      out.push_back({reason::data_root_not_writable,
                     "cannot write the root marker in " + cfg.data_root + ": " + made.err().message});
      return;
    }
    marker = std::optional<storage::root_marker>(std::move(*made));  // another process's, if it was first
  }
  // A marker that cannot be read names no profile: it matches none.
  const std::string profile = marker ? (*marker)->profile : std::string();
  if (profile != cfg.profile)
    out.push_back({reason::data_root_profile_mismatch, "data root marker says profile '" + profile +
                                                           "' but this lane is '" + cfg.profile + "'"});
}

std::uint64_t data_root_reserve_bytes(const service_config& cfg) { return cfg.max_upload_bytes; }

void check_data_root_space(const std::string& data_root, std::uint64_t reserve, std::vector<failing_check>& out) {
  if (data_root.empty()) return;
  for (const auto& f : out)
    if (f.code == reason::data_root_full) return;  // the write probe already hit ENOSPC
  // Nothing when the root cannot be inspected (io_error): check_data_root reports that.
  if (auto room = storage::ensure_room(data_root, 0, reserve); !room && room.err().code == storage::errc::storage_full)
    out.push_back({reason::data_root_full,
                   room.err().message + " (QUIRE_MAX_UPLOAD_BYTES): uploads are refused until space is freed"});
}

void check_gpu(const service_config& cfg, int working_gpus, std::vector<failing_check>& out,
               const std::string& detail) {
  if (cfg.default_acceleration() == convert::acceleration_policy::gpu_required && working_gpus <= 0)
    out.push_back({reason::gpu_unavailable, "acceleration policy gpu_required but no working GPU converter" +
                                                (detail.empty() ? std::string() : ": " + detail)});
}

void check_converters(int configured, int live, std::vector<failing_check>& out) {
  if (configured <= 0)
    out.push_back({reason::converters_not_ready, "no converters: no working GPU and QUIRE_CPU_CONVERTERS=0"});
  else if (live <= 0)
    out.push_back({reason::converters_not_ready,
                   "0 of " + std::to_string(configured) + " converters are running"});
}

}  // namespace quire::actors
