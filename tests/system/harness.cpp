#include "harness.hpp"

#include "storage/migrator.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace quire::systest {
namespace fs = std::filesystem;

std::string env_or_skip(const char* name) {
  const char* v = std::getenv(name);
  if (!v || !*v) throw std::runtime_error(std::string(name) + " is not set: run these tests through scripts/test");
  return v;
}

std::string quire_bin() { return env_or_skip("QUIRE_BIN"); }

std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::string run_capture(const std::string& cmd, int* exit_code) {
  std::string out;
  FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
  if (!p) throw std::runtime_error("popen failed: " + cmd);
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  int st = ::pclose(p);
  if (exit_code) *exit_code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return out;
}

static std::string random_suffix() {
  static std::mt19937_64 rng{std::random_device{}()};
  return std::to_string(rng() % 100000000);
}

std::string fresh_database(const std::string& prefix) {
  const std::string admin = env_or_skip("QUIRE_TEST_DATABASE_URL");
  const std::string name = prefix + "_" + random_suffix();
  int rc = 0;
  auto out = run_capture("psql -q -v ON_ERROR_STOP=1 '" + admin + "' -c 'CREATE DATABASE " + name + "'", &rc);
  if (rc != 0) throw std::runtime_error("createdb failed: " + out);
  auto slash = admin.rfind('/');
  return admin.substr(0, slash + 1) + name;
}

int quire_migrate(const std::string& url, const std::string& profile) {
  // The same calls as `quire migrate --profile P` (storage/migrator.hpp).
  auto m = storage::migrate(url);
  if (!m) return 1;
  return storage::bind_deployment(url, profile) ? 0 : 1;
}

std::string temp_dir(const std::string& prefix) {
  std::string t = "/tmp/quire-sys-" + prefix + "-XXXXXX";
  char* p = ::mkdtemp(t.data());
  if (!p) throw std::runtime_error("mkdtemp failed");
  return p;
}

int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  int port = ntohs(a.sin_port);
  ::close(fd);
  return port;
}

http_response http(int port, const std::string& method, const std::string& target,
                   const std::map<std::string, std::string>& headers, const std::string& body) {
  http_response r;  // status 0: not listening, or closed without an answer
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  timeval tv{30, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return r;  // status 0: not listening
  }
  std::string req = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n";
  for (const auto& [k, v] : headers) req += k + ": " + v + "\r\n";
  if (!body.empty() || method == "POST") req += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  req += "\r\n" + body;
  std::size_t off = 0;
  while (off < req.size()) {
    ssize_t n = ::send(fd, req.data() + off, req.size() - off, MSG_NOSIGNAL);
    if (n <= 0) break;
    off += static_cast<std::size_t>(n);
  }
  std::string raw;
  char buf[65536];
  ssize_t n;
  while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0) raw.append(buf, static_cast<std::size_t>(n));
  ::close(fd);
  return parse_response(raw);
}

http_response parse_response(const std::string& raw) {
  http_response r;
  auto head_end = raw.find("\r\n\r\n");
  if (head_end == std::string::npos) return r;
  std::istringstream head(raw.substr(0, head_end));
  std::string line;
  std::getline(head, line);
  if (line.size() > 12) r.status = std::stoi(line.substr(9, 3));
  while (std::getline(head, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string k = line.substr(0, colon);
    for (auto& c : k) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    r.headers[k] = line.substr(colon + 2);
  }
  r.body = raw.substr(head_end + 4);
  return r;
}

http_response submit(int port, const std::string& pdf, const std::string& job_spec,
                     std::map<std::string, std::string> headers, const std::string& query) {
  const std::string b = "quireBoundary7d1";
  std::string body;
  if (!job_spec.empty())
    body += "--" + b + "\r\nContent-Disposition: form-data; name=\"job_spec\"\r\n\r\n" + job_spec + "\r\n";
  body += "--" + b + "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"doc.pdf\"\r\n"
          "Content-Type: application/pdf\r\n\r\n" + pdf + "\r\n--" + b + "--\r\n";
  headers["Content-Type"] = "multipart/form-data; boundary=" + b;
  return http(port, "POST", "/v1/convert/jobs" + query, headers, body);
}

raw_connection::raw_connection(int port) {
  fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd_ >= 0 && ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd_);
    fd_ = -1;
  }
}

raw_connection::~raw_connection() {
  if (fd_ >= 0) ::close(fd_);
}

bool raw_connection::send(const std::string& bytes) {
  std::size_t off = 0;
  while (fd_ >= 0 && off < bytes.size()) {
    ssize_t n = ::send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return false;
    off += static_cast<std::size_t>(n);
  }
  return fd_ >= 0;
}

bool raw_connection::wait_closed(std::chrono::milliseconds guard, std::string* received) {
  if (fd_ < 0) return true;
  const auto until = std::chrono::steady_clock::now() + guard;
  std::string got;
  bool closed = false;
  while (std::chrono::steady_clock::now() < until) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, 20) <= 0) continue;
    char buf[65536];
    ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n > 0) {
      got.append(buf, static_cast<std::size_t>(n));
      continue;
    }
    closed = true;  // 0: orderly close; <0: reset
    break;
  }
  if (received) *received += got;
  return closed;
}

