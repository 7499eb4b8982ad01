// quire::http — open connections, in total and per client address, for the listener's caps.
//
// One client must not be able to take every connection slot (QUIRE_MAX_CONNECTIONS): idle
// connections that send nothing hold a slot until QUIRE_IDLE_TIMEOUT_SECONDS, and RESTinio cannot
// close them sooner. server.cpp asks admit() when RESTinio accepts a connection (it closes a
// refused one at once, unanswered) and reports each connection's open and close. Peers are counted
// per IPv4 address and per IPv6 /64 (one host is usually handed a whole /64). The total is kept
// here too, not by RESTinio's connection-count limiter: in RESTinio 0.6.16 every connection its
// IP blocker denies leaks one of the limiter's slots, and the acceptor stops for good once they
// are gone.
//
// Plain C++ (no RESTinio) so the bookkeeping is unit-tested; every call is O(1) under one mutex.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <unordered_map>

namespace quire::http {

class peer_limits {
 public:
  // 16 bytes: an IPv6 address with its low 64 bits cleared, or an IPv4 address as ::ffff:a.b.c.d.
  using peer = std::array<std::uint8_t, 16>;
  static peer ipv4(std::uint32_t host_order_address);
  static peer ipv6(const std::array<std::uint8_t, 16>& bytes);  // v4-mapped addresses count as IPv4

  peer_limits(std::size_t max_total, std::size_t max_per_peer) : max_total_(max_total), max_per_peer_(max_per_peer) {}

  enum class verdict { admit, over_total, over_peer };
  // over_total when max_total connections are open, over_peer when `p` holds max_per_peer.
  verdict admit(const peer& p);
  // A connection RESTinio accepted (after allow()) and, later, closed. closed() ignores an id it
  // does not know or already saw closed, so a repeated notice cannot free another's slot.
  void opened(std::uint64_t connection_id, const peer& p);
  void closed(std::uint64_t connection_id);

  std::size_t open() const;
  std::size_t open_from(const peer& p) const;
  std::size_t max_per_peer() const { return max_per_peer_; }

 private:
  struct peer_hash {
    std::size_t operator()(const peer& p) const noexcept;
  };
  const std::size_t max_total_;
  const std::size_t max_per_peer_;
  mutable std::mutex mu_;
  std::unordered_map<peer, std::uint32_t, peer_hash> per_peer_;  // only peers with open connections
  std::unordered_map<std::uint64_t, peer> connections_;
};

}  // namespace quire::http
