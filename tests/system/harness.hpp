// Helpers for the service's system tests: the real `quire` binary (QUIRE_BIN) against the real
// PostgreSQL that scripts/test starts (QUIRE_TEST_DATABASE_URL). Each test makes its own database
// and data root, runs `quire serve` as a child process and talks HTTP to it over loopback.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace quire::systest {

std::string env_or_skip(const char* name);  // throws a clear error when the variable is unset
std::string quire_bin();
std::string slurp(const std::string& path);
std::string run_capture(const std::string& shell_command, int* exit_code = nullptr);

// A new empty database on the test server; returns its URL.
std::string fresh_database(const std::string& prefix);
// Applies the embedded migrations and binds the database to `profile` (what `quire migrate` does).
int quire_migrate(const std::string& url, const std::string& profile);
std::string temp_dir(const std::string& prefix);
int free_port();

struct http_response {
  int status = 0;
  std::map<std::string, std::string> headers;  // lowercased names
  std::string body;
  nlohmann::json json() const { return nlohmann::json::parse(body, nullptr, false); }
};
http_response http(int port, const std::string& method, const std::string& target,
                   const std::map<std::string, std::string>& headers = {}, const std::string& body = {});
// multipart/form-data with a "file" part and an optional "job_spec" part.
http_response submit(int port, const std::string& pdf, const std::string& job_spec = {},
                     std::map<std::string, std::string> headers = {}, const std::string& query = {});

// Parses "HTTP/1.1 NNN ...\r\nheaders\r\n\r\nbody"; status 0 when no complete head arrived.
http_response parse_response(const std::string& raw);

// A raw TCP connection to 127.0.0.1:port, for what http() cannot do: send part of a request, send
// it at a chosen pace, declare one body and send another, or see that the server hung up.
class raw_connection {
 public:
  explicit raw_connection(int port);
  ~raw_connection();
  raw_connection(const raw_connection&) = delete;
  raw_connection& operator=(const raw_connection&) = delete;
  bool connected() const { return fd_ >= 0; }
  // false once the peer has closed or reset the connection.
  bool send(const std::string& bytes);
  // Reads until the server closes the connection (true) or `guard` passes (false: still open);
  // what arrived is appended to `received`.
  bool wait_closed(std::chrono::milliseconds guard, std::string* received = nullptr);

 private:
  int fd_ = -1;
};

// One psql query against `url` (-tA: bare values, one row per line); throws when psql fails.
std::string psql(const std::string& url, const std::string& sql);
// Regular files under `root`, relative to it, sorted.
std::vector<std::string> files_under(const std::string& root);
// The data root's files minus the service's own bookkeeping (the root marker, and the write probe
// the readiness check creates and removes every round): what requests may have left behind.
std::vector<std::string> data_files(const std::string& root);
// The value of an unlabelled sample in the service's /metrics ("name value"); -1 when absent.
double metric(int port, const std::string& name);

class service {
 public:
  // QUIRE_* settings; QUIRE_LISTEN is added, and QUIRE_PROBE_LISTEN (on probe_port()) unless given.
  service(std::map<std::string, std::string> env);
  ~service();
  void start();
  bool wait_ready(std::chrono::seconds timeout);
  // Polls /readyz until `pred(body)` holds; false on timeout.
  bool wait_readyz(const std::function<bool(const nlohmann::json&)>& pred, std::chrono::seconds timeout);
  std::vector<std::string> failing_reasons();
  void signal(int sig);
  void kill9();
  int wait_exit(std::chrono::seconds timeout);  // exit status, -1 on timeout, 128+sig when signaled
  std::vector<pid_t> worker_pids() const;
  nlohmann::json wait_job(const std::string& id, const std::vector<std::string>& states, std::chrono::seconds timeout);
  int port() const { return port_; }
  int probe_port() const { return probe_port_; }
  pid_t pid() const { return pid_; }
  std::string log() const;
  std::map<std::string, std::string> env;

 private:
  int port_;
  int probe_port_;  // a free port of its own: QUIRE_LISTEN's port + 1 (the default) may be taken
  pid_t pid_ = -1;
  std::string log_path_;
};

// A PDF from the public corpus, optionally with a test-hook marker appended (see cmd_worker.cpp).
std::string sample_pdf(const std::string& hook = {});
std::string sample_pdf_path();

}  // namespace quire::systest