std::string psql(const std::string& url, const std::string& sql) {
  int rc = 0;
  auto out = run_capture("psql -qtA -v ON_ERROR_STOP=1 '" + url + "' -c \"" + sql + "\"", &rc);
  if (rc != 0) throw std::runtime_error("psql failed (" + sql + "): " + out);
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return out;
}

std::vector<std::string> files_under(const std::string& root) {
  std::vector<std::string> out;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(root, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec))
    if (it->is_regular_file(ec)) out.push_back(fs::relative(it->path(), root).string());
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> data_files(const std::string& root) {
  std::vector<std::string> out;
  for (auto& f : files_under(root))
    if (f != ".quire-root.json" && f.rfind("tmp/.quire-", 0) != 0) out.push_back(f);
  return out;
}

double metric(int port, const std::string& name) {
  std::istringstream text(http(port, "GET", "/metrics").body);
  std::string line;
  while (std::getline(text, line))
    if (line.rfind(name + " ", 0) == 0) return std::stod(line.substr(name.size() + 1));
  return -1;
}

service::service(std::map<std::string, std::string> e) : env(std::move(e)), port_(free_port()), probe_port_(free_port()) {
  while (probe_port_ == port_) probe_port_ = free_port();
  log_path_ = temp_dir("log") + "/serve.log";
}

service::~service() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
}

void service::start() {
  std::vector<std::string> envs;
  for (char** e = environ; *e; ++e)
    if (std::string(*e).rfind("QUIRE_", 0) != 0) envs.emplace_back(*e);  // no leaking test vars
  auto merged = env;
  merged["QUIRE_LISTEN"] = "127.0.0.1:" + std::to_string(port_);
  merged.emplace("QUIRE_PROBE_LISTEN", "127.0.0.1:" + std::to_string(probe_port_));
  for (const auto& [k, v] : merged) envs.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (auto& s : envs) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::string bin = quire_bin();
  std::string serve = "serve";
  char* argv[] = {bin.data(), serve.data(), nullptr};
  pid_ = ::fork();
  if (pid_ == 0) {
    int fd = ::open(log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    ::execve(argv[0], argv, envp.data());
    ::_exit(127);
  }
}

bool service::wait_readyz(const std::function<bool(const nlohmann::json&)>& pred, std::chrono::seconds timeout) {
  auto until = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < until) {
    auto r = http(port_, "GET", "/readyz");
    if (r.status != 0) {
      auto j = r.json();
      if (!j.is_discarded() && pred(j)) return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

bool service::wait_ready(std::chrono::seconds timeout) {
  return wait_readyz([](const nlohmann::json& j) { return j.value("status", "") == "ready"; }, timeout);
}

std::vector<std::string> service::failing_reasons() {
  std::vector<std::string> out;
  auto j = http(port_, "GET", "/readyz").json();
  if (j.is_discarded()) return out;
  for (const auto& r : j["reasons"]) out.push_back(r.value("code", ""));
  return out;
}

void service::signal(int sig) { ::kill(pid_, sig); }

void service::kill9() {
  ::kill(pid_, SIGKILL);
  ::waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

int service::wait_exit(std::chrono::seconds timeout) {
  auto until = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < until) {
    int st = 0;
    if (::waitpid(pid_, &st, WNOHANG) == pid_) {
      pid_ = -1;
      return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return -1;
}

std::vector<pid_t> service::worker_pids() const {
  std::vector<pid_t> out;
  std::error_code ec;
  for (const auto& t : fs::directory_iterator("/proc/" + std::to_string(pid_) + "/task", ec)) {
    std::istringstream kids(slurp((t.path() / "children").string()));
    pid_t p;
    while (kids >> p) out.push_back(p);
  }
  return out;
}

nlohmann::json service::wait_job(const std::string& id, const std::vector<std::string>& states,
                                 std::chrono::seconds timeout) {
  auto until = std::chrono::steady_clock::now() + timeout;
  nlohmann::json last;
  while (std::chrono::steady_clock::now() < until) {
    auto r = http(port_, "GET", "/v1/convert/jobs/" + id + "?wait_seconds=1", env.count("QUIRE_API_KEYS") ? std::map<std::string, std::string>{{"X-API-Key", env.at("QUIRE_API_KEYS")}} : std::map<std::string, std::string>{});
    auto j = r.json();
    if (r.status == 200 && !j.is_discarded()) {
      last = j["job"];
      for (const auto& s : states)
        if (last.value("status", "") == s) return last;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return last;
}

std::string service::log() const { return slurp(log_path_); }

std::string sample_pdf_path() {
  const char* eval = std::getenv("QUIRE_EVAL_DIR");
  std::string dir = eval && *eval ? eval : std::string(QUIRE_SOURCE_DIR) + "/../shared/eval";
  std::string p = dir + "/corpus/code_listings.pdf";
  if (fs::exists(p)) return p;
  return std::string(QUIRE_SOURCE_DIR) + "/docker/sample/sample.pdf";
}

std::string sample_pdf(const std::string& hook) {
  std::string pdf = slurp(sample_pdf_path());
  if (!hook.empty()) pdf += "\n%" + hook + "\n";  // a trailing comment: still a valid PDF
  return pdf;
}

}  // namespace quire::systest
