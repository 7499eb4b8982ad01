// Spawning and supervising `quire worker`; see worker_process.hpp for the protocol.
#include "actors/worker_process.hpp"

#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>

extern char** environ;

namespace quire::actors {
namespace {

using steady = std::chrono::steady_clock;

bool write_all(int fd, const std::string& data) {
  std::size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;  // EPIPE: the child is gone (SIGPIPE is ignored by serve)
    off += static_cast<std::size_t>(n);
  }
  return true;
}

void close_fd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

namespace fs = std::filesystem;
constexpr uid_t kNobody = 65534;

}  // namespace

bool kept_environment(const std::string& name) {
  static const char* const kept[] = {"PATH", "LANG", "LANGUAGE", "TZ", "TESSDATA_PREFIX", "OMP_THREAD_LIMIT",
                                     "OMP_NUM_THREADS", "CUDA_VISIBLE_DEVICES", "CUDA_DEVICE_ORDER",
                                     "NVIDIA_VISIBLE_DEVICES", "LD_LIBRARY_PATH", "QUIRE_LOG_LEVEL",
                                     "QUIRE_LOG_FORMAT", "QUIRE_WORKER_TEST_HOOKS", "ASAN_OPTIONS",
                                     "UBSAN_OPTIONS", "LSAN_OPTIONS", "TSAN_OPTIONS"};
  for (const char* k : kept)
    if (name == k) return true;
  return name.rfind("LC_", 0) == 0;
}

quire::status worker_process::make_scratch() {
  remove_scratch();
  drop_to_nobody_ = ::geteuid() == 0;
  std::string parent = iso_.scratch_parent;
  std::error_code ec;
  if (drop_to_nobody_) {
    // nobody may not be able to traverse the data root (a 0700 directory of root's): its scratch
    // lives in the system's temporary directory instead (inputs are then copied, not linked).
    parent = (fs::temp_directory_path(ec) / "quire-workers").string();
    if (::mkdir(parent.c_str(), 0711) != 0 && errno != EEXIST)
      return quire::error{errc::worker_unavailable, "cannot make " + parent + ": " + std::strerror(errno)};
  }
  // One serial for the whole process: every converter's worker gets a directory of its own (a
  // per-object count gave two converters the same one, and each start removed the other's input).
  static std::atomic<unsigned> serial{0};
  scratch_ = parent + "/worker-" + std::to_string(::getpid()) + "-" + std::to_string(++serial);
  fs::remove_all(scratch_, ec);
  for (const char* sub : {"", "/in", "/out", "/tmp"}) {
    const std::string dir = scratch_ + sub;
    if (::mkdir(dir.c_str(), 0700) != 0 || (drop_to_nobody_ && ::chown(dir.c_str(), kNobody, kNobody) != 0)) {
      quire::error e{errc::worker_unavailable, "cannot make the worker's scratch directory " + dir + ": " + std::strerror(errno)};
      remove_scratch();
      return e;
    }
  }
  return quire::ok_v;
}

void worker_process::remove_scratch() {
  if (scratch_.empty()) return;
  std::error_code ec;
  fs::remove_all(scratch_, ec);
  scratch_.clear();
}

void worker_process::clear_scratch() {
  std::error_code ec;
  for (const char* sub : {"/in", "/out", "/tmp"})
    for (const auto& e : fs::directory_iterator(scratch_ + sub, ec)) fs::remove_all(e.path(), ec);
  // The sweeper removes what in tmp/ has not changed for an hour: this directory is in use.
  ::utimensat(AT_FDCWD, scratch_.c_str(), nullptr, 0);
}

// The input as in/input.pdf: a hard link (same file system as the data root, no copy), a copy
// where linking fails. The child may read it, never write it (Landlock). Answers the staged path,
// or errc::io_error.
quire::expected<std::string> worker_process::stage_input(const std::string& input) {
  std::string staged = scratch_ + "/in/input.pdf";
  std::error_code ec;
  fs::remove(staged, ec);
  if (::link(input.c_str(), staged.c_str()) == 0) return staged;
  if (!fs::copy_file(input, staged, ec) || (drop_to_nobody_ && ::chown(staged.c_str(), kNobody, kNobody) != 0))
    return quire::error{errc::io_error, "cannot stage the input for the worker: " +
                                            (ec ? ec.message() : std::string(std::strerror(errno)))};
  return staged;
}

