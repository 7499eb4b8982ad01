// peer_limits: the connection caps' bookkeeping (server.cpp feeds it RESTinio's notices).
#include <catch2/catch.hpp>

#include "http/peer_limits.hpp"

using quire::http::peer_limits;
using verdict = peer_limits::verdict;

namespace {
peer_limits::peer v6(std::initializer_list<int> bytes) {
  std::array<std::uint8_t, 16> b{};
  int i = 0;
  for (int x : bytes) b[static_cast<std::size_t>(i++)] = static_cast<std::uint8_t>(x);
  return peer_limits::ipv6(b);
}
}  // namespace

TEST_CASE("peer_limits caps each address and frees a slot on close") {
  peer_limits l(100, 2);
  const auto a = peer_limits::ipv4(0x7f000001), b = peer_limits::ipv4(0x7f000002);
  REQUIRE(l.admit(a) == verdict::admit);
  l.opened(1, a);
  REQUIRE(l.admit(a) == verdict::admit);
  l.opened(2, a);
  CHECK(l.admit(a) == verdict::over_peer);  // a holds two
  CHECK(l.admit(b) == verdict::admit);      // another address is not affected
  l.opened(3, b);
  CHECK(l.open() == 3);
  CHECK(l.open_from(a) == 2);
  l.closed(1);
  CHECK(l.open_from(a) == 1);
  CHECK(l.admit(a) == verdict::admit);
  l.closed(2);
  l.closed(3);
  CHECK(l.open() == 0);
  CHECK(l.open_from(a) == 0);
}

TEST_CASE("peer_limits caps the total across addresses") {
  peer_limits l(3, 2);
  for (std::uint32_t i = 1; i <= 3; ++i) {
    REQUIRE(l.admit(peer_limits::ipv4(0x0a000000 + i)) == verdict::admit);
    l.opened(i, peer_limits::ipv4(0x0a000000 + i));
  }
  CHECK(l.admit(peer_limits::ipv4(0x0a000009)) == verdict::over_total);
  l.closed(2);
  CHECK(l.admit(peer_limits::ipv4(0x0a000009)) == verdict::admit);
}

TEST_CASE("peer_limits ignores a repeated or unknown close") {
  peer_limits l(100, 1);
  const auto a = peer_limits::ipv4(0x0a000001), b = peer_limits::ipv4(0x0a000002);
  l.opened(7, a);
  l.opened(8, b);
  l.closed(7);
  l.closed(7);   // a second notice for the same connection
  l.closed(99);  // never opened
  CHECK(l.open() == 1);
  CHECK(l.open_from(b) == 1);
  CHECK(l.admit(b) == verdict::over_peer);
  l.opened(8, b);  // a repeated open notice does not count twice
  l.closed(8);
  CHECK(l.admit(b) == verdict::admit);
}

TEST_CASE("peer_limits counts IPv6 per /64 and v4-mapped addresses as IPv4") {
  peer_limits l(100, 1);
  const auto host1 = v6({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1});
  const auto host2 = v6({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1, 0xde, 0xad, 0, 0, 0, 0, 0, 2});  // same /64
  const auto other = v6({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 1});       // next /64
  l.opened(1, host1);
  CHECK(l.admit(host2) == verdict::over_peer);
  CHECK(l.admit(other) == verdict::admit);
  const auto mapped = v6({0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 1});
  CHECK(mapped == peer_limits::ipv4(0x7f000001));
  CHECK(v6({0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 2}) != mapped);  // not truncated to a /64
}
