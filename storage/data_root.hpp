// quire::storage data root — the directory a lane keeps its files in, and the checks made of it
// before anything is written there: its marker, its layout, whether it can be written, its free
// space. artifact_store::open() builds on these, and the readiness checks (actors/readiness.cpp)
// call them directly: they run before a store can be opened, and whatever they find must be what
// the store would find.
//
//   <root>/.quire-root.json   {"format":1,"profile":"prod","root_id":"…","created_at":"…"}
//   <root>/inputs/ jobs/ tmp/ (artifact_store.hpp describes what goes where)
//
// Part of quire_storage_files: no PostgreSQL.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "storage/error.hpp"

namespace quire::storage {

struct root_marker {
  int format = 1;
  std::string profile;
  std::string root_id;     // random, identifies this data root (shown in /v1/info, logs)
  std::string created_at;  // ISO 8601 UTC
};

// Free space of the data root's filesystem, as an unprivileged writer sees it (statvfs f_bavail).
struct space_info {
  std::uint64_t free_bytes = 0;
  std::uint64_t total_bytes = 0;
};

inline constexpr std::string_view root_marker_name = ".quire-root.json";

// The marker of `root`: nullopt when there is none; data_root_corrupt when it exists but is not a
// complete marker (it then matches no profile).
result<std::optional<root_marker>> read_root_marker(const std::filesystem::path& root);

// Makes jobs/, inputs/ and tmp/ where missing (durably) and, when `root` has no marker, writes one
// naming `profile`. Returns the marker in place afterwards: another process's, when it initialised
// the root at the same moment (the first marker written wins; see data_root.cpp). Errors:
// data_root_not_writable (storage_full when the filesystem is full), data_root_corrupt.
result<root_marker> initialise_data_root(const std::filesystem::path& root, const std::string& profile);

// Creates a file in tmp/ (making tmp/ when missing), writes and fsyncs it, removes it: what every
// write to the root needs. storage_full on ENOSPC/EDQUOT (full, not broken), else
// data_root_not_writable; the message names the failing step and the errno text.
status probe_writable(const std::filesystem::path& root);

// statvfs of the root's filesystem (io_error when it fails).
result<space_info> free_space(const std::filesystem::path& root);

// storage_full unless `bytes` more still leave `reserve` free (the message says how much is free);
// io_error when the free space cannot be read.
status ensure_room(const std::filesystem::path& root, std::uint64_t bytes, std::uint64_t reserve);

}  // namespace quire::storage
