// sync_group: one syncfs at a time, covering every write that took its ticket before it started;
// see detail/sync_group.hpp.
#include "storage/detail/sync_group.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <system_error>

#include "storage/detail/internal.hpp"

namespace quire::storage::detail {

sync_group::sync_group(int dir_fd) : fd_(dir_fd) {}

sync_group::~sync_group() {
  if (fd_ >= 0) ::close(fd_);
}

std::uint64_t sync_group::syncs_run() const {
  std::lock_guard l(mu_);
  return syncs_run_;
}

status sync_group::sync(std::uint64_t oldest_ticket, std::uint64_t newest_ticket,
                        const std::function<bool()>& fail_for_testing) {
  if (newest_ticket == 0) return ok_v;  // no deferred write to cover
  std::unique_lock l(mu_);
  while (synced_through_ < newest_ticket) {
    if (running_) {
      // The running sync covers us if our writes took their tickets before it started;
      // otherwise we need the next one, which starts when this one ends.
      done_.wait(l);
      continue;
    }
    running_ = true;
    const std::uint64_t covers = writes_.load();  // these writes are in place: the sync sees them
    l.unlock();
    int err = 0;
    if (fail_for_testing && fail_for_testing()) err = EIO;
    else if (::syncfs(fd_) != 0) err = errno;
    l.lock();
    ++syncs_run_;
    if (err != 0) {
      // Any write in place by now may be the one whose writeback failed.
      failed_through_ = std::max(failed_through_, writes_.load());
      last_errno_ = err;
      last_error_ = "syncfs of the data root: " + std::generic_category().message(err);
    }
    synced_through_ = std::max(synced_through_, covers);
    running_ = false;
    done_.notify_all();
  }
  if (failed_through_ >= oldest_ticket) {
    // Delayed allocation can fail at writeback with ENOSPC: that is a full disk, not a broken one.
    const bool full = last_errno_ == ENOSPC || last_errno_ == EDQUOT;
    return make_error(full ? errc::storage_full : errc::io_error, last_error_);
  }
  return ok_v;
}

}  // namespace quire::storage::detail
