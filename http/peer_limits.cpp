// Per-peer connection counts; see peer_limits.hpp.
#include "http/peer_limits.hpp"

#include <cstring>

namespace quire::http {

peer_limits::peer peer_limits::ipv4(std::uint32_t a) {
  peer p{};
  p[10] = 0xff;
  p[11] = 0xff;
  p[12] = static_cast<std::uint8_t>(a >> 24);
  p[13] = static_cast<std::uint8_t>(a >> 16);
  p[14] = static_cast<std::uint8_t>(a >> 8);
  p[15] = static_cast<std::uint8_t>(a);
  return p;
}

peer_limits::peer peer_limits::ipv6(const std::array<std::uint8_t, 16>& bytes) {
  static constexpr std::uint8_t v4_mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (std::memcmp(bytes.data(), v4_mapped, sizeof v4_mapped) == 0) return bytes;  // a whole IPv4 address
  peer p{};
  std::memcpy(p.data(), bytes.data(), 8);  // the /64
  return p;
}

std::size_t peer_limits::peer_hash::operator()(const peer& p) const noexcept {
  std::uint64_t hi = 0, lo = 0;
  std::memcpy(&hi, p.data(), 8);
  std::memcpy(&lo, p.data() + 8, 8);
  return static_cast<std::size_t>(hi * 0x9e3779b97f4a7c15ull ^ lo * 0xc2b2ae3d27d4eb4full);
}

peer_limits::verdict peer_limits::admit(const peer& p) {
  std::lock_guard lock(mu_);
  if (connections_.size() >= max_total_) return verdict::over_total;
  auto it = per_peer_.find(p);
  return it == per_peer_.end() || it->second < max_per_peer_ ? verdict::admit : verdict::over_peer;
}

void peer_limits::opened(std::uint64_t connection_id, const peer& p) {
  std::lock_guard lock(mu_);
  if (!connections_.emplace(connection_id, p).second) return;
  ++per_peer_[p];
}

void peer_limits::closed(std::uint64_t connection_id) {
  std::lock_guard lock(mu_);
  auto c = connections_.find(connection_id);
  if (c == connections_.end()) return;
  auto it = per_peer_.find(c->second);
  if (it != per_peer_.end() && --it->second == 0) per_peer_.erase(it);
  connections_.erase(c);
}

std::size_t peer_limits::open() const {
  std::lock_guard lock(mu_);
  return connections_.size();
}

std::size_t peer_limits::open_from(const peer& p) const {
  std::lock_guard lock(mu_);
  auto it = per_peer_.find(p);
  return it == per_peer_.end() ? 0 : it->second;
}

}  // namespace quire::http
