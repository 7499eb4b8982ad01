// The pure readiness checks; see readiness.hpp for the contract.
#include "actors/readiness.hpp"

#include <fcntl.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>

#include <chrono>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <system_error>
#include <sstream>

namespace quire::actors {
namespace fs = std::filesystem;

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

bool fsync_path(const fs::path& p, int flags) {
  int fd = ::open(p.c_str(), flags);
  if (fd < 0) return false;
  bool ok = ::fsync(fd) == 0;
  ::close(fd);
  return ok;
}

// Writes the marker atomically (temp file, fsync, rename, fsync dir). False when not writable.
bool write_marker(const fs::path& root, const std::string& profile) {
  std::random_device rd;
  std::ostringstream id;
  id << std::hex << rd() << rd() << rd() << rd();
  std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  char when[32];
  std::strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
  // Same shape as storage::root_marker, so either side can initialise a root.
  nlohmann::json m = {{"format", 1}, {"profile", profile}, {"root_id", id.str()}, {"created_at", when}};
  auto tmp = root / ".quire-root.json.tmp";
  {
    std::ofstream f(tmp, std::ios::trunc);
    f << m.dump(2) << "\n";
    if (!f.flush()) return false;
  }
  if (!fsync_path(tmp, O_RDONLY)) return false;
  std::error_code ec;
  fs::rename(tmp, root / ".quire-root.json", ec);
  if (ec) return false;
  return fsync_path(root, O_RDONLY | O_DIRECTORY);
}

// 0 when a file can be written and fsync'ed under tmp/, else the errno of the failing step
// (ENOSPC/EDQUOT: the root is full, not broken).
int probe_writable(const fs::path& root) {
  auto probe = root / "tmp" / ".quire-write-probe";
  std::error_code ec;
  fs::create_directories(root / "tmp", ec);
  int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd < 0) return errno != 0 ? errno : EIO;
  int err = 0;
  if (::write(fd, "ok", 2) != 2) err = errno != 0 ? errno : ENOSPC;  // a short write of 2 bytes: no room
  else if (::fsync(fd) != 0) err = errno;
  ::close(fd);
  ::unlink(probe.c_str());
  return err;
}

bool is_full_errno(int err) { return err == ENOSPC || err == EDQUOT; }

}  // namespace

std::optional<std::string> read_root_marker_profile(const std::string& data_root) {
  std::ifstream f(fs::path(data_root) / ".quire-root.json");
  if (!f) return std::nullopt;
  auto j = nlohmann::json::parse(f, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("profile") || !j["profile"].is_string())
    return std::string{};  // present but unreadable: never matches a real profile
  return j["profile"].get<std::string>();
}

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
  if (int err = probe_writable(root); err != 0) {
    if (is_full_errno(err))
      out.push_back({reason::data_root_full, "no space left to write a file under " + cfg.data_root});
    else
      out.push_back({reason::data_root_not_writable, "cannot write and fsync a file under " + cfg.data_root + ": " +
                                                         std::generic_category().message(err)});
    return;
  }
  auto marker = read_root_marker_profile(cfg.data_root);
  if (!marker) {
    if (!write_marker(root, cfg.profile))
      out.push_back({reason::data_root_not_writable, "cannot write the root marker in " + cfg.data_root});
    fs::create_directories(root / "jobs", ec);
    return;
  }
  if (*marker != cfg.profile)
    out.push_back({reason::data_root_profile_mismatch, "data root marker says profile '" + *marker +
                                                           "' but this lane is '" + cfg.profile + "'"});
}

std::uint64_t data_root_reserve_bytes(const service_config& cfg) { return cfg.max_upload_bytes; }

void check_data_root_space(const std::string& data_root, std::uint64_t reserve, std::vector<failing_check>& out) {
  if (data_root.empty()) return;
  for (const auto& f : out)
    if (f.code == reason::data_root_full) return;  // the write probe already hit ENOSPC
  struct statvfs v {};
  if (::statvfs(data_root.c_str(), &v) != 0) return;
  const auto free_bytes = static_cast<std::uint64_t>(v.f_bavail) * v.f_frsize;
  if (free_bytes < reserve)
    out.push_back({reason::data_root_full, "data root " + data_root + " has " + std::to_string(free_bytes) +
                                               " bytes free, under the reserve of " + std::to_string(reserve) +
                                               " (QUIRE_MAX_UPLOAD_BYTES): uploads are refused until space is freed"});
}

void check_gpu(const service_config& cfg, int working_gpus, std::vector<failing_check>& out,
               const std::string& detail) {
  if (cfg.default_acceleration() == convert::acceleration_policy::gpu_required && working_gpus <= 0)
    out.push_back({reason::gpu_unavailable, "acceleration policy gpu_required but no working GPU converter" +
                                                (detail.empty() ? std::string() : ": " + detail)});
}

std::vector<std::string> config_warnings(const service_config& cfg) {
  std::vector<std::string> w;
  if (cfg.cpu_override())
    w.push_back("acceleration_override: QUIRE_ACCELERATION_POLICY=" + cfg.effective_acceleration_policy() +
                " lets this prod lane convert on the CPU (for local testing only; prod requires a GPU)");
  return w;
}

void check_converters(int configured, int live, std::vector<failing_check>& out) {
  if (configured <= 0)
    out.push_back({reason::converters_not_ready, "no converters: no working GPU and QUIRE_CPU_CONVERTERS=0"});
  else if (live <= 0)
    out.push_back({reason::converters_not_ready,
                   "0 of " + std::to_string(configured) + " converters are running"});
}

}  // namespace quire::actors
