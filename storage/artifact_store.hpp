// quire::storage::artifact_store — the data root: the bytes of every job, written atomically and
// durably, verified by sha256 when read. No database access here (see storage/maintenance.hpp
// for the operations that need both the rows and the files).
//
// Layout (one data root per lane, a Docker volume in production; the marker and the checks of the
// root itself are data_root.hpp's):
//   <root>/.quire-root.json            marker (data_root.hpp)
//   <root>/inputs/<id[0:2]>/<id>.pdf   the upload (the artifact named "input.pdf"), sharded by the
//                                      first two id chars; written at accept
//   <root>/jobs/<id[0:2]>/<id>/        one directory per job, made by its first result file:
//        result.md  assets/<name>  manifest.json
//   <root>/tmp/                        temp files; same filesystem, so rename() is atomic
//
// Why inputs live apart: a directory per job made at accept (mkdir: an inode, a directory block,
// two entries, the parent's link count) would be the largest single cost of accepting a submit;
// the input's shard directory exists already (prepare_shards).
//
// Every write goes: create temp in tmp/ → write → fsync(file) → rename into place →
// fsync(destination dir). A reader therefore sees the old file or the new file, never a torn one,
// and after a crash at any step a committed write survives. The exception is a job's input,
// written once and in place (create with O_EXCL → write → fsync → fsync dir): its job row, which
// is committed only after the input is complete and durable, is what publishes it (begin_write).
// A deferred write (durability::deferred) skips the fsyncs and becomes durable when
// sync_deferred() returns: one syncfs of the data root, shared by every write made before it
// (storage/detail/sync_group.hpp). Leftover temp files are removed by reconcile_tmp(). Readers verify
// size and sha256 against what the database recorded.
//
// Thread safety: all methods may be called concurrently. Shared mutable state: the sync group of
// deferred writes (internally locked, shared by copies of one opened store) and the fault hook,
// which is for tests and must be set before use.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "storage/data_root.hpp"
#include "storage/error.hpp"

namespace quire::storage {

struct file_info {
  std::int64_t bytes = 0;
  std::string sha256;      // lowercase hex
  std::uint64_t deferred_ticket = 0;  // a deferred commit's place in the sync history (sync_deferred)
};

// How atomic_writer::commit() makes a write durable.
enum class durability {
  synced,    // fsync the file, rename, fsync the directories: durable when commit() returns
  deferred,  // make the directories and rename, no fsync: visible at once, durable only once
             // artifact_store::sync_deferred() has returned ok for it
};

// The steps of one atomic write, in order. The fault hook sees each one before it happens.
// sync_filesystem is sync_deferred()'s syncfs: a hook that returns true there makes that sync fail
// as if the device had reported EIO (the writes are in place, their durability unknown).
enum class write_step { create_temp, write_data, fsync_file, rename, fsync_dir, sync_filesystem };
std::string_view to_string(write_step s);

// Test hook: called before each step; returning true makes the write stop right there as if the
// process had died (nothing is cleaned up; the call returns io_error "injected fault at <step>").
using fault_hook = std::function<bool(write_step)>;

class artifact_store;
namespace detail {
class sync_group;
}

// Streams one file into place: append() any number of times, then commit(). Destroying it without
// commit() removes the temp file (an aborted upload leaves nothing behind).
class atomic_writer {
 public:
  ~atomic_writer();
  atomic_writer(atomic_writer&&) noexcept;
  atomic_writer& operator=(atomic_writer&&) = delete;
  status append(std::span<const std::byte> data);
  status append(std::string_view data);
  // synced: fsync, rename, fsync dir. deferred: rename only (see durability). Returns the size and
  // sha256 of what was written.
  result<file_info> commit(durability d = durability::synced);
  const std::filesystem::path& target() const;