// Moves what the child wrote in out/ into the job's output directory (same file system: renames).
// errc::io_error when something cannot be moved.
quire::status worker_process::collect_output(const std::string& output_dir) {
  std::error_code ec;
  fs::create_directories(output_dir, ec);
  for (const auto& e : fs::directory_iterator(scratch_ + "/out", ec)) {
    const fs::path target = fs::path(output_dir) / e.path().filename();
    fs::remove_all(target, ec);
    fs::rename(e.path(), target, ec);
    if (ec == std::errc::cross_device_link) {  // scratch in the temporary directory (root's workers)
      ec.clear();
      fs::copy(e.path(), target, fs::copy_options::recursive, ec);
    }
    if (ec)
      return quire::error{errc::io_error, "cannot move the worker's output " + e.path().string() + ": " + ec.message()};
  }
  if (ec) return quire::error{errc::io_error, "cannot list the worker's output: " + ec.message()};
  return quire::ok_v;
}

worker_process::worker_process(std::vector<std::string> argv, std::uint64_t memory_limit_bytes, int nice)
    : argv_(std::move(argv)), memory_limit_(memory_limit_bytes), nice_(nice) {}

worker_process::~worker_process() { stop(std::chrono::milliseconds(500)); }

quire::status worker_process::start(std::chrono::milliseconds ready_timeout) {
  auto unavailable = [](std::string why) { return quire::error{errc::worker_unavailable, std::move(why)}; };
  stop(std::chrono::milliseconds(0));
  int jobs[2], events[2];
  if (::pipe2(jobs, O_CLOEXEC) != 0) return unavailable(std::string("pipe: ") + std::strerror(errno));
  if (::pipe2(events, O_CLOEXEC) != 0) {
    auto e = unavailable(std::string("pipe: ") + std::strerror(errno));
    ::close(jobs[0]);
    ::close(jobs[1]);
    return e;
  }
  // Everything the child needs is prepared before fork: between fork and exec only
  // async-signal-safe calls are allowed (the service is multi-threaded).
  if (!iso_.scratch_parent.empty()) {
    if (auto made = make_scratch(); !made) {
      for (int fd : {jobs[0], jobs[1], events[0], events[1]}) ::close(fd);
      return made.err();
    }
  }
  const bool drop = !scratch_.empty() && drop_to_nobody_;
  sandbox_ = nullptr;
  std::vector<char*> args;
  for (auto& a : argv_) args.push_back(a.data());
  args.push_back(nullptr);
  // A clean environment: the service's secrets (QUIRE_DATABASE_URL, QUIRE_API_KEYS, …) never reach
  // the process that parses untrusted bytes.
  std::vector<std::string> env_store;
  for (char** e = environ; e && *e; ++e) {
    const std::string var(*e);
    const auto eq = var.find('=');
    if (eq != std::string::npos && kept_environment(var.substr(0, eq))) env_store.push_back(var);
  }
  if (!scratch_.empty()) {
    env_store.push_back("QUIRE_WORKER_SCRATCH=" + scratch_);
    env_store.push_back("TMPDIR=" + scratch_ + "/tmp");
  }
  std::vector<char*> envp;
  for (auto& v : env_store) envp.push_back(v.data());
  envp.push_back(nullptr);
  rlimit as{static_cast<rlim_t>(memory_limit_), static_cast<rlim_t>(memory_limit_)};
  const rlimit no_core{0, 0};
  const rlimit files{static_cast<rlim_t>(iso_.max_open_files), static_cast<rlim_t>(iso_.max_open_files)};
  const rlimit fsize{static_cast<rlim_t>(iso_.max_file_bytes), static_cast<rlim_t>(iso_.max_file_bytes)};
  const pid_t parent = ::getpid();

  pid_t pid = ::fork();
  if (pid < 0) {
    auto e = unavailable(std::string("fork: ") + std::strerror(errno));
    for (int fd : {jobs[0], jobs[1], events[0], events[1]}) ::close(fd);
    return e;
  }
  if (pid == 0) {
    // Die with the service rather than convert for nobody after a kill -9 of the parent.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    int in = ::fcntl(jobs[0], F_DUPFD, 10);
    int out = ::fcntl(events[1], F_DUPFD, 10);
    if (in < 0 || out < 0 || ::dup2(in, 3) < 0 || ::dup2(out, 4) < 0) ::_exit(127);
    int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) ::dup2(devnull, 0);
    ::dup2(2, 1);  // stray prints go to the log, never into the event stream
    ::syscall(SYS_close_range, 5u, ~0u, 0u);
    ::signal(SIGPIPE, SIG_DFL);
    ::signal(SIGXFSZ, SIG_IGN);  // a write past RLIMIT_FSIZE fails (EFBIG: io_error) instead of killing
    if (memory_limit_ > 0) ::setrlimit(RLIMIT_AS, &as);
    ::setrlimit(RLIMIT_CORE, &no_core);  // a crash leaves no image of a document's bytes behind
    if (iso_.max_open_files > 0) ::setrlimit(RLIMIT_NOFILE, &files);
    if (iso_.max_file_bytes > 0) ::setrlimit(RLIMIT_FSIZE, &fsize);
    // The raw system call: async-signal-safe, and this process only (not the parent's group).
    if (nice_ > 0) ::syscall(SYS_setpriority, PRIO_PROCESS, 0, nice_);
    if (drop) {
      // Root gives its workers away to nobody; a change of credentials clears the death signal.
      if (::setgroups(0, nullptr) != 0 || ::setgid(kNobody) != 0 || ::setuid(kNobody) != 0) ::_exit(126);
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) ::_exit(127);
    }
    ::execve(args[0], args.data(), envp.data());
    ::_exit(127);
  }
  ::close(jobs[0]);
  ::close(events[1]);
  pid_ = pid;
  to_child_ = jobs[1];
  from_child_ = events[0];
  buffer_.clear();

  std::string line;
  auto until = steady::now() + ready_timeout;
  for (;;) {
    auto st = read_line(line, until);
    if (st == read_status::line) {
      auto msg = nlohmann::json::parse(line, nullptr, false);
      if (!msg.is_discarded() && msg.value("event", "") == "ready") {
        sandbox_ = msg.value("sandbox", nlohmann::json());
        return quire::ok_v;
      }
      continue;
    }
    std::string why = st == read_status::timeout ? "worker did not become ready in time" : "worker exited at start";
    kill_now();
    if (st == read_status::eof) why += " (" + describe_exit(last_status_) + ")";
    return unavailable(std::move(why));
  }
}

