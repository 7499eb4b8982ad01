// api_bench — load driver for a running `quire serve` (see bench/api_bench.sh and bench/README.md).
//
//   api_bench submit --port P --pdf FILE [--clients 64] [--seconds 10] [--key K] [--keep-alive] [--rate R]
//                    [--warmup S]
//       64 clients each submit the PDF in a loop (one connection per request, like most clients;
//       --keep-alive: each client keeps one HTTP/1.1 connection open instead); prints submit
//       latency p50/p90/p99/max and accepted jobs/s as JSON. --rate R: open loop, the clients
//       together send R requests/s on a fixed schedule (latency from each request's due time).
//       --warmup S: the load runs S seconds before the measured `seconds` start; what was sent
//       then is reported apart (warmup_latency_ms, accepted_including_warmup), not measured.
//   api_bench e2e --port P --key K FILE... [--repeat R]
//       submits every FILE R times as fast as it can, then waits until every job is terminal;
//       prints jobs/s and pages/s from first submit to last success.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

using clock_type = std::chrono::steady_clock;

struct reply {
  int status = 0;
  std::string body;
};

// A TCP connection to 127.0.0.1:port with Nagle off, or -1.
int connect_loopback(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

bool send_all(int fd, const std::string& data) {
  for (std::size_t off = 0; off < data.size();) {
    ssize_t n = ::send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return false;
    off += static_cast<std::size_t>(n);
  }
  return true;
}

reply request(int port, const std::string& method, const std::string& target, const std::string& key,
              const std::string& content_type = {}, const std::string& body = {}) {
  reply r;
  const int fd = connect_loopback(port);
  if (fd < 0) return r;
  std::string req = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n";
  if (!key.empty()) req += "X-API-Key: " + key + "\r\n";
  if (!content_type.empty()) req += "Content-Type: " + content_type + "\r\n";
  if (method == "POST") req += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  req += "\r\n" + body;
  send_all(fd, req);
  std::string raw;
  char buf[16384];
  ssize_t n;
  while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0) raw.append(buf, static_cast<std::size_t>(n));
  ::close(fd);
  if (raw.size() > 12) r.status = std::atoi(raw.c_str() + 9);
  auto p = raw.find("\r\n\r\n");
  if (p != std::string::npos) r.body = raw.substr(p + 4);
  return r;
}

// One client's persistent HTTP/1.1 connection (--keep-alive). Reconnects when the server closes it.
class keepalive_conn {
 public:
  explicit keepalive_conn(int port) : port_(port) {}
  ~keepalive_conn() { close_fd(); }
  reply post(const std::string& target, const std::string& key, const std::string& content_type,
             const std::string& body) {
    std::string req = "POST " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
    if (!key.empty()) req += "X-API-Key: " + key + "\r\n";
    req += "Content-Type: " + content_type + "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
    for (int attempt = 0; attempt < 2; ++attempt) {
      if (fd_ < 0 && !connect_fd()) return {};
      reply r;
      if (send_all(fd_, req) && read_reply(r)) return r;
      close_fd();  // closed by the server between requests: once more on a new connection
    }
    return {};
  }

 private:
  bool connect_fd() {
    fd_ = connect_loopback(port_);
    buf_.clear();
    return fd_ >= 0;
  }
  void close_fd() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  bool fill() {
    char tmp[16384];
    ssize_t n = ::recv(fd_, tmp, sizeof tmp, 0);
    if (n <= 0) return false;
    buf_.append(tmp, static_cast<std::size_t>(n));
    return true;
  }
  // Status line + headers, then exactly Content-Length bytes of body.
  bool read_reply(reply& r) {
    std::size_t end;
    while ((end = buf_.find("\r\n\r\n")) == std::string::npos)
      if (!fill()) return false;
    const std::string head = buf_.substr(0, end);
    std::size_t length = 0;
    for (std::size_t p = head.find("\r\n"); p != std::string::npos; p = head.find("\r\n", p + 2)) {
      std::string line = head.substr(p + 2, head.find("\r\n", p + 2) - p - 2);
      std::transform(line.begin(), line.end(), line.begin(), [](unsigned char c) { return std::tolower(c); });
      if (line.rfind("content-length:", 0) == 0) length = std::strtoul(line.c_str() + 15, nullptr, 10);
    }
    while (buf_.size() < end + 4 + length)
      if (!fill()) return false;
    r.status = head.size() > 12 ? std::atoi(head.c_str() + 9) : 0;
    r.body = buf_.substr(end + 4, length);
    buf_.erase(0, end + 4 + length);
    if (head.find("onnection: close") != std::string::npos) close_fd();
    return true;
  }
  int port_;
  int fd_ = -1;
  std::string buf_;
};

std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

double pct(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())))];
}

