// Connection floods against the real binary (issue 16): thousands of idle TCP connections that
// never send a byte must not take the lane down. One client is held to QUIRE_MAX_CONNECTIONS_PER_PEER
// (the rest are closed at accept), so other clients are still served on QUIRE_LISTEN; and the probe
// listener (QUIRE_PROBE_LISTEN) keeps answering even when many clients together fill every slot.
//
// The loopback network is 127.0.0.0/8 on Linux: the flood comes from 127.0.0.1 (or from a range of
// 127.0.0.x addresses), the "real client" binds 127.0.0.2 first, so each is a peer of its own.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <optional>
#include <thread>

#include "lane.hpp"

using namespace quire::systest;
using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

namespace {

// Room for the flood's descriptors in this process (the service's are the service's own).
void raise_fd_limit(rlim_t want) {
  rlimit r{};
  ::getrlimit(RLIMIT_NOFILE, &r);
  if (r.rlim_cur < want) {
    r.rlim_cur = std::min(want, r.rlim_max);
    ::setrlimit(RLIMIT_NOFILE, &r);
  }
}

int socket_from(const std::string& source) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in s{};
  s.sin_family = AF_INET;
  ::inet_pton(AF_INET, source.c_str(), &s.sin_addr);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&s), sizeof s) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// Idle connections from `source`: connected and never written to, closed when this goes away.
class idle_flood {
 public:
  idle_flood(const std::string& source, int port, int count) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<std::uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    for (int i = 0; i < count; ++i) {
      int fd = socket_from(source);
      if (fd < 0) break;
      ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);  // EINPROGRESS: the handshake goes on
      fds_.push_back(fd);
    }
  }
  ~idle_flood() {
    for (int fd : fds_) ::close(fd);
  }
  // Handshakes completed (connected, whatever the server did next); waits up to `guard` for all.
  int established(std::chrono::milliseconds guard) const {
    const auto until = clock_type::now() + guard;
    int done = 0;
    for (int fd : fds_) {
      pollfd p{fd, POLLOUT, 0};
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - clock_type::now()).count();
      if (::poll(&p, 1, static_cast<int>(std::max<long long>(0, left))) == 1) ++done;
    }
    return done;
  }
  int size() const { return static_cast<int>(fds_.size()); }

 private:
  std::vector<int> fds_;
};

struct timed_response {
  http_response r;
  std::chrono::milliseconds took{};
};

// One request from `source` (bound before connect), given up after `timeout`: status 0 then.
timed_response request_from(const std::string& source, int port, const std::string& method, const std::string& target,
                            std::chrono::milliseconds timeout, const std::map<std::string, std::string>& headers = {},
                            const std::string& body = {}) {
  timed_response out;
  const auto start = clock_type::now(), until = start + timeout;
  auto left = [&] {
    return static_cast<int>(std::max<long long>(
        0, std::chrono::duration_cast<std::chrono::milliseconds>(until - clock_type::now()).count()));
  };
  int fd = socket_from(source);
  REQUIRE(fd >= 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  pollfd w{fd, POLLOUT, 0};
  std::string raw;
  if (::poll(&w, 1, left()) == 1) {
    std::string req = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n";
    for (const auto& [k, v] : headers) req += k + ": " + v + "\r\n";
    if (!body.empty() || method == "POST") req += "Content-Length: " + std::to_string(body.size()) + "\r\n";
    req += "\r\n" + body;
    std::size_t off = 0;
    while (off < req.size() && left() > 0) {
      ssize_t n = ::send(fd, req.data() + off, req.size() - off, MSG_NOSIGNAL);
      if (n > 0) {
        off += static_cast<std::size_t>(n);
      } else if (n < 0 && errno == EAGAIN) {
        pollfd p{fd, POLLOUT, 0};
        ::poll(&p, 1, left());
      } else {
        break;
      }
    }
    char buf[65536];
    for (;;) {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, left()) != 1) break;
      ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) break;
      raw.append(buf, static_cast<std::size_t>(n));
    }
  }
  ::close(fd);
  out.took = std::chrono::duration_cast<std::chrono::milliseconds>(clock_type::now() - start);
  out.r = parse_response(raw);
  return out;
}

// /livez `rounds` times on `port` from `source`; the slowest answer (a miss counts as `timeout`).
std::chrono::milliseconds slowest_livez(const std::string& source, int port, int rounds,
                                        std::chrono::milliseconds* median = nullptr) {
  std::vector<std::chrono::milliseconds> took;
  for (int i = 0; i < rounds; ++i) {
    auto t = request_from(source, port, "GET", "/livez", 2s);
    took.push_back(t.r.status == 200 ? t.took : 2000ms);
  }
  std::sort(took.begin(), took.end());
  if (median) *median = took[took.size() / 2];
  return took.back();
}

std::string sample_submit_body(const std::string& boundary) {
  return "--" + boundary + "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"doc.pdf\"\r\n" +
         "Content-Type: application/pdf\r\n\r\n" + slurp(std::string(QUIRE_SOURCE_DIR) + "/docker/sample/sample.pdf") +
         "\r\n--" + boundary + "--\r\n";
}

}  // namespace

