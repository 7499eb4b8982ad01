// Webhook destination checks; see destination.hpp.
#include "notify/destination.hpp"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netdb.h>
#include <netinet/in.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <memory>

namespace quire::notify {
namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

std::string trim(const std::string& s) {
  auto b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t") - b + 1);
}

std::vector<std::string> split_commas(const std::string& text) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= text.size()) {
    auto comma = text.find(',', start);
    if (comma == std::string::npos) comma = text.size();
    auto item = trim(text.substr(start, comma - start));
    if (!item.empty()) out.push_back(item);
    start = comma + 1;
  }
  return out;
}

address_class classify_v4(std::uint32_t a) {  // host byte order
  auto in = [a](std::uint32_t net, int bits) { return (a >> (32 - bits)) == (net >> (32 - bits)); };
  if (in(0x7f000000, 8)) return address_class::loopback;                          // 127/8
  if (in(0x0a000000, 8) || in(0xac100000, 12) || in(0xc0a80000, 16) || in(0x64400000, 10))
    return address_class::private_;                                               // RFC 1918, 100.64/10
  if (in(0xa9fe0000, 16)) return address_class::link_local;                       // 169.254/16
  if (in(0x00000000, 8) || in(0xe0000000, 4) || in(0xf0000000, 4) || in(0xc0000000, 24) ||
      in(0xc6120000, 15))
    return address_class::forbidden;  // this network, multicast, reserved+broadcast, IETF, benchmarking
  return address_class::public_;
}

address_class classify_v6(const unsigned char* b) {
  static const unsigned char zeros[16] = {0};
  static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (std::memcmp(b, mapped, 12) == 0 || (std::memcmp(b, zeros, 12) == 0 && (b[12] | b[13] | b[14]) != 0)) {
    // IPv4-mapped (::ffff:a.b.c.d) or IPv4-compatible (::a.b.c.d): the IPv4 address decides.
    return classify_v4((std::uint32_t(b[12]) << 24) | (std::uint32_t(b[13]) << 16) | (std::uint32_t(b[14]) << 8) | b[15]);
  }
  if (std::memcmp(b, zeros, 15) == 0 && b[15] == 1) return address_class::loopback;  // ::1
  if (std::memcmp(b, zeros, 16) == 0) return address_class::forbidden;                // ::
  if ((b[0] & 0xfe) == 0xfc) return address_class::private_;                          // fc00::/7
  if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) return address_class::link_local;        // fe80::/10
  if (b[0] == 0xff) return address_class::forbidden;                                  // multicast
  if (b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b) return address_class::forbidden;  // NAT64
  if (b[0] == 0x20 && b[1] == 0x02) return address_class::forbidden;  // 6to4 embeds any IPv4 address
  return address_class::public_;
}

bool allowed(const destination_policy& p, address_class c) {
  switch (c) {
    case address_class::public_: return true;
    case address_class::loopback: return p.networks.loopback;
    case address_class::private_: return p.networks.private_;
    case address_class::link_local: return p.networks.link_local;
    case address_class::forbidden: return false;
  }
  return false;
}

const char* name(address_class c) {
  switch (c) {
    case address_class::public_: return "public";
    case address_class::loopback: return "loopback";
    case address_class::private_: return "private";
    case address_class::link_local: return "link-local";
    case address_class::forbidden: return "reserved";
  }
  return "reserved";
}

bool host_matches(const std::string& entry, const url_parts& u) {
  std::string host = entry;
  std::optional<std::string> port;
  // "[v6]:port", "[v6]", "name:port", "name"
  if (!host.empty() && host.front() == '[') {
    auto close = host.find(']');
    if (close == std::string::npos) return false;
    if (close + 1 < host.size() && host[close + 1] == ':') port = host.substr(close + 2);
    host = host.substr(1, close - 1);
  } else if (auto colon = host.rfind(':'); colon != std::string::npos && host.find(':') == colon) {
    port = host.substr(colon + 1);
    host = host.substr(0, colon);
  }
  if (port && *port != std::to_string(u.port)) return false;
  if (host.rfind("*.", 0) == 0) {
    const std::string suffix = host.substr(1);  // ".example.com"
    return u.host.size() > suffix.size() && u.host.compare(u.host.size() - suffix.size(), suffix.size(), suffix) == 0;
  }
  return host == u.host;
}

}  // namespace

quire::expected<std::vector<std::string>> parse_allowed_hosts(const std::string& text) {
  std::vector<std::string> hosts;
  for (auto& item : split_commas(text)) {
    if (item.find_first_of("/@?# ") != std::string::npos || item == "*" || item == "*.")
      return quire::error{errc::invalid_settings, "'" + item + "' is not a host, host:port or *.domain entry"};
    hosts.push_back(lower(item));
  }
  return hosts;
}

quire::expected<network_classes> parse_allowed_networks(const std::string& text) {
  network_classes n;
  for (auto& item : split_commas(text)) {
    const auto v = lower(item);
    if (v == "loopback") n.loopback = true;
    else if (v == "private") n.private_ = true;
    else if (v == "link_local") n.link_local = true;
    else
      return quire::error{errc::invalid_settings,
                          "expected a comma list of loopback, private, link_local; got '" + item + "'"};
  }
  return n;
}