// rate > 0: open loop. The clients together send `rate` requests per second on a fixed schedule
// (client i's k-th request is due at start + (k * clients + i) / rate), and latency counts from
// the due time, so a server that falls behind is charged for the wait it causes (no coordinated
// omission). rate == 0: closed loop, each client sends its next request when the last is answered.
int run_submit(int port, const std::string& pdf, int clients, double seconds, const std::string& key,
               bool keep_alive, double rate, double warmup) {
  std::atomic<bool> stop{false};
  std::mutex mu;
  std::vector<double> lat_ms, warm_ms;
  std::atomic<long> accepted{0}, refused{0}, errors{0}, warm_accepted{0};
  std::vector<std::thread> threads;
  const auto start = clock_type::now();
  const auto measured_from = start + std::chrono::duration_cast<clock_type::duration>(std::chrono::duration<double>(warmup));
  for (int i = 0; i < clients; ++i)
    threads.emplace_back([&, i] {
      std::vector<double> mine, warm;
      keepalive_conn conn(port);
      for (long k = 0; !stop.load(); ++k) {
        auto t0 = clock_type::now();
        if (rate > 0) {
          const auto due = start + std::chrono::duration_cast<clock_type::duration>(
                                       std::chrono::duration<double>((static_cast<double>(k) * clients + i) / rate));
          if (due > t0) std::this_thread::sleep_until(due);
          if (stop.load()) break;
          t0 = due;
        }
        auto r = keep_alive ? conn.post("/v1/convert/jobs", key, "application/pdf", pdf)
                            : request(port, "POST", "/v1/convert/jobs", key, "application/pdf", pdf);
        const double ms = std::chrono::duration<double, std::milli>(clock_type::now() - t0).count();
        if (t0 < measured_from) {  // sent during the warm-up: reported apart
          warm.push_back(ms);
          if (r.status == 202) ++warm_accepted;
          continue;
        }
        mine.push_back(ms);
        if (r.status == 202) ++accepted;
        else if (r.status == 503) ++refused;
        else ++errors;
      }
      std::lock_guard l(mu);
      lat_ms.insert(lat_ms.end(), mine.begin(), mine.end());
      warm_ms.insert(warm_ms.end(), warm.begin(), warm.end());
    });
  std::this_thread::sleep_until(measured_from);
  const auto measuring = clock_type::now();
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  for (auto& t : threads) t.join();
  const double elapsed = std::chrono::duration<double>(clock_type::now() - measuring).count();
  nlohmann::json out = {{"clients", clients},
                        {"connections", keep_alive ? "keep-alive" : "new per request"},
                        {"offered_per_second", rate > 0 ? nlohmann::json(rate) : nlohmann::json("closed loop")},
                        {"seconds", elapsed},
                        {"requests", lat_ms.size()},
                        {"accepted", accepted.load()},
                        {"refused_503", refused.load()},
                        {"errors", errors.load()},
                        {"accepted_per_second", static_cast<double>(accepted.load()) / elapsed},
                        {"latency_ms", {{"p50", pct(lat_ms, 0.50)}, {"p90", pct(lat_ms, 0.90)},
                                        {"p99", pct(lat_ms, 0.99)}, {"max", pct(lat_ms, 1.0)}}},
                        {"warmup_seconds", warmup},
                        {"accepted_including_warmup", accepted.load() + warm_accepted.load()}};
  if (!warm_ms.empty())
    out["warmup_latency_ms"] = {{"p50", pct(warm_ms, 0.50)}, {"p99", pct(warm_ms, 0.99)}, {"max", pct(warm_ms, 1.0)}};
  std::printf("%s\n", out.dump(2).c_str());
  return errors.load() == 0 ? 0 : 1;
}

int run_e2e(int port, const std::vector<std::string>& files, int repeat, const std::string& key) {
  std::vector<std::string> pdfs;
  for (const auto& f : files) pdfs.push_back(slurp(f));
  std::vector<std::string> ids;
  const auto start = clock_type::now();
  for (int r = 0; r < repeat; ++r)
    for (const auto& pdf : pdfs) {
      auto res = request(port, "POST", "/v1/convert/jobs", key, "application/pdf", pdf);
      auto j = nlohmann::json::parse(res.body, nullptr, false);
      if (res.status != 202 || j.is_discarded()) {
        std::fprintf(stderr, "submit failed: %d %s\n", res.status, res.body.c_str());
        return 1;
      }
      ids.push_back(j["job"]["job_id"].get<std::string>());
    }
  long pages = 0, failed = 0;
  for (const auto& id : ids) {
    for (;;) {
      auto res = request(port, "GET", "/v1/convert/jobs/" + id + "?wait_seconds=20", key);
      auto j = nlohmann::json::parse(res.body, nullptr, false);
      if (j.is_discarded()) continue;
      auto st = j["job"].value("status", "");
      if (st == "succeeded") {
        pages += j["job"]["progress"].value("pages_done", 0);
        break;
      }
      if (st == "failed" || st == "canceled") {
        ++failed;
        break;
      }
    }
  }
  const double elapsed = std::chrono::duration<double>(clock_type::now() - start).count();
  nlohmann::json out = {{"jobs", ids.size()}, {"failed", failed}, {"pages", pages}, {"seconds", elapsed},
                        {"jobs_per_second", static_cast<double>(ids.size()) / elapsed},
                        {"pages_per_second", static_cast<double>(pages) / elapsed}};
  std::printf("%s\n", out.dump(2).c_str());
  return failed == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: api_bench submit|e2e --port P [options] (see the source header)\n");
    return 2;
  }
  std::string mode = argv[1], key, pdf;
  int port = 0, clients = 64, repeat = 1;
  bool keep_alive = false;
  double seconds = 10, rate = 0, warmup = 0;
  std::vector<std::string> files;
  for (int i = 2; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (a == "--port") port = std::atoi(next().c_str());
    else if (a == "--clients") clients = std::atoi(next().c_str());
    else if (a == "--seconds") seconds = std::atof(next().c_str());
    else if (a == "--repeat") repeat = std::atoi(next().c_str());
    else if (a == "--key") key = next();
    else if (a == "--pdf") pdf = next();
    else if (a == "--keep-alive") keep_alive = true;
    else if (a == "--rate") rate = std::atof(next().c_str());
    else if (a == "--warmup") warmup = std::atof(next().c_str());
    else files.push_back(a);
  }
  if (port <= 0) return 2;
  if (mode == "submit") return run_submit(port, slurp(pdf), clients, seconds, key, keep_alive, rate, warmup);
  if (mode == "e2e") return run_e2e(port, files, repeat, key);
  return 2;
}
