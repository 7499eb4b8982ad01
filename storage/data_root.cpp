// The data root's marker, layout, write probe and free-space check (data_root.hpp), and the POSIX
// steps every durable change to the root is made of (detail/file_ops.hpp).
#include "storage/data_root.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <fmt/chrono.h>
#include <fmt/core.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <system_error>

#include "storage/detail/file_ops.hpp"
#include "storage/detail/internal.hpp"

namespace fs = std::filesystem;

namespace quire::storage {

namespace detail {

error io_error(std::string_view what, const fs::path& p, int err) {
  const bool full = err == ENOSPC || err == EDQUOT;
  return make_error(full ? errc::storage_full : errc::io_error,
                    fmt::format("{} {}: {}", what, p.string(), std::generic_category().message(err)));  // strerror is not thread-safe
}

bool fsync_dir(const fs::path& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return false;
  bool ok = ::fsync(fd) == 0;
  ::close(fd);
  return ok;
}

status unlink_durably(const fs::path& path) {
  if (::unlink(path.c_str()) != 0) {
    if (errno == ENOENT || errno == ENOTDIR) return ok_v;
    return io_error("unlink", path);
  }
  if (!fsync_dir(path.parent_path())) return io_error("fsync", path.parent_path());
  return ok_v;
}

status make_dirs(const fs::path& dir, bool durable) {
  if (::mkdir(dir.c_str(), 0755) != 0) {
    const int err = errno;
    std::error_code ec;
    if (err == EEXIST && fs::is_directory(dir, ec)) return ok_v;
    if (err != ENOENT || dir.empty() || dir == dir.parent_path()) return io_error("mkdir", dir, err);
    if (auto s = make_dirs(dir.parent_path(), durable); !s) return s;
    if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) return io_error("mkdir", dir);
  }
  if (durable && !fsync_dir(dir.parent_path())) return io_error("fsync", dir.parent_path());
  return ok_v;
}

std::string temp_name() { return base32_lower(random_bytes(10)) + ".tmp"; }

}  // namespace detail

using detail::io_error;
using detail::make_error;

namespace {

std::string utc_now_iso() {
  return fmt::format("{:%Y-%m-%dT%H:%M:%SZ}", fmt::gmtime(std::chrono::system_clock::to_time_t(
                                                  std::chrono::system_clock::now())));
}

// Anything but a directory we could not make or write is data_root_not_writable; a full
// filesystem stays storage_full.
error not_writable(const error& e) {
  return e.code == errc::storage_full ? e : make_error(errc::data_root_not_writable, e.message);
}

// Publishes a new marker naming `profile`: write a temp file in tmp/ and fsync it, link() it to the
// marker's name, fsync the root. link(), not rename(): it fails with EEXIST when a marker appeared
// meanwhile, so two processes initialising one root at the same moment (the readiness check and
// `quire sweep`, two replicas) agree on the first marker instead of the second overwriting it with
// another root_id. Durable like rename: the marker's bytes are synced before its name exists.
status write_root_marker(const fs::path& root, const std::string& profile) {
  nlohmann::json m{{"format", 1}, {"profile", profile},
                   {"root_id", detail::base32_lower(detail::random_bytes(10))}, {"created_at", utc_now_iso()}};
  const fs::path temp = root / "tmp" / detail::temp_name();
  const fs::path marker = root / root_marker_name;
  int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return not_writable(io_error("create", temp));
  const std::string text = m.dump(2) + "\n";
  std::optional<error> failed;
  const ssize_t n = ::write(fd, text.data(), text.size());
  if (n != static_cast<ssize_t>(text.size()))
    failed = io_error("write", temp, n < 0 ? errno : ENOSPC);  // a short write of a few hundred bytes: no room
  else if (::fsync(fd) != 0)
    failed = io_error("fsync", temp);
  ::close(fd);
  if (failed) {
    ::unlink(temp.c_str());
    return not_writable(*failed);
  }
  const int rc = ::link(temp.c_str(), marker.c_str());
  const int link_err = errno;
  ::unlink(temp.c_str());
  if (rc != 0 && link_err != EEXIST) return not_writable(io_error("link", marker, link_err));
  if (!detail::fsync_dir(root)) return not_writable(io_error("fsync", root));
  return ok_v;
}

}  // namespace

