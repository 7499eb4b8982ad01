// artifact_store: the jobs' files in the data root. Atomic durable writes (temp → fsync → rename →
// fsync dir), sha256-verified reads and crash-safe deletion (rename into tmp/ first). The root's
// marker, probe and free space are data_root.cpp's.
#include "storage/artifact_store.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/core.h>

#include <cerrno>
#include <system_error>
#include <unordered_map>

#include "storage/detail/file_ops.hpp"
#include "storage/detail/internal.hpp"
#include "storage/detail/sync_group.hpp"
#include "storage/job_id.hpp"

namespace fs = std::filesystem;

namespace quire::storage {

using detail::fsync_dir;
using detail::io_error;
using detail::make_dirs;
using detail::make_error;
using detail::temp_name;
using detail::unlink_durably;

std::string_view to_string(write_step s) {
  switch (s) {
    case write_step::create_temp: return "create_temp";
    case write_step::write_data: return "write_data";
    case write_step::fsync_file: return "fsync_file";
    case write_step::rename: return "rename";
    case write_step::fsync_dir: return "fsync_dir";
    case write_step::sync_filesystem: return "sync_filesystem";
  }
  return "create_temp";
}

namespace {

bool valid_name(std::string_view name) {
  if (name.empty() || name.front() == '/' || name.back() == '/') return false;
  std::size_t start = 0;
  while (start <= name.size()) {
    auto end = name.find('/', start);
    if (end == std::string_view::npos) end = name.size();
    auto part = name.substr(start, end - start);
    if (part.empty() || part == "." || part == "..") return false;
    for (char c : part)
      if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-')) return false;
    start = end + 1;
  }
  return true;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
struct atomic_writer::impl {
  fs::path temp, target;  // in place: both name the target
  bool in_place = false;
  std::shared_ptr<fault_hook> hook;
  std::shared_ptr<detail::sync_group> sync;
  int fd = -1;
  detail::sha256_hasher hash;
  std::int64_t bytes = 0;
  bool done = false;     // committed, or "crashed" by the fault hook: leave the temp file alone
  bool failed = false;

  bool fault(write_step s) {
    if (hook && *hook && (*hook)(s)) {
      done = true;  // a simulated death: nothing gets cleaned up
      return true;
    }
    return false;
  }
  error injected(write_step s) {
    return make_error(errc::io_error, fmt::format("injected fault at {}", to_string(s)));
  }
  ~impl() {
    if (fd >= 0) ::close(fd);
    if (!done && !temp.empty()) ::unlink(temp.c_str());
  }
};

atomic_writer::atomic_writer(std::unique_ptr<impl> p) : impl_(std::move(p)) {}
atomic_writer::atomic_writer(atomic_writer&&) noexcept = default;
atomic_writer::~atomic_writer() = default;
const fs::path& atomic_writer::target() const { return impl_->target; }

status atomic_writer::append(std::string_view data) {
  auto& p = *impl_;
  if (p.done || p.failed || p.fd < 0) return make_error(errc::invalid_argument, "writer is closed");
  if (p.fault(write_step::write_data)) return p.injected(write_step::write_data);
  const char* at = data.data();
  std::size_t left = data.size();
  while (left > 0) {
    ssize_t n = ::write(p.fd, at, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      p.failed = true;
      return io_error("write", p.temp);
    }
    at += n;
    left -= static_cast<std::size_t>(n);
  }
  p.hash.update(data.data(), data.size());
  p.bytes += static_cast<std::int64_t>(data.size());
  return ok_v;
}

status atomic_writer::append(std::span<const std::byte> data) {
  return append(std::string_view(reinterpret_cast<const char*>(data.data()), data.size()));
}

result<file_info> atomic_writer::commit(durability d) {
  auto& p = *impl_;
  const bool synced = d == durability::synced;
  if (p.done || p.failed || p.fd < 0) return make_error(errc::invalid_argument, "writer is closed");
  if (synced) {
    if (p.fault(write_step::fsync_file)) return p.injected(write_step::fsync_file);
    if (::fsync(p.fd) != 0) {
      p.failed = true;
      return io_error("fsync", p.temp);
    }
  }
  ::close(p.fd);
  p.fd = -1;
  if (p.in_place) {
    // Already at its name (see begin_write): durable once its directory entry is.
    if (!synced) {
      p.done = true;
      return file_info{p.bytes, p.hash.hex_digest(), p.sync->after_write()};
    }
    if (p.fault(write_step::fsync_dir)) return p.injected(write_step::fsync_dir);
    if (!fsync_dir(p.target.parent_path())) {
      p.failed = true;
      return io_error("fsync", p.target.parent_path());
    }
    p.done = true;
    return file_info{p.bytes, p.hash.hex_digest()};
  }
  if (p.fault(write_step::rename)) return p.injected(write_step::rename);
  // Rename first: the directory usually exists (an input's shard, a job's second file), and a
  // mkdir that fails with EEXIST plus the stat to tell a file from a directory cost two syscalls
  // on every submit. Only when it is missing are the directories made, then the rename retried.
  int rc = ::rename(p.temp.c_str(), p.target.c_str());
  if (rc != 0 && errno == ENOENT) {
    if (auto s = make_dirs(p.target.parent_path(), synced); !s) {
      p.failed = true;
      return s.err();
    }
    rc = ::rename(p.temp.c_str(), p.target.c_str());
  }
  if (rc != 0) {
    p.failed = true;
    return io_error("rename into", p.target);
  }
  p.done = true;  // the temp name no longer exists
  if (!synced) return file_info{p.bytes, p.hash.hex_digest(), p.sync->after_write()};
  if (p.fault(write_step::fsync_dir)) return p.injected(write_step::fsync_dir);
  if (!fsync_dir(p.target.parent_path())) return io_error("fsync", p.target.parent_path());
  return file_info{p.bytes, p.hash.hex_digest()};
}

// ---------------------------------------------------------------------------------------------
status artifact_store::prepare_shards() const {
  static constexpr std::string_view alphabet = "abcdefghijklmnopqrstuvwxyz234567";  // job ids: base32
  bool made = false;
  for (const char* area : {"inputs", "jobs"}) {
    const fs::path parent = root_ / area;
    std::string shard(2, ' ');
    for (char a : alphabet)
      for (char b : alphabet) {
        shard[0] = a;
        shard[1] = b;
        const fs::path dir = parent / shard;
        if (::mkdir(dir.c_str(), 0755) == 0) made = true;
        else if (errno != EEXIST) return io_error("mkdir", dir);
      }
  }
  if (!made) return ok_v;
  // One sync of the root (the deferred writes' group sync) makes the new directories durable and
  // writes their blocks back now: left to the first syncs under load, those 2,048 directories'
  // metadata made the first uploads wait (measured: up to 100 ms in the first 300 ms of a flood).
  const auto ticket = sync_->after_write();
  return sync_->sync(ticket, ticket);
}

result<artifact_store> artifact_store::open(const fs::path& root, const std::string& profile, bool create) {
  if (profile.empty()) return make_error(errc::invalid_argument, "data root: profile is empty");
  std::error_code ec;
  if (!fs::exists(root, ec)) {
    if (!create) return make_error(errc::data_root_missing, fmt::format("data root {} does not exist", root.string()));
    if (auto s = make_dirs(root, true); !s) return make_error(errc::data_root_not_writable, s.err().message);
  }
  if (!fs::is_directory(root, ec))
    return make_error(errc::data_root_missing, fmt::format("data root {} is not a directory", root.string()));
  if (!create) {
    auto existing = read_root_marker(root);
    if (!existing) return existing.err();
    if (!*existing)
      return make_error(errc::data_root_missing, fmt::format("data root {} is not initialised (no {})",
                                                             root.string(), root_marker_name));
  }
  auto marker = initialise_data_root(root, profile);  // the layout; the marker only when create
  if (!marker) return marker.err();
  if (marker->profile != profile)
    return make_error(errc::data_root_profile_mismatch,
                      fmt::format("data root {} belongs to profile '{}', this service is '{}'", root.string(),
                                  marker->profile, profile));
  if (auto s = probe_writable(root); !s) return s.err();
  // syncfs needs a descriptor on the filesystem; a long-lived one sees every writeback error
  // reported after it was opened (see detail/sync_group.hpp).
  int root_fd = ::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (root_fd < 0) return make_error(errc::data_root_not_writable, io_error("open", root).message);
  return artifact_store(root, std::move(*marker), std::make_shared<detail::sync_group>(root_fd));
}

status artifact_store::sync_deferred(std::uint64_t oldest_ticket, std::uint64_t newest_ticket) const {
  std::function<bool()> fail;
  if (hook_ && *hook_) fail = [h = hook_] { return (*h)(write_step::sync_filesystem); };
  return sync_->sync(oldest_ticket, newest_ticket, fail);
}

std::uint64_t artifact_store::deferred_syncs_run() const { return sync_->syncs_run(); }

result<space_info> artifact_store::space() const { return free_space(root_); }

status artifact_store::ensure_room(std::uint64_t bytes, std::uint64_t reserve) const {
  return storage::ensure_room(root_, bytes, reserve);
}

fs::path artifact_store::job_dir(std::string_view id) const {
  return root_ / "jobs" / std::string(id.substr(0, 2)) / std::string(id);
}

fs::path artifact_store::input_path(std::string_view id) const {
  return root_ / "inputs" / std::string(id.substr(0, 2)) / (std::string(id) + ".pdf");
}

fs::path artifact_store::file_path(std::string_view id, std::string_view name) const {
  return name == input_name ? input_path(id) : job_dir(id) / std::string(name);
}

result<atomic_writer> artifact_store::begin_write(std::string_view id, std::string_view name) const {
  if (!is_valid_job_id(id)) return make_error(errc::invalid_argument, "malformed job id");
  if (!valid_name(name)) return make_error(errc::invalid_argument, fmt::format("bad artifact name '{}'", name));
  auto p = std::make_unique<atomic_writer::impl>();
  p->hook = hook_;
  p->sync = sync_;
  if (p->fault(write_step::create_temp)) return p->injected(write_step::create_temp);
  if (name == input_name) {
    // An input is written in place: its job row publishes it, and is committed only once the
    // input is complete and durable. Until then nothing reads it; an aborted write removes it, and
    // a crash leaves a row-less input that reconciliation removes after the orphan grace. O_EXCL:
    // an input is never replaced. Saves the temp file's directory entry and the rename per upload.
    p->in_place = true;
    p->target = p->temp = input_path(id);
    p->fd = ::open(p->target.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (p->fd < 0 && errno == ENOENT) {  // the shard's first input (made durably: rare)
      if (auto s = make_dirs(p->target.parent_path(), true); !s) {
        p->temp.clear();
        return s.err();
      }
      p->fd = ::open(p->target.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    }
    if (p->fd < 0) {
      auto e = io_error("create", p->target);
      p->temp.clear();  // EEXIST: not ours to remove
      return e;
    }
    return atomic_writer(std::move(p));
  }
  p->target = file_path(id, name);
  p->temp = root_ / "tmp" / temp_name();
  p->fd = ::open(p->temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (p->fd < 0) {
    auto e = io_error("create", p->temp);
    p->temp.clear();
    return e;
  }
  return atomic_writer(std::move(p));
}

result<file_info> artifact_store::write_file(std::string_view id, std::string_view name, std::string_view bytes,
                                             durability d) const {
  auto w = begin_write(id, name);
  if (!w) return w.err();
  if (auto s = w->append(bytes); !s) return s.err();
  return w->commit(d);
}

result<file_info> artifact_store::write_manifest(std::string_view id, const nlohmann::json& manifest,
                                                 durability d) const {
  return write_file(id, "manifest.json", manifest.dump(2) + "\n", d);
}

result<file_info> artifact_store::adopt(std::string_view id, std::string_view name, const fs::path& staged,
                                        durability d) const {
  if (!is_valid_job_id(id)) return make_error(errc::invalid_argument, "malformed job id");
  if (!valid_name(name) || name == input_name)
    return make_error(errc::invalid_argument, fmt::format("bad artifact name '{}'", name));
  auto fault = [&](write_step s) { return hook_ && *hook_ && (*hook_)(s); };
  auto injected = [](write_step s) { return make_error(errc::io_error, fmt::format("injected fault at {}", to_string(s))); };
  const bool synced = d == durability::synced;
  int fd = ::open(staged.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT || errno == ENOTDIR)
      return make_error(errc::artifact_missing, fmt::format("staged {} of job {} is missing", name, id));
    return io_error("open", staged);
  }
  // Hash while reading in large blocks: the only pass over the bytes, which are never copied.
  detail::sha256_hasher hash;
  std::int64_t bytes = 0;
  std::string buf(1 << 16, '\0');
  for (;;) {
    ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      auto e = io_error("read", staged);
      ::close(fd);
      return e;
    }
    if (n == 0) break;
    hash.update(buf.data(), static_cast<std::size_t>(n));
    bytes += n;
  }
  if (synced) {
    if (fault(write_step::fsync_file)) {
      ::close(fd);
      return injected(write_step::fsync_file);
    }
    if (::fsync(fd) != 0) {
      auto e = io_error("fsync", staged);
      ::close(fd);
      return e;
    }
  }
  ::close(fd);
  if (fault(write_step::rename)) return injected(write_step::rename);
  const fs::path target = file_path(id, name);
  int rc = ::rename(staged.c_str(), target.c_str());
  if (rc != 0 && errno == ENOENT) {  // the job's first file: make its directories, then again
    if (auto s = make_dirs(target.parent_path(), synced); !s) return s.err();
    rc = ::rename(staged.c_str(), target.c_str());
  }
  if (rc != 0) return io_error("rename into", target);  // EXDEV: staged outside the data root's filesystem
  if (!synced) return file_info{bytes, hash.hex_digest(), sync_->after_write()};
  if (fault(write_step::fsync_dir)) return injected(write_step::fsync_dir);
  if (!fsync_dir(target.parent_path())) return io_error("fsync", target.parent_path());
  return file_info{bytes, hash.hex_digest()};
}

result<file_info> artifact_store::verify(std::string_view id, std::string_view name, std::string_view sha,
                                         std::int64_t expected_bytes) const {
  return verify_into(id, name, sha, expected_bytes, nullptr);
}

result<std::string> artifact_store::read_verified(std::string_view id, std::string_view name, std::string_view sha,
                                                  std::int64_t expected_bytes) const {
  std::string out;
  auto r = verify_into(id, name, sha, expected_bytes, &out);
  if (!r) return r.err();
  return out;
}

result<file_info> artifact_store::verify_into(std::string_view id, std::string_view name, std::string_view sha,
                                              std::int64_t expected_bytes, std::string* keep) const {
  if (!is_valid_job_id(id) || !valid_name(name))
    return make_error(errc::invalid_argument, fmt::format("bad artifact {}/{}", id, name));
  const fs::path path = file_path(id, name);
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT || errno == ENOTDIR)
      return make_error(errc::artifact_missing, fmt::format("{} of job {} is missing", name, id));
    return io_error("open", path);
  }
  detail::sha256_hasher h;
  std::int64_t total = 0;
  char buf[1 << 16];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      auto e = io_error("read", path);
      ::close(fd);
      return e;
    }
    if (n == 0) break;
    h.update(buf, static_cast<std::size_t>(n));
    if (keep) keep->append(buf, static_cast<std::size_t>(n));
    total += n;
  }
  ::close(fd);
  file_info info{total, h.hex_digest()};
  if (expected_bytes >= 0 && total != expected_bytes)
    return make_error(errc::artifact_corrupt,
                      fmt::format("{} of job {} has {} bytes, {} recorded", name, id, total, expected_bytes));
  if (!sha.empty() && info.sha256 != sha)
    return make_error(errc::artifact_corrupt,
                      fmt::format("{} of job {} has sha256 {}, {} recorded", name, id, info.sha256, sha));
  return info;
}