quire::expected<url_parts> parse_url(const std::string& url) {
  auto invalid = [](std::string why) { return quire::error{errc::invalid_url, std::move(why)}; };
  if (url.size() > 2048) return invalid("is longer than 2048 characters");
  std::unique_ptr<CURLU, void (*)(CURLU*)> h(curl_url(), curl_url_cleanup);
  if (!h || curl_url_set(h.get(), CURLUPART_URL, url.c_str(), CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK)
    return invalid("is not an absolute URL");
  auto part = [&](CURLUPart what, unsigned flags = 0) -> std::optional<std::string> {
    char* v = nullptr;
    if (curl_url_get(h.get(), what, &v, flags) != CURLUE_OK || v == nullptr) return std::nullopt;
    std::string s(v);
    curl_free(v);
    return s;
  };
  url_parts out;
  out.scheme = lower(part(CURLUPART_SCHEME).value_or(""));
  if (out.scheme != "http" && out.scheme != "https") return invalid("must be an http or https URL");
  if (part(CURLUPART_USER) || part(CURLUPART_PASSWORD)) return invalid("must not carry credentials");
  if (part(CURLUPART_FRAGMENT)) return invalid("must not have a fragment");
  auto host = part(CURLUPART_HOST);
  if (!host || host->empty()) return invalid("has no host");
  out.host = lower(*host);
  if (out.host.size() >= 2 && out.host.front() == '[') {
    out.host = out.host.substr(1, out.host.size() - 2);
    if (out.host.find('%') != std::string::npos) return invalid("must not name an IPv6 zone");
  }
  auto port = part(CURLUPART_PORT, CURLU_DEFAULT_PORT);
  out.port = static_cast<std::uint16_t>(port ? std::stoi(*port) : 0);
  return out;
}

address_class classify(const sockaddr* addr) {
  if (addr->sa_family == AF_INET)
    return classify_v4(ntohl(reinterpret_cast<const sockaddr_in*>(addr)->sin_addr.s_addr));
  if (addr->sa_family == AF_INET6)
    return classify_v6(reinterpret_cast<const sockaddr_in6*>(addr)->sin6_addr.s6_addr);
  return address_class::forbidden;
}

std::optional<address_class> classify_literal(const std::string& host) {
  in_addr v4{};
  in6_addr v6{};
  if (inet_pton(AF_INET, host.c_str(), &v4) == 1) return classify_v4(ntohl(v4.s_addr));
  if (inet_pton(AF_INET6, host.c_str(), &v6) == 1) return classify_v6(v6.s6_addr);
  return std::nullopt;
}

quire::status check_url(const destination_policy& p, const std::string& url) {
  auto u = parse_url(url);
  if (!u) return std::move(u).err();
  auto refuse = [](std::string why) { return quire::error{errc::destination_refused, std::move(why)}; };
  if (std::none_of(p.allowed_hosts.begin(), p.allowed_hosts.end(), [&](const std::string& e) { return host_matches(e, *u); }))
    return refuse("host " + u->host +
                  (p.allowed_hosts.empty() ? " is not allowed: this service allows no webhook destinations"
                                           : " is not on this service's webhook allow-list"));
  if (auto c = classify_literal(u->host); c && !allowed(p, *c))
    return refuse("address " + u->host + " is " + name(*c) + ", which this service does not allow");
  return quire::ok_v;
}

quire::expected<resolved_destination> resolve_destination(const destination_policy& p, const std::string& url) {
  auto refuse = [](std::string why) { return quire::error{errc::destination_refused, std::move(why)}; };
  // A URL that does not parse is refused too: to the delivery, both are a destination it must not use.
  if (auto checked = check_url(p, url); !checked) return refuse(std::move(checked).err().message);
  resolved_destination out{*parse_url(url), {}};
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (int rc = getaddrinfo(out.url.host.c_str(), nullptr, &hints, &res); rc != 0)
    return refuse("cannot resolve " + out.url.host + ": " + gai_strerror(rc));
  std::unique_ptr<addrinfo, void (*)(addrinfo*)> guard(res, freeaddrinfo);
  std::string refused;
  for (auto* ai = res; ai != nullptr; ai = ai->ai_next) {
    char text[INET6_ADDRSTRLEN] = {0};
    const void* raw = ai->ai_family == AF_INET
                          ? static_cast<const void*>(&reinterpret_cast<const sockaddr_in*>(ai->ai_addr)->sin_addr)
                          : static_cast<const void*>(&reinterpret_cast<const sockaddr_in6*>(ai->ai_addr)->sin6_addr);
    if (inet_ntop(ai->ai_family, raw, text, sizeof text) == nullptr) continue;
    const auto c = classify(ai->ai_addr);
    if (allowed(p, c)) {
      out.address = text;
      return out;
    }
    if (refused.empty()) refused = std::string(text) + " (" + name(c) + ")";
  }
  return refuse(out.url.host + " resolves only to addresses this service does not allow, e.g. " + refused);
}

}  // namespace quire::notify
