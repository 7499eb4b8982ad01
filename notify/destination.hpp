// quire::notify — where webhooks may go. Safe by default:
//   - the URL is http or https, without credentials, and its host matches an entry of the
//     allow-list (QUIRE_WEBHOOK_ALLOWED_HOSTS; empty: no webhook is allowed at all);
//   - the host is resolved ONCE per attempt and every address is checked: loopback, private
//     (RFC 1918, CGNAT, IPv6 ULA) and link-local addresses are refused unless the operator allows
//     that class (QUIRE_WEBHOOK_ALLOW_NETWORKS); unspecified, multicast, broadcast and reserved
//     ones always are. The request then goes to the checked address (pinned, see sender.hpp), so a
//     second DNS answer (rebinding) cannot redirect it.
// Submit checks what it can without DNS (check_url); delivery checks the resolved addresses.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "notify/errors.hpp"

namespace quire::notify {

// The address classes a destination may resolve to besides public ones (all refused by default).
struct network_classes {
  bool loopback = false;
  bool private_ = false;
  bool link_local = false;
};

struct destination_policy {
  // "host", "host:port" or "*.domain[:port]" (any subdomain, not the domain itself); lowercase.
  // Without a port an entry allows any port.
  std::vector<std::string> allowed_hosts;
  network_classes networks;
};

// QUIRE_WEBHOOK_ALLOWED_HOSTS (comma-separated entries, lowercased) and QUIRE_WEBHOOK_ALLOW_NETWORKS
// (comma-separated loopback, private, link_local); errc::invalid_settings saying what is wrong.
quire::expected<std::vector<std::string>> parse_allowed_hosts(const std::string& text);
quire::expected<network_classes> parse_allowed_networks(const std::string& text);

struct url_parts {
  std::string scheme;  // "http" | "https"
  std::string host;    // lowercase; an IPv6 literal without brackets
  std::uint16_t port = 0;
};

// The URL's parts (parsed by libcurl's URL API), or errc::invalid_url saying what is wrong with it
// ("must be an http or https URL").
quire::expected<url_parts> parse_url(const std::string& url);

enum class address_class { public_, loopback, private_, link_local, forbidden };
address_class classify(const sockaddr* addr);
// The same for a numeric address text ("127.0.0.1", "::1"); nullopt when it is not one.
std::optional<address_class> classify_literal(const std::string& host);

// The submit-time check: whether `url` may be used. errc::invalid_url when it does not parse
// (parse_url), errc::destination_refused when the policy does not allow it. An IP-literal host is
// checked like a resolved address; a name is checked at each delivery attempt.
quire::status check_url(const destination_policy& p, const std::string& url);

struct resolved_destination {
  url_parts url;
  std::string address;  // the checked numeric address the request must go to
};
// check_url, then getaddrinfo and the address checks: the first allowed address, or
// errc::destination_refused saying why. Blocking (DNS).
quire::expected<resolved_destination> resolve_destination(const destination_policy& p, const std::string& url);

}  // namespace quire::notify