result<nlohmann::json> artifact_store::read_manifest(std::string_view id) const {
  auto r = read_verified(id, "manifest.json", "", -1);
  if (!r) return r.err();
  try {
    return nlohmann::json::parse(*r);
  } catch (const std::exception& e) {
    return make_error(errc::artifact_corrupt, fmt::format("manifest of job {}: {}", id, e.what()));
  }
}

bool artifact_store::exists(std::string_view id, std::string_view name) const {
  std::error_code ec;
  return is_valid_job_id(id) && valid_name(name) && fs::exists(file_path(id, name), ec);
}

status artifact_store::remove_file(std::string_view id, std::string_view name) const {
  if (!is_valid_job_id(id) || !valid_name(name)) return make_error(errc::invalid_argument, "bad artifact name");
  return unlink_durably(file_path(id, name));
}

status artifact_store::remove_job(std::string_view id) const {
  if (!is_valid_job_id(id)) return make_error(errc::invalid_argument, "malformed job id");
  // The input first: a crash before the directory goes leaves a job dir without an input, which
  // the next reconcile or sweep removes like any other.
  if (auto s = unlink_durably(input_path(id)); !s) return s;
  const fs::path dir = job_dir(id);
  // Rename the whole directory into tmp/ first (atomic), then delete it there: a crash mid-way
  // leaves either the intact job dir or debris in tmp/ that reconcile_tmp() clears, never a
  // half-deleted job that looks alive.
  const fs::path grave = root_ / "tmp" / ("rm-" + temp_name());
  if (::rename(dir.c_str(), grave.c_str()) != 0) {
    if (errno == ENOENT) return ok_v;
    return io_error("rename", dir);
  }
  fsync_dir(dir.parent_path());
  std::error_code ec;
  fs::remove_all(grave, ec);
  if (ec) return make_error(errc::io_error, fmt::format("remove {}: {}", grave.string(), ec.message()));
  return ok_v;
}

