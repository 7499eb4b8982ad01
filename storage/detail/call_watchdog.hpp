// A client-side bound on every call to the database.
//
// statement_timeout and lock_timeout are enforced by the server. A server that has stopped
// answering — a frozen host or VM, a SIGSTOPped PostgreSQL, a partition that leaves the TCP
// connection open — enforces nothing, and libpq waits on its socket for as long as the kernel
// keeps the connection (keepalive probes are answered by the peer's kernel: that can be forever).
// The watchdog shuts the socket down when a call overruns its limit: the blocked read returns at
// once, libpq reports a broken connection, and the caller gets database_unreachable (the store
// reconnects on its next call). Storage-internal.
#pragma once

#include <chrono>
#include <cstdint>

namespace quire::storage::detail {

class call_watchdog {
 public:
  // Disarms on destruction; after that the watchdog never touches the socket again.
  class guard {
   public:
    guard() = default;
    explicit guard(std::uint64_t id) : id_(id) {}
    guard(guard&& o) noexcept : id_(o.id_) { o.id_ = 0; }
    guard& operator=(guard&&) = delete;
    guard(const guard&) = delete;
    ~guard();
    // true when the limit passed and the socket was shut down.
    bool fired() const;

   private:
    std::uint64_t id_ = 0;
  };

  // Shuts `fd` down (SHUT_RDWR) unless the guard is gone within `limit`. fd < 0 or limit <= 0:
  // an inert guard.
  static guard arm(int fd, std::chrono::milliseconds limit);
};

// True when an idle connection's socket already has something to read: the server spoke
// unasked, which for the store's sessions (they LISTEN to nothing) means it ended the session —
// a restart's "terminating connection" and EOF, or a reset. libpq finds out only when the next
// statement fails, and that failure would reach a client (a submit in doubt, a 503 right after
// /readyz said ready). Checked before each call (one poll(2) with no wait), it lets the store
// reconnect first instead.
bool idle_connection_closed(int fd);

}  // namespace quire::storage::detail
