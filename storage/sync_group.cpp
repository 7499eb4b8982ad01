// sync_group: one syncfs at a time, shared by every caller that arrived before it started; see
// sync_group.hpp.
#include "storage/sync_group.hpp"

#include <unistd.h>

#include <cerrno>
#include <system_error>

#include "storage/internal.hpp"

namespace quire::storage::detail {

sync_group::sync_group(int dir_fd) : fd_(dir_fd) {}

sync_group::~sync_group() {
  if (fd_ >= 0) ::close(fd_);
}

std::uint64_t sync_group::syncs_run() const {
  std::lock_guard l(mu_);
  return syncs_run_;
}

status sync_group::sync(std::uint64_t epoch_at_write, const std::function<bool()>& fail_for_testing) {
  std::unique_lock l(mu_);
  // Tickets are taken after the caller's writes, so a sync that starts once our ticket exists
  // covers them; one that was already running when we arrived may not.
  const std::uint64_t mine = next_ticket_++;
  while (synced_through_ < mine) {
    if (running_) {
      done_.wait(l);
      continue;
    }
    running_ = true;
    const std::uint64_t covers = next_ticket_ - 1;
    l.unlock();
    int rc = 0, err = 0;
    if (fail_for_testing && fail_for_testing()) {
      rc = -1;
      err = EIO;
    } else if (::syncfs(fd_) != 0) {
      rc = -1;
      err = errno;
    }
    l.lock();
    ++syncs_run_;
    if (rc != 0) {
      last_errno_ = err;
      last_error_ = "syncfs of the data root: " + std::generic_category().message(err);
      failed_syncs_.fetch_add(1);  // before synced_through_ moves: a covered caller sees it
    }
    synced_through_ = covers;
    running_ = false;
    done_.notify_all();
  }
  if (failed_syncs_.load() != epoch_at_write) {
    // Delayed allocation can fail at writeback with ENOSPC: that is a full disk, not a broken one.
    const bool full = last_errno_ == ENOSPC || last_errno_ == EDQUOT;
    return make_error(full ? errc::storage_full : errc::io_error, last_error_);
  }
  return ok_v;
}

}  // namespace quire::storage::detail