result<std::vector<artifact_store::job_files_entry>> artifact_store::list_jobs() const {
  // Job ids from inputs/<shard>/<id>.pdf and jobs/<shard>/<id>/, merged: a job may have either.
  std::unordered_map<std::string, fs::file_time_type> seen;
  auto note = [&](std::string id, const fs::path& p) {
    std::error_code tec;
    auto t = fs::last_write_time(p, tec);
    if (tec) t = fs::file_time_type::clock::now();  // vanished meanwhile: treat as brand new
    auto [it, fresh] = seen.emplace(std::move(id), t);
    if (!fresh) it->second = std::max(it->second, t);
  };
  for (const char* area : {"inputs", "jobs"}) {
    const bool inputs = std::string_view(area) == "inputs";
    std::error_code ec;
    for (const auto& shard : fs::directory_iterator(root_ / area, ec)) {
      if (!shard.is_directory()) continue;
      for (const auto& e : fs::directory_iterator(shard.path(), ec)) {
        const auto& p = e.path();
        if (inputs) {
          if (p.extension() != ".pdf" || !is_valid_job_id(p.stem().string())) continue;
          note(p.stem().string(), p);
        } else {
          if (!e.is_directory() || !is_valid_job_id(p.filename().string())) continue;
          note(p.filename().string(), p);
        }
      }
      if (ec) break;
    }
    if (ec && ec != std::errc::no_such_file_or_directory)
      return make_error(errc::io_error, fmt::format("list {}: {}", (root_ / area).string(), ec.message()));
  }
  std::vector<job_files_entry> out;
  out.reserve(seen.size());
  for (auto& [id, t] : seen) out.push_back({id, t});
  return out;
}

result<std::int64_t> artifact_store::reconcile_tmp(std::chrono::seconds grace) const {
  std::int64_t removed = 0;
  std::error_code ec;
  const auto cutoff = fs::file_time_type::clock::now() - grace;
  for (const auto& e : fs::directory_iterator(root_ / "tmp", ec)) {
    std::error_code tec;
    auto t = fs::last_write_time(e.path(), tec);
    if (tec || t > cutoff) continue;
    fs::remove_all(e.path(), tec);
    if (!tec) ++removed;
  }
  if (ec) return make_error(errc::io_error, fmt::format("list {}: {}", (root_ / "tmp").string(), ec.message()));
  return removed;
}

}  // namespace quire::storage