worker_process::read_status worker_process::read_line(std::string& line, steady::time_point until) {
  for (;;) {
    auto nl = buffer_.find('\n');
    if (nl != std::string::npos) {
      line = buffer_.substr(0, nl);
      buffer_.erase(0, nl + 1);
      return read_status::line;
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - steady::now()).count();
    if (left <= 0) return read_status::timeout;
    pollfd p{from_child_, POLLIN, 0};
    int r = ::poll(&p, 1, static_cast<int>(left));
    if (r < 0 && errno == EINTR) continue;
    if (r == 0) return read_status::timeout;
    char buf[65536];
    ssize_t n = ::read(from_child_, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return read_status::eof;
    buffer_.append(buf, static_cast<std::size_t>(n));
  }
}

worker_outcome worker_process::run(const worker_job& job, const std::function<bool(int, int)>& tick) {
  worker_outcome out;
  if (pid_ <= 0) {
    out.code = "worker_unavailable";
    out.message = "no worker process";
    return out;
  }
  std::string input = job.input_path, output_dir = job.output_dir;
  if (!scratch_.empty()) {
    clear_scratch();
    quire::expected<std::string> staged = stage_input(job.input_path);
    if (!staged) {
      out.outcome = worker_outcome::kind::failed;
      out.code = std::string(to_string(staged.err().code));
      out.message = std::move(staged.err().message);
      return out;
    }
    input = std::move(*staged);
    output_dir = scratch_ + "/out";
  }
  out = run_staged(job, input, output_dir, tick);
  if (!scratch_.empty()) {
    if (out.outcome == worker_outcome::kind::succeeded) {
      if (quire::status collected = collect_output(job.output_dir); !collected) {
        out.outcome = worker_outcome::kind::failed;
        out.code = std::string(to_string(collected.err().code));
        out.message = std::move(collected.err().message);
      }
    }
    if (pid_ > 0) clear_scratch();  // a dead child's directory goes with it (start() makes a new one)
  }
  return out;
}

worker_outcome worker_process::run_staged(const worker_job& job, const std::string& input,
                                          const std::string& output_dir, const std::function<bool(int, int)>& tick) {
  worker_outcome out;
  nlohmann::json msg = {{"job_id", job.job_id}, {"input", input}, {"output_dir", output_dir},
                        {"spec", api::to_json(job.spec)}, {"budget", api::to_json(job.budget)},
                        {"asset_prefix", job.asset_prefix}};
  const auto started = steady::now();
  const bool limited = job.timeout.count() > 0;
  const auto deadline = started + job.timeout;
  if (!write_all(to_child_, msg.dump() + "\n")) {
    kill_now();
    out.code = "worker_crashed";
    out.message = "worker closed its job pipe (" + describe_exit(last_status_) + ")";
    return out;
  }
  int done = 0, total = 0;
  std::string line;
  for (;;) {
    auto slice = steady::now() + std::chrono::milliseconds(200);
    if (limited && deadline < slice) slice = deadline;
    auto st = read_line(line, slice);
    if (st == read_status::eof) {
      kill_now();
      out.outcome = worker_outcome::kind::crashed;
      out.code = "worker_crashed";
      out.message = "worker died during the conversion: " + describe_exit(last_status_);
      return out;
    }
    if (st == read_status::line) {
      auto ev = nlohmann::json::parse(line, nullptr, false);
      if (ev.is_discarded()) continue;
      const auto kind = ev.value("event", "");
      if (kind == "progress") {
        done = ev.value("pages_done", done);
        total = ev.value("pages_total", total);
      } else if (kind == "done") {
        if (ev.value("ok", false)) {
          out.outcome = worker_outcome::kind::succeeded;
          out.result = std::move(ev);
        } else {
          out.outcome = worker_outcome::kind::failed;
          out.code = ev.value("code", "internal");
          out.message = ev.value("message", "");
          if (out.code == "timeout") out.outcome = worker_outcome::kind::timed_out;
        }
        return out;
      }
    }
    if (limited && steady::now() >= deadline) {
      kill_now();
      out.outcome = worker_outcome::kind::timed_out;
      out.code = "timeout";
      out.message = "document_timeout_seconds (" + std::to_string(job.timeout.count() / 1000) + " s) exceeded";
      return out;
    }
    if (!tick(done, total)) {
      kill_now();
      out.outcome = worker_outcome::kind::canceled;
      out.code = "canceled";
      out.message = "canceled while converting";
      return out;
    }
  }
}

bool worker_process::check_alive() {
  if (pid_ <= 0) return false;
  int status = 0;
  if (::waitpid(pid_, &status, WNOHANG) != pid_) return true;
  last_status_ = status;
  pid_ = -1;
  close_fd(to_child_);
  close_fd(from_child_);
  buffer_.clear();
  remove_scratch();
  return false;
}

void worker_process::kill_now() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    last_status_ = status;
  }
  pid_ = -1;
  close_fd(to_child_);
  close_fd(from_child_);
  buffer_.clear();
  remove_scratch();
}

void worker_process::stop(std::chrono::milliseconds grace) {
  if (pid_ <= 0) return;
  close_fd(to_child_);  // EOF on fd 3: the worker exits after its current job
  auto until = steady::now() + grace;
  while (steady::now() < until) {
    int status = 0;
    pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      last_status_ = status;
      pid_ = -1;
      close_fd(from_child_);
      remove_scratch();
      return;
    }
    ::usleep(10000);
  }
  kill_now();
}

std::string worker_process::describe_exit(int status) const {
  if (WIFSIGNALED(status)) {
    int sig = WTERMSIG(status);
    const char* name = sig == SIGSEGV ? "SIGSEGV" : sig == SIGABRT ? "SIGABRT" : sig == SIGKILL ? "SIGKILL"
                       : sig == SIGBUS ? "SIGBUS" : sig == SIGFPE ? "SIGFPE" : "signal";
    return std::string("killed by ") + name + " (" + std::to_string(sig) + ")";
  }
  if (WIFEXITED(status)) {
    int code = WEXITSTATUS(status);
    if (code == 3) return "exit status 3 (out of memory)";
    return "exit status " + std::to_string(code);
  }
  return "unknown status";
}

}  // namespace quire::actors
