// quire::actors — one crash-isolated conversion worker (`quire worker`) and its pipe protocol.
//
// The converter actor owns one worker_process: a long-lived child that converts one job at a time,
// so a segfault, abort, out-of-memory (RLIMIT_AS) or runaway page in MuPDF kills only the child.
// Protocol: newline-delimited JSON. The parent writes jobs to the child's fd 3; the child writes
// events to its fd 4 (stdout is redirected to stderr so stray prints cannot corrupt the stream):
//   child → {"event":"ready","pid":N}                                        once, at start
//   parent → {"job_id","input","output_dir","spec":{…},"budget":{…},"asset_prefix"}   one job
//            (spec: the job spec's canonical JSON, budget: the work budget; api/job_spec.hpp)
//   child → {"event":"progress","pages_done":N,"pages_total":M}             after each page
//   child → {"event":"done","ok":true,"page_count":N,"warnings":[…],"assets":[{name,media_type}],…}
//        or {"event":"done","ok":false,"code":"pdf_unreadable","message":"…"}
// The child writes result.md and assets/ into output_dir; the parent publishes them durably.
// Plain POSIX (fork/exec, poll, waitpid): call it from a detached actor, never the CAF scheduler.
//
// Isolation. Every child gets a clean environment (kept_environment(): no
// database URL, no API keys, nothing the service was given but the locale, PATH, Tesseract's and
// the log's settings), no core dumps, a cap on open files and on the size of a file it writes.
// With set_isolation() it also gets a private scratch directory (0700) under `scratch_parent`:
// in/ holds the job's input (a hard link, read-only to the child), out/ receives its output, moved
// into the job's output_dir after the job; its path reaches the child as QUIRE_WORKER_SCRATCH and
// the child confines itself to it (app/worker_sandbox.hpp: Landlock, seccomp). A service running
// as root runs its workers as `nobody` (65534). The child's ready event says which layers hold
// (sandbox()).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "actors/errors.hpp"
#include "api/job_spec.hpp"

namespace quire::actors {

struct worker_job {
  std::string job_id;
  std::string input_path;
  std::string output_dir;
  api::job_spec spec;                     // what to convert, and into which formats
  api::work_budget budget;                // the lane's (or `quire convert`'s) work budgets
  std::string asset_prefix;               // how the Markdown links extracted images
  std::chrono::milliseconds timeout{0};   // wall time for the whole document; 0 = none
};

struct worker_outcome {
  enum class kind {
    succeeded,   // result in `result`, files in output_dir
    failed,      // the engine refused the document: `code` (pdf_unreadable, too_many_pages, …)
    crashed,     // the child died mid-job (signal, OOM, exit): retryable
    timed_out,   // the wall-time limit passed; the child was killed
    canceled,    // the tick callback asked to stop; the child was killed
  };
  kind outcome = kind::crashed;
  std::string code;     // stable error code for failed/crashed/timed_out ("worker_crashed", "timeout", …)
  std::string message;
  nlohmann::json result;  // the "done" message when succeeded
};

struct worker_isolation {
  std::string scratch_parent;          // "" = no scratch directory, input and output paths as given
  std::uint64_t max_file_bytes = 0;    // RLIMIT_FSIZE of the child (0 = unlimited)
  int max_open_files = 256;            // RLIMIT_NOFILE of the child
};

// The variables a worker may inherit, by name (everything else is dropped).
bool kept_environment(const std::string& name);

class worker_process {
 public:
  // `argv` is the full command (argv[0] = binary). memory_limit_bytes = RLIMIT_AS of the child (0 = none).
  // nice: the child's scheduling niceness (0-19), so conversions yield the CPU to the service.
  worker_process(std::vector<std::string> argv, std::uint64_t memory_limit_bytes, int nice = 0);
  ~worker_process();
  worker_process(const worker_process&) = delete;
  worker_process& operator=(const worker_process&) = delete;

  // Spawns the child and waits (up to `ready_timeout`) for its ready event; errc::worker_unavailable
  // saying why not.
  quire::status start(std::chrono::milliseconds ready_timeout = std::chrono::seconds(10));
  bool running() const { return pid_ > 0; }
  // Reaps the child if it died while idle; false when it is gone (call start() again).
  bool check_alive();
  // How the last child ended ("killed by SIGSEGV (11)", …).
  std::string last_exit() const { return describe_exit(last_status_); }
  pid_t pid() const { return pid_; }
  // Takes effect at the next start().
  void set_isolation(worker_isolation iso) { iso_ = std::move(iso); }
  // The child's report of its confinement (its ready event's "sandbox"; null before a start).
  const nlohmann::json& sandbox() const { return sandbox_; }
  // The running child's scratch directory ("" without isolation).
  const std::string& scratch() const { return scratch_; }

  // Runs one job to its end. `tick(pages_done, pages_total)` is called on every progress event and
  // at least every 200 ms; returning false cancels (the child is killed). After crashed, timed_out
  // or canceled the child is gone: call start() again.
  worker_outcome run(const worker_job& job, const std::function<bool(int, int)>& tick);

  // Closes the job pipe (the child exits at EOF), waits up to `grace`, then SIGKILLs. Idempotent.
  void stop(std::chrono::milliseconds grace = std::chrono::seconds(2));

 private:
  void kill_now();
  quire::status make_scratch();
  void remove_scratch();
  quire::expected<std::string> stage_input(const std::string& input);  // the staged path
  quire::status collect_output(const std::string& output_dir);
  void clear_scratch();
  std::string describe_exit(int status) const;
  worker_outcome run_staged(const worker_job& job, const std::string& input, const std::string& output_dir,
                            const std::function<bool(int, int)>& tick);
  enum class read_status { line, timeout, eof };
  read_status read_line(std::string& line, std::chrono::steady_clock::time_point until);
  std::vector<std::string> argv_;
  std::uint64_t memory_limit_;
  int nice_ = 0;
  pid_t pid_ = -1;
  int to_child_ = -1;
  int from_child_ = -1;
  std::string buffer_;
  int last_status_ = 0;
  worker_isolation iso_;
  std::string scratch_;
  bool drop_to_nobody_ = false;
  nlohmann::json sandbox_;
};

}  // namespace quire::actors