 private:
  friend class artifact_store;
  struct impl;
  explicit atomic_writer(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

class artifact_store {
 public:
  // Opens the data root for `profile`: makes jobs/, inputs/ and tmp/ where missing, checks the
  // marker and that a file can be written (data_root.hpp). create=true: also make the directory and
  // write the marker if absent (first initialisation). Errors: data_root_missing (create=false),
  // data_root_not_writable, storage_full, data_root_profile_mismatch, data_root_corrupt.
  static result<artifact_store> open(const std::filesystem::path& root, const std::string& profile,
                                     bool create = true);

  const std::filesystem::path& root() const { return root_; }
  const root_marker& marker() const { return marker_; }

  // Makes every shard directory of inputs/ and jobs/ that is missing (1,024 each: the first two
  // characters of a job id), durably. Otherwise the first file of each shard makes its directory
  // on the accept path (a mkdir and directory fsyncs), so a new lane's first thousand or so
  // uploads each wait for that. The service calls it once at start; cheap when they exist.
  status prepare_shards() const;

  // Makes a deferred write durable: returns once a syncfs of the data root that started after the
  // write was in place has finished (the running one, when it did). Concurrent callers share
  // syncs, so N submits cost one device flush instead of 3N fsyncs. io_error (storage_full for
  // ENOSPC) when any sync failed after the write: it may be lost and must not be acknowledged.
  status sync_deferred(const file_info& written) const {
    return sync_deferred(written.deferred_ticket, written.deferred_ticket);
  }
  // The same for many writes at once: the smallest and the largest of their deferred_tickets.
  status sync_deferred(std::uint64_t oldest_ticket, std::uint64_t newest_ticket) const;
  // Syncs run by sync_deferred so far (tests and benchmarks: how well calls were grouped).
  std::uint64_t deferred_syncs_run() const;

  // Free space (free_space(): io_error when statvfs fails).
  result<space_info> space() const;
  // storage_full unless `bytes` more still leave `reserve` free (storage::ensure_room). Checked
  // before an upload is written, so a full root refuses it before anything exists; the reserve
  // keeps room for the results of jobs already accepted. Any write that still hits ENOSPC or
  // EDQUOT fails with storage_full too, and its temp file is removed.
  status ensure_room(std::uint64_t bytes, std::uint64_t reserve) const;

  // The name of a job's upload. Every other name is a file in the job directory.
  static constexpr std::string_view input_name = "input.pdf";

  std::filesystem::path job_dir(std::string_view job_id) const;             // jobs/ab/abcd…/
  // Where `name` of the job is: inputs/ab/abcd….pdf for input_name, job_dir/name for the rest.
  std::filesystem::path file_path(std::string_view job_id, std::string_view name) const;

  // `name`: input_name ("input.pdf"), or relative to the job dir: "result.md",
  // "assets/img-p3-1.png", "manifest.json". No "..", no absolute paths (invalid_argument).
  result<atomic_writer> begin_write(std::string_view job_id, std::string_view name) const;
  result<file_info> write_file(std::string_view job_id, std::string_view name, std::string_view bytes,
                               durability d = durability::synced) const;
  result<file_info> write_manifest(std::string_view job_id, const nlohmann::json& manifest,
                                   durability d = durability::synced) const;
  // Publishes a file that already exists on the data root's filesystem (a worker's output in a
  // staging directory under tmp/) as `name` of the job, by rename: its bytes are hashed on the way
  // (the row records size and sha256) but never copied. synced: fsync the file, rename, fsync the
  // directory; deferred: rename only (sync_deferred). The staged file is gone afterwards, unless
  // the call failed before the rename. artifact_missing when `staged` does not exist; input_name
  // cannot be adopted (an input is written by begin_write only).
  result<file_info> adopt(std::string_view job_id, std::string_view name, const std::filesystem::path& staged,
                          durability d = durability::synced) const;

  // Reads a file and checks it against the recorded size/sha256 (either may be empty/negative to
  // skip): artifact_missing when absent, artifact_corrupt when it differs.
  result<std::string> read_verified(std::string_view job_id, std::string_view name,
                                    std::string_view expected_sha256, std::int64_t expected_bytes = -1) const;
  // Same check without keeping the bytes (streams through the hash).
  result<file_info> verify(std::string_view job_id, std::string_view name, std::string_view expected_sha256,
                           std::int64_t expected_bytes = -1) const;
  result<nlohmann::json> read_manifest(std::string_view job_id) const;
  bool exists(std::string_view job_id, std::string_view name) const;

  // Deletions are idempotent (absent is success) and fsync the parent directory. remove_job
  // removes the job's input and its directory.
  status remove_file(std::string_view job_id, std::string_view name) const;
  status remove_job(std::string_view job_id) const;

  // Every job with files in the root (an input, a job directory or both), in no particular order,
  // with the newest mtime among them.
  struct job_files_entry {
    std::string job_id;
    std::filesystem::file_time_type modified;
  };
  result<std::vector<job_files_entry>> list_jobs() const;
  // Removes temp files older than `grace` (a crashed write); returns how many.
  result<std::int64_t> reconcile_tmp(std::chrono::seconds grace) const;

  void set_fault_hook_for_testing(fault_hook hook) { hook_ = std::make_shared<fault_hook>(std::move(hook)); }

 private:
  friend class atomic_writer;
  std::filesystem::path input_path(std::string_view job_id) const;         // inputs/ab/abcd….pdf
  result<file_info> verify_into(std::string_view job_id, std::string_view name, std::string_view sha256,
                                std::int64_t expected_bytes, std::string* keep) const;
  artifact_store(std::filesystem::path root, root_marker m, std::shared_ptr<detail::sync_group> sync)
      : root_(std::move(root)), marker_(std::move(m)), sync_(std::move(sync)) {}
  std::filesystem::path root_;
  root_marker marker_;
  std::shared_ptr<detail::sync_group> sync_;  // shared by copies: one sync history per data root
  std::shared_ptr<fault_hook> hook_;
};

}  // namespace quire::storage
