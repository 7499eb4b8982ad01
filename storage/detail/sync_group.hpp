// Private to quire_storage_files: the group filesystem sync behind artifact_store's deferred writes
// (artifact_store::sync_deferred). Not part of the public API.
//
// One syncfs(2) of the data root's filesystem makes every write made before it started durable
// (data, inodes and directory entries), at the price of one device cache flush; fsync'ing each
// file and directory costs one flush each. Every deferred write takes a ticket once it is in place
// (after_write); a sync covers the tickets handed out before it started. A caller waits for the
// sync that covers its newest ticket: the one already running when that suffices, else the next,
// which everybody who arrived meanwhile shares. Group commit for files.
//
// Writeback errors: syncfs reports an error once per open file description (errseq), and the
// kernel may write a file back (and fail) before anybody syncs, or while another caller's sync
// runs. So syncs run one at a time on one long-lived descriptor, and a failed sync records the
// ticket count at the moment it failed: every write whose ticket is at or below it (made before the
// failure was seen) is reported lost, even when a later sync of its own succeeds. Conservative,
// never optimistic.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>

#include "storage/error.hpp"

namespace quire::storage::detail {

class sync_group {
 public:
  explicit sync_group(int dir_fd);  // takes ownership of a descriptor on the filesystem to sync
  ~sync_group();
  sync_group(const sync_group&) = delete;
  sync_group& operator=(const sync_group&) = delete;

  // Call once a deferred write is in place (renamed); pass the ticket to sync().
  std::uint64_t after_write() { return writes_.fetch_add(1) + 1; }

  // Returns once a sync that covers `newest_ticket` has finished: ok when no sync failed after
  // the write with `oldest_ticket` was made, else io_error (storage_full for ENOSPC).
  // `fail_for_testing`, when set, is asked before each syncfs and makes that sync fail as if the
  // device had reported EIO.
  status sync(std::uint64_t oldest_ticket, std::uint64_t newest_ticket,
              const std::function<bool()>& fail_for_testing = {});

  std::uint64_t syncs_run() const;  // for tests and benchmarks: how well calls were grouped

 private:
  const int fd_;
  std::atomic<std::uint64_t> writes_{0};  // tickets handed out
  mutable std::mutex mu_;
  std::condition_variable done_;
  bool running_ = false;
  std::uint64_t synced_through_ = 0;  // a finished sync covers every ticket up to here
  std::uint64_t failed_through_ = 0;  // tickets handed out when a sync last failed
  std::uint64_t syncs_run_ = 0;
  int last_errno_ = 0;
  std::string last_error_;
};

}  // namespace quire::storage::detail