result<std::optional<root_marker>> read_root_marker(const fs::path& root) {
  const fs::path path = root / root_marker_name;
  // ENOENT from the open itself: asking exists() afterwards could see a marker that another
  // process published in between and call the unopened file unreadable.
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return std::optional<root_marker>{};
    return make_error(errc::data_root_corrupt, io_error("open", path).message);
  }
  std::string text;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      auto e = io_error("read", path);
      ::close(fd);
      return make_error(errc::data_root_corrupt, e.message);
    }
    if (n == 0) break;
    text.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  root_marker marker;
  try {
    auto j = nlohmann::json::parse(text);
    marker.format = j.at("format").get<int>();
    marker.profile = j.at("profile").get<std::string>();
    marker.root_id = j.at("root_id").get<std::string>();
    marker.created_at = j.at("created_at").get<std::string>();
  } catch (const std::exception& e) {
    return make_error(errc::data_root_corrupt, fmt::format("{}: {}", path.string(), e.what()));
  }
  return std::optional<root_marker>(std::move(marker));
}

result<root_marker> initialise_data_root(const fs::path& root, const std::string& profile) {
  for (const char* sub : {"jobs", "inputs", "tmp"})
    if (auto s = detail::make_dirs(root / sub, true); !s) return not_writable(s.err());
  auto existing = read_root_marker(root);
  if (!existing) return existing.err();
  if (*existing) return **existing;
  if (auto s = write_root_marker(root, profile); !s) return s.err();
  auto now = read_root_marker(root);
  if (!now) return now.err();
  if (!*now) return make_error(errc::data_root_not_writable, fmt::format("{} vanished after it was written",
                                                                         (root / root_marker_name).string()));
  return **now;
}

status probe_writable(const fs::path& root) {
  if (auto s = detail::make_dirs(root / "tmp", true); !s) return not_writable(s.err());
  // A name of its own per probe: the readiness check and an opening store may probe at once.
  // The ".quire-" prefix tells it apart from the temp files of writes (tests skip it).
  const fs::path probe = root / "tmp" / (".quire-probe-" + detail::temp_name());
  int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return not_writable(io_error("create", probe));
  std::optional<error> failed;
  const ssize_t n = ::write(fd, "ok", 2);
  if (n != 2)
    failed = io_error("write", probe, n < 0 ? errno : ENOSPC);  // a short write of 2 bytes: no room
  else if (::fsync(fd) != 0)
    failed = io_error("fsync", probe);
  ::close(fd);
  ::unlink(probe.c_str());
  if (failed) return not_writable(*failed);
  return ok_v;
}

result<space_info> free_space(const fs::path& root) {
  struct statvfs v {};
  if (::statvfs(root.c_str(), &v) != 0) return io_error("statvfs", root);
  return space_info{static_cast<std::uint64_t>(v.f_bavail) * v.f_frsize,
                    static_cast<std::uint64_t>(v.f_blocks) * v.f_frsize};
}

status ensure_room(const fs::path& root, std::uint64_t bytes, std::uint64_t reserve) {
  auto s = free_space(root);
  if (!s) return s.err();
  if (s->free_bytes >= bytes && s->free_bytes - bytes >= reserve) return ok_v;
  if (bytes == 0)
    return make_error(errc::storage_full, fmt::format("data root {} has {} bytes free, under the reserve of {}",
                                                      root.string(), s->free_bytes, reserve));
  return make_error(errc::storage_full,
                    fmt::format("data root {} has {} bytes free; {} needed ({} to write + {} reserve)", root.string(),
                                s->free_bytes, bytes + reserve, bytes, reserve));
}

}  // namespace quire::storage