TEST_CASE("5,000 idle connections from one client: probes answer at once and other clients are served",
          "[connections]") {
  raise_fd_limit(20000);
  lane l("conns_one_peer");  // the defaults: QUIRE_MAX_CONNECTIONS 1024, _PER_PEER 256, idle 60 s
  l.svc.start();
  REQUIRE(l.svc.wait_ready(30s));
  const int port = l.svc.port(), probe = l.svc.probe_port();

  std::optional<idle_flood> flood;
  flood.emplace("127.0.0.1", port, 5000);
  REQUIRE(flood->size() == 5000);
  const int established = flood->established(10s);
  std::this_thread::sleep_for(1s);  // the service works through its accept queue meanwhile

  std::chrono::milliseconds probe_median{}, main_median{};
  const auto probe_slowest = slowest_livez("127.0.0.1", probe, 20, &probe_median);
  const auto main_slowest = slowest_livez("127.0.0.2", port, 20, &main_median);
  const auto readyz = request_from("127.0.0.1", probe, "GET", "/readyz", 2s);
  const std::string boundary = "connsB0undary";
  const auto submitted = request_from("127.0.0.2", port, "POST", "/v1/convert/jobs", 10s,
                                      {{"Content-Type", "multipart/form-data; boundary=" + boundary}},
                                      sample_submit_body(boundary));
  const double held = metric(probe, "quire_http_connections");
  const double refused = metric(probe, "quire_http_connections_refused_total{reason=\"per_peer\"}");
  std::printf("one peer, %d idle connections (%d established): held %.0f, refused %.0f; /livez probe port "
              "median %lld ms slowest %lld ms; main port from 127.0.0.2 median %lld ms slowest %lld ms; "
              "submit %d in %lld ms\n",
              flood->size(), established, held, refused, static_cast<long long>(probe_median.count()),
              static_cast<long long>(probe_slowest.count()), static_cast<long long>(main_median.count()),
              static_cast<long long>(main_slowest.count()), submitted.r.status,
              static_cast<long long>(submitted.took.count()));

  CHECK(established == 5000);
  CHECK(probe_median < 100ms);
  CHECK(probe_slowest < 500ms);
  CHECK(main_median < 100ms);
  CHECK(main_slowest < 1000ms);
  CHECK(readyz.r.status == 200);
  CHECK(submitted.r.status == 202);
  CHECK(held >= 256);   // the flood holds its share ...
  CHECK(held <= 256 + 2);  // ... and no more (+ this test's own requests in flight)
  CHECK(refused >= 5000 - 256 - 10);
  // The same client is not locked out for good: once its idle connections go, it is served again.
  flood.reset();
  bool again = false;
  for (int i = 0; i < 50 && !again; ++i) {
    again = request_from("127.0.0.1", port, "GET", "/livez", 1s).r.status == 200;
    if (!again) std::this_thread::sleep_for(100ms);
  }
  CHECK(again);
  CHECK(metric(probe, "quire_http_connections") <= 2);
}

TEST_CASE("idle connections from many clients fill QUIRE_LISTEN, and the probe listener still answers",
          "[connections]") {
  raise_fd_limit(20000);
  lane l("conns_many_peers", {{"QUIRE_MAX_CONNECTIONS", "300"}, {"QUIRE_MAX_CONNECTIONS_PER_PEER", "100"}});
  l.svc.start();
  REQUIRE(l.svc.wait_ready(30s));
  const int port = l.svc.port(), probe = l.svc.probe_port();

  std::vector<std::unique_ptr<idle_flood>> floods;  // 10 peers × 100: every slot of QUIRE_LISTEN and more
  for (int i = 10; i < 20; ++i) floods.push_back(std::make_unique<idle_flood>("127.0.0." + std::to_string(i), port, 100));
  for (auto& f : floods) f->established(5s);
  std::this_thread::sleep_for(1s);

  std::chrono::milliseconds median{};
  const auto slowest = slowest_livez("127.0.0.1", probe, 20, &median);
  const auto main_port = request_from("127.0.0.2", port, "GET", "/livez", 1s);
  int rc = 0;
  const auto t0 = clock_type::now();
  const auto out = run_capture("QUIRE_LISTEN=127.0.0.1:" + std::to_string(port) + " QUIRE_PROBE_LISTEN=127.0.0.1:" +
                                   std::to_string(probe) + " " + quire_bin() + " healthcheck 2>&1",
                               &rc);
  const auto hc_ms = std::chrono::duration_cast<std::chrono::milliseconds>(clock_type::now() - t0).count();
  const double held = metric(probe, "quire_http_connections");
  std::printf("10 peers x 100 idle connections, QUIRE_MAX_CONNECTIONS=300: held %.0f; /livez probe port median "
              "%lld ms slowest %lld ms; quire healthcheck rc %d in %lld ms; main port /livez from a new peer: %d "
              "after %lld ms\n",
              held, static_cast<long long>(median.count()), static_cast<long long>(slowest.count()), rc,
              static_cast<long long>(hc_ms), main_port.r.status, static_cast<long long>(main_port.took.count()));
  CHECK(held == 300);  // QUIRE_LISTEN is full: new connections there wait for a slot (the known limit)
  CHECK(median < 100ms);
  CHECK(slowest < 500ms);
  CHECK(rc == 0);
  INFO(out);
}
