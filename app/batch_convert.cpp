// `quire convert` with several inputs or a directory: a pool of --jobs threads, each driving one
// `quire worker` process (the service's crash-isolated worker, actors/worker_process.hpp), so a
// PDF that crashes MuPDF, exhausts memory or hangs past --timeout fails alone: its worker is
// replaced and the next file goes on. Planning (which file goes where, clashes) is batch_plan.hpp.
//
// Outputs are written whole or not at all: the worker writes into a scratch folder inside the
// output directory (OUT/.quire-tmp-PID-N, removed at the end), and the result is renamed into
// place. An existing output is replaced, or kept with --skip-existing (that file is then
// skipped, which makes an interrupted batch resumable).
//
// Reporting (stderr): every failure as "quire convert: error: INPUT: CODE: MESSAGE" when it
// happens; on a terminal a progress line is redrawn in place (never when stderr is a file or a
// pipe); a summary line at the end. SIGINT/SIGTERM stop the workers and exit 130.
#include <fmt/core.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "actors/worker_process.hpp"
#include "app/batch_plan.hpp"
#include "api/result_formats.hpp"
#include "app/convert_cli.hpp"

namespace quire::app {
namespace {

namespace fs = std::filesystem;
using steady = std::chrono::steady_clock;

std::atomic<bool> g_interrupted{false};
extern "C" void on_interrupt(int) { g_interrupted.store(true); }

std::string self_exe() {
  std::error_code ec;
  auto p = fs::read_symlink("/proc/self/exe", ec);
  return ec ? std::string("quire") : p.string();
}

// Moves a finished file into place: rename on one file system, else copy and remove. Fails with
// actors::errc::io_error, the code a worker's own output failures carry (worker_process.cpp).
quire::status move_file(const fs::path& from, const fs::path& to) {
  std::error_code ec;
  fs::create_directories(to.parent_path(), ec);
  fs::rename(from, to, ec);
  if (!ec) return quire::ok_v;
  const fs::path tmp = fs::path(to).concat(".quire-partial");
  fs::copy_file(from, tmp, fs::copy_options::overwrite_existing, ec);
  if (!ec) fs::rename(tmp, to, ec);
  if (ec) {
    // the message before the clean-up, which resets ec
    quire::error failed{actors::errc::io_error, "cannot write " + to.string() + ": " + ec.message()};
    fs::remove(tmp, ec);
    return failed;
  }
  fs::remove(from, ec);
  return quire::ok_v;
}

// The shared state of one batch run: the work list, the counters and stderr.
class batch_run {
 public:
  batch_run(const convert_args& a, batch_plan plan, fs::path out_dir)
      : args_(a), plan_(std::move(plan)), out_dir_(std::move(out_dir)), tty_(::isatty(STDERR_FILENO) == 1),
        started_(steady::now()) {
    total_ = static_cast<int>(plan_.items.size() + plan_.problems.size());
  }

  int run(int jobs) {
    for (const auto& p : plan_.problems) fail(p.input, p.code, p.message);
    const int threads = std::max(1, std::min<int>(jobs, static_cast<int>(plan_.items.size())));
    in_progress_ = std::vector<std::atomic<long>>(static_cast<std::size_t>(threads));
    if (tty_) redraw();  // at once, so even a batch that ends within the first tick shows one
    std::vector<std::thread> pool;
    for (int t = 0; t < threads && !plan_.items.empty(); ++t) pool.emplace_back([this, t] { work(t); });
    while (done_.load() < total_) {
      if (tty_) redraw();
      std::this_thread::sleep_for(std::chrono::milliseconds(tty_ ? 250 : 50));
      if (static_cast<std::size_t>(threads_exited_.load()) == pool.size()) break;
    }
    for (auto& t : pool) t.join();
    if (tty_) clear_progress();
    const auto elapsed = std::chrono::duration<double>(steady::now() - started_);
    std::string summary = fmt::format("quire convert: {} of {} converted", converted_.load(), total_);
    if (failed_ > 0 || skipped_ > 0) summary += fmt::format(" ({} failed, {} skipped)", failed_.load(), skipped_.load());
    summary += fmt::format(", {} pages in {}", pages_.load(), format_duration(elapsed));
    if (g_interrupted) summary += " — interrupted";
    say(summary);
    if (g_interrupted) return 130;
    return failed_ > 0 ? 1 : 0;
  }

 private:
  void work(int slot) {
    actors::worker_process worker({self_exe(), "worker"}, 0, 0);
    const fs::path scratch = out_dir_ / fmt::format(".quire-tmp-{}-{}", ::getpid(), slot);
    for (;;) {
      const std::size_t i = next_.fetch_add(1);
      if (i >= plan_.items.size() || g_interrupted) break;
      convert_one(worker, plan_.items[i], scratch, slot);
    }
    worker.stop();
    std::error_code ec;
    fs::remove_all(scratch, ec);
    threads_exited_.fetch_add(1);
  }

