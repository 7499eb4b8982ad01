// Private to quire_storage_files: the POSIX steps every durable change to the data root is made of
// (data_root.cpp, artifact_store.cpp). Not part of the public API.
#pragma once

#include <cerrno>
#include <filesystem>
#include <string>
#include <string_view>

#include "storage/error.hpp"

namespace quire::storage::detail {

// "<what> <path>: <errno text>". A full filesystem (or quota) is storage_full, not io_error: the
// caller can say "retry later" instead of reporting a broken disk.
error io_error(std::string_view what, const std::filesystem::path& p, int err = errno);

// fsync a directory so that entries created, renamed or removed in it survive a power loss.
bool fsync_dir(const std::filesystem::path& dir);

// Idempotent unlink (absent is success) that makes the removal durable.
status unlink_durably(const std::filesystem::path& path);

// mkdir -p that also fsyncs the parent of every directory it creates (durable = true): a new
// directory must itself be durable before a file renamed into it can be. Deferred writes leave
// that to the filesystem sync that makes them durable.
status make_dirs(const std::filesystem::path& dir, bool durable);

// A fresh random file name for tmp/ ("<base32>.tmp").
std::string temp_name();

}  // namespace quire::storage::detail
