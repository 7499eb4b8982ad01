// Private to quire_storage: the group filesystem sync behind artifact_store's deferred writes
// (artifact_store::sync_deferred). Not part of the public API.
//
// One syncfs(2) of the data root's filesystem makes every write made before it started durable
// (data, inodes and directory entries), at the price of one device cache flush; fsync'ing each
// file and directory costs one flush each. Callers that arrive while a sync runs share the next
// one, so under load one sync covers many writes: group commit for files.
//
// Writeback errors: syncfs reports an error once per open file description (errseq), and the
// kernel may write a file back (and fail) before anybody syncs. So syncs run one at a time on one
// long-lived descriptor, every failed sync bumps an error epoch, and a caller passes the epoch it
// sampled right after its write: if any sync failed since, its write may be among the lost ones,
// and it gets the error even when its own sync succeeded. Conservative, never optimistic.
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

  // Sample right after a write; pass to sync().
  std::uint64_t error_epoch() const { return failed_syncs_.load(); }

  // Returns once a sync that started after this call began has finished: ok when it succeeded
  // and no sync failed since `epoch_at_write`, else io_error. `fail_for_testing`, when set, is
  // asked before each syncfs and makes that sync fail as if the device had reported EIO.
  status sync(std::uint64_t epoch_at_write, const std::function<bool()>& fail_for_testing = {});

  std::uint64_t syncs_run() const;  // for tests and benchmarks: how well calls were grouped

 private:
  const int fd_;
  mutable std::mutex mu_;
  std::condition_variable done_;
  std::uint64_t next_ticket_ = 1;     // handed out to callers, in arrival order
  std::uint64_t synced_through_ = 0;  // every ticket up to here is covered by a finished sync
  bool running_ = false;
  std::uint64_t syncs_run_ = 0;
  int last_errno_ = 0;
  std::string last_error_;
  std::atomic<std::uint64_t> failed_syncs_{0};
};

}  // namespace quire::storage::detail
