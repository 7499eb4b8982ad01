// See detail/call_watchdog.hpp.
#include "storage/detail/call_watchdog.hpp"

#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <thread>

namespace quire::storage::detail {
namespace {

using clock = std::chrono::steady_clock;

// One thread for the process, started on first use; it sleeps until the earliest deadline.
class watchdog_thread {
 public:
  static watchdog_thread& instance() {
    static watchdog_thread* w = new watchdog_thread;  // never destroyed: calls may run at exit
    return *w;
  }
  std::uint64_t arm(int fd, clock::time_point deadline) {
    std::lock_guard l(mu_);
    const auto id = ++next_id_;
    armed_[id] = {fd, deadline};
    if (!started_) {
      started_ = true;
      std::thread([this] { run(); }).detach();
    }
    cv_.notify_one();
    return id;
  }
  // Under the mutex: once this returns the fd is never shut down by us.
  void disarm(std::uint64_t id) {
    std::lock_guard l(mu_);
    armed_.erase(id);
    fired_.erase(id);
  }
  bool fired(std::uint64_t id) {
    std::lock_guard l(mu_);
    return fired_.count(id) != 0;
  }

 private:
  struct entry {
    int fd;
    clock::time_point deadline;
  };
  void run() {
    // Started by whichever thread calls the database first, often a converter's or the sweeper's,
    // which run at QUIRE_WORKER_NICE: take the process's own priority back (where permitted), so a
    // deadline is not served late and the niced threads are exactly the ones meant to be.
    errno = 0;
    const int base = ::getpriority(PRIO_PROCESS, static_cast<id_t>(::getpid()));
    if (errno == 0) ::setpriority(PRIO_PROCESS, static_cast<id_t>(::syscall(SYS_gettid)), base);
    std::unique_lock l(mu_);
    for (;;) {
      auto next = clock::time_point::max();
      const auto now = clock::now();
      for (auto it = armed_.begin(); it != armed_.end();) {
        if (it->second.deadline <= now) {
          ::shutdown(it->second.fd, SHUT_RDWR);
          fired_.insert(it->first);
          it = armed_.erase(it);
        } else {
          next = std::min(next, it->second.deadline);
          ++it;
        }
      }
      if (next == clock::time_point::max()) cv_.wait(l);
      else cv_.wait_until(l, next);
    }
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::uint64_t, entry> armed_;
  std::set<std::uint64_t> fired_;
  std::uint64_t next_id_ = 0;
  bool started_ = false;
};

}  // namespace

call_watchdog::guard::~guard() {
  if (id_) watchdog_thread::instance().disarm(id_);
}

bool call_watchdog::guard::fired() const { return id_ && watchdog_thread::instance().fired(id_); }

call_watchdog::guard call_watchdog::arm(int fd, std::chrono::milliseconds limit) {
  if (fd < 0 || limit.count() <= 0) return guard{};
  return guard{watchdog_thread::instance().arm(fd, clock::now() + limit)};
}

bool idle_connection_closed(int fd) {
  if (fd < 0) return true;
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, 0) > 0 && (p.revents & (POLLIN | POLLHUP | POLLERR)) != 0;
}

}  // namespace quire::storage::detail
