// `quire healthcheck [--url URL] [--timeout S]` — exit 0 iff the URL answers HTTP 200.
// The container HEALTHCHECK runs it (the runtime image has no curl). Without --url it asks /readyz
// of the probe listener, as `quire serve` configures it from the same environment: QUIRE_PROBE_LISTEN
// (default 127.0.0.1:<QUIRE_LISTEN port + 1>), or QUIRE_LISTEN's port when that is "off" — the
// probe listener's own connection slots keep it answering while QUIRE_LISTEN is flooded.
// Exit 1 otherwise, with the reason on stderr.
#include <CLI/CLI.hpp>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <cstdio>
#include <regex>
#include <string>

#include "actors/config.hpp"
#include "app/commands.hpp"

namespace quire::app {
namespace {

struct hc_args {
  std::string url;
  double timeout = 3;
};

int fail(const std::string& why) {
  std::fprintf(stderr, "quire healthcheck: %s\n", why.c_str());
  return 1;
}

int run_healthcheck(const hc_args& a) {
  std::string url = a.url;
  if (url.empty()) {
    std::vector<actors::config_error> errors;
    const auto cfg = actors::load_config(actors::process_env(), errors);
    for (const auto& e : errors)
      if (e.variable == "QUIRE_LISTEN" || e.variable == "QUIRE_PROBE_LISTEN") return fail(e.variable + ": " + e.message);
    std::string host = cfg.probe_port != 0 ? cfg.probe_host : "127.0.0.1";
    if (host == "0.0.0.0") host = "127.0.0.1";  // a wildcard listener is reachable on loopback
    if (host == "::") host = "::1";
    if (host.find(':') != std::string::npos) host = "[" + host + "]";
    const auto port = cfg.probe_port != 0 ? cfg.probe_port : cfg.listen_port;
    url = "http://" + host + ":" + std::to_string(port) + "/readyz";
  }
  static const std::regex re(R"(http://(\[[^\]]+\]|[^/:]+)(?::(\d+))?(/.*)?)");
  std::smatch m;
  if (!std::regex_match(url, m, re)) return fail("only http://host[:port]/path URLs are supported: " + url);
  std::string host = m[1];
  if (host.front() == '[') host = host.substr(1, host.size() - 2);
  const std::string port = m[2].matched ? std::string(m[2]) : "80";
  const std::string path = m[3].matched ? std::string(m[3]) : "/";
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(static_cast<int>(a.timeout * 1000));
  auto left_ms = [&] {
    return static_cast<int>(std::max<long long>(
        0, std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count()));
  };

  addrinfo hints{}, *res = nullptr;
  hints.ai_socktype = SOCK_STREAM;
  if (int rc = getaddrinfo(host.c_str(), port.c_str(), &hints, &res); rc != 0) return fail(gai_strerror(rc));
  int fd = ::socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    freeaddrinfo(res);
    return fail("socket failed");
  }
  int rc = ::connect(fd, res->ai_addr, res->ai_addrlen);
  freeaddrinfo(res);
  pollfd p{fd, POLLOUT, 0};
  if (rc != 0 && (errno != EINPROGRESS || ::poll(&p, 1, left_ms()) != 1)) {
    ::close(fd);
    return fail("cannot connect to " + host + ":" + port);
  }
  int soerr = 0;
  socklen_t len = sizeof soerr;
  ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len);
  if (soerr != 0) {
    ::close(fd);
    return fail("cannot connect to " + host + ":" + port + ": " + std::strerror(soerr));
  }
  std::string req = "GET " + path + " HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\nUser-Agent: quire-healthcheck\r\n\r\n";
  if (::send(fd, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size())) {
    ::close(fd);
    return fail("send failed");
  }
  std::string reply;
  char buf[4096];
  while (reply.find("\r\n") == std::string::npos) {
    pollfd r{fd, POLLIN, 0};
    if (::poll(&r, 1, left_ms()) != 1) break;
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    reply.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  auto eol = reply.find("\r\n");
  if (eol == std::string::npos) return fail("no HTTP status line within the timeout");
  std::string status = reply.substr(0, eol);
  if (status.rfind("HTTP/1.1 200", 0) == 0 || status.rfind("HTTP/1.0 200", 0) == 0) return 0;
  return fail(url + " answered: " + status);
}

}  // namespace

void add_healthcheck_command(CLI::App& app) {
  auto args = std::make_shared<hc_args>();
  auto* cmd = app.add_subcommand("healthcheck", "Exit 0 iff the service's /readyz answers 200 (container HEALTHCHECK)");
  cmd->add_option("--url", args->url, "URL to probe (default: /readyz on the probe listener, QUIRE_PROBE_LISTEN)");
  cmd->add_option("--timeout", args->timeout, "Seconds before giving up (default 3)");
  cmd->callback([args] {
    int rc = run_healthcheck(*args);
    if (rc != 0) throw CLI::RuntimeError(rc);
  });
}

}  // namespace quire::app