  void convert_one(actors::worker_process& worker, const batch_item& item, const fs::path& scratch, int slot) {
    std::error_code ec;
    if (args_.skip_existing && fs::exists(item.output, ec)) {
      skipped_.fetch_add(1);
      done_.fetch_add(1);
      return;
    }
    if (!worker.check_alive()) {
      if (auto started = worker.start(); !started)
        return fail(item.input.string(), std::string(to_string(started.err().code)), started.err().message);
    }
    fs::remove_all(scratch, ec);
    fs::create_directories(scratch, ec);
    if (ec) return fail(item.input.string(), "io_error", "cannot create " + scratch.string() + ": " + ec.message());
    const bool images = !item.assets.empty();
    actors::worker_job job;
    job.job_id = item.input.string();
    job.input_path = fs::absolute(item.input, ec).string();
    job.output_dir = fs::absolute(scratch, ec).string();
    job.spec = args_.spec;
    job.spec.conversion.extract_images = images;
    job.asset_prefix = images ? asset_link_prefix(item) : std::string();
    // --timeout stops the worker from here (a hung page included), not inside its engine.
    job.budget = args_.budget;
    job.budget.timeout_seconds = 0;
    job.timeout = std::chrono::milliseconds(static_cast<long long>(args_.budget.timeout_seconds * 1000));
    auto& mine = in_progress_[static_cast<std::size_t>(slot)];
    const auto outcome = worker.run(job, [&](int pages_done, int) {
      mine = pages_done;
      return !g_interrupted.load();
    });
    mine = 0;
    if (outcome.outcome == actors::worker_outcome::kind::canceled) return;  // interrupted: not a failure
    if (outcome.outcome != actors::worker_outcome::kind::succeeded)
      return fail(item.input.string(), outcome.code, outcome.message);

    const auto& r = outcome.result;
    auto failed_move = [&](const quire::error& e) {
      fail(item.input.string(), std::string(to_string(e.code)), e.message);
    };
    if (images) {
      for (const auto& a : r.value("assets", nlohmann::json::array())) {
        const std::string name = a.value("name", "");
        if (quire::status moved = move_file(scratch / "assets" / name, item.assets / name); !moved)
          return failed_move(moved.err());
      }
    }
    // the worker wrote the format asked for next to result.md (cmd_worker.cpp)
    const fs::path result = scratch / std::string(api::find_result_format(args_.format)->file);
    if (quire::status moved = move_file(result, item.output); !moved) return failed_move(moved.err());
    for (const auto& p : r.value("pages", nlohmann::json::array()))
      if (p.value("no_text_layer", false) && !p.value("ocr_used", false))
        say(fmt::format("quire convert: warning: {}: page {} has no text layer (scanned image?)", item.input.string(),
                        p.value("page", 0)));
    pages_.fetch_add(r.value("pages_converted", 0));
    converted_.fetch_add(1);
    done_.fetch_add(1);
  }

  void fail(const std::string& input, const std::string& code, const std::string& message) {
    failed_.fetch_add(1);
    done_.fetch_add(1);
    say(fmt::format("quire convert: error: {}: {}: {}", input, code, message));
  }

  // One line on stderr; on a terminal the progress line is cleared first (and redrawn later).
  void say(const std::string& line) {
    std::lock_guard lock(stderr_mutex_);
    if (tty_ && progress_shown_) std::fputs("\r\033[K", stderr);
    progress_shown_ = false;
    std::fprintf(stderr, "%s\n", line.c_str());
    std::fflush(stderr);
  }

  void redraw() {
    batch_progress p;
    p.files_done = done_.load();
    p.files_total = total_;
    p.failed = failed_.load();
    p.pages = pages_.load();
    for (const auto& n : in_progress_) p.pages += n.load();
    p.elapsed = steady::now() - started_;
    std::lock_guard lock(stderr_mutex_);
    std::fprintf(stderr, "\r\033[K%s", progress_line(p).c_str());
    std::fflush(stderr);
    progress_shown_ = true;
  }

  void clear_progress() {
    std::lock_guard lock(stderr_mutex_);
    if (progress_shown_) std::fputs("\r\033[K", stderr);
    progress_shown_ = false;
  }

  const convert_args& args_;
  batch_plan plan_;
  fs::path out_dir_;
  bool tty_;
  steady::time_point started_;
  int total_ = 0;
  std::atomic<std::size_t> next_{0};
  std::atomic<int> done_{0}, converted_{0}, failed_{0}, skipped_{0}, threads_exited_{0};
  std::atomic<long> pages_{0};
  std::vector<std::atomic<long>> in_progress_;  // pages done of the file each thread is on
  std::mutex stderr_mutex_;
  bool progress_shown_ = false;
};

}  // namespace

int run_batch(const convert_args& a) {
  for (const auto& in : a.inputs)
    if (in == "-") {
      std::fprintf(stderr, "quire convert: error: invalid_argument: - (standard input) must be the only input, and "
                           "-o then names a file\n");
      return 2;
    }
  if (a.output.empty() || a.output == "-") {
    std::fprintf(stderr, "quire convert: error: invalid_argument: with several inputs or a directory, -o names the "
                         "output directory\n");
    return 2;
  }
  const fs::path out_dir(a.output);
  std::error_code ec;
  fs::create_directories(out_dir, ec);
  if (!fs::is_directory(out_dir, ec)) {
    std::fprintf(stderr, "quire convert: error: io_error: cannot create the output directory %s\n", a.output.c_str());
    return 3;
  }
  batch_plan plan = plan_batch(a.inputs, out_dir, output_extension(a.format),
                               a.assets_dir.empty() ? fs::path() : fs::path(a.assets_dir));
  // A worker that dies mid-write must not kill us with SIGPIPE; Ctrl-C stops the workers cleanly.
  ::signal(SIGPIPE, SIG_IGN);
  struct sigaction sa {};
  sa.sa_handler = on_interrupt;
  sigemptyset(&sa.sa_mask);
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGTERM, &sa, nullptr);
  const int jobs = a.jobs > 0 ? a.jobs : std::max(1u, std::thread::hardware_concurrency());
  batch_run run(a, std::move(plan), out_dir);
  return run.run(jobs);
}

}  // namespace quire::app
