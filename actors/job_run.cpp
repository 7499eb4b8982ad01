// One claimed job on one converter, from the worker's start to the recorded outcome (runs in the
// converter's own thread): feed the worker, keep the lease alive with progress, publish the result
// durably by renaming the worker's files into place, then record the outcome. Retry policy: a
// crash or lost worker is retryable (the store requeues with backoff until max_attempts, so a
// poison PDF ends `failed` and never loops); an engine refusal (unreadable, encrypted, empty, too
// many pages), a timeout and a work budget exceeded fail at once.
#include <chrono>
#include <filesystem>
#include <thread>

#include "actors/detail/converter.hpp"
#include "actors/detail/job_log.hpp"
#include "actors/detail/readiness_checks.hpp"
#include "actors/metrics.hpp"
#include "actors/worker_process.hpp"
#include "api/job_spec.hpp"
#include "api/result_formats.hpp"

namespace quire::actors {
namespace {

namespace fs = std::filesystem;
using steady = std::chrono::steady_clock;
using kind = worker_outcome::kind;

bool retryable_code(const std::string& code) {
  // gpu_not_available: the routing should never give a gpu_required job to a CPU converter, but if a
  // worker refuses one, another converter may still run it.
  // Not timeout or work_limit_exceeded: the same bytes take the same time and work again, so a
  // retry would only hold a converter for another full budget (3 x 600 s for one hostile PDF).
  return code == "worker_crashed" || code == "worker_unavailable" || code == "internal" || code == "gpu_not_available";
}

// What publishing put in place: the result's, the other formats' and the assets' sizes and hashes,
// and the span of deferred writes that one data-root sync must cover before the completion is recorded.
struct published_files {
  storage::file_info result;
  nlohmann::json formats = nlohmann::json::array();  // every format of the job, result.md included
  nlohmann::json assets = nlohmann::json::array();
  std::uint64_t oldest_write = 0, newest_write = 0;
  void note(const storage::file_info& f) {
    if (f.deferred_ticket == 0) return;
    if (oldest_write == 0) oldest_write = f.deferred_ticket;
    newest_write = f.deferred_ticket;
  }
};

class job_run {
 public:
  job_run(converter_ctx& c, const storage::claimed_job& claimed)
      : c_(c),
        cfg_(c.cfg()),
        job_(claimed.job),
        lease_(claimed.lease),
        lease_for_(std::chrono::duration_cast<std::chrono::milliseconds>(cfg_.lease)),
        started_(steady::now()),
        // Until when the lease is surely ours by this process's clock: the claim (just before this
        // call) or the last successful renewal, plus the lease length. A renewal counts from when
        // it was sent, not from its answer: the database extended the lease at some moment between.
        lease_valid_until_(started_ + lease_for_),
        last_beat_(started_),
        staging_(c.files->root() / "tmp" / ("work-" + job_.id + "-" + std::to_string(lease_.attempt))) {}

  void run() {
    // The row's spec, as this or an earlier release stored it (api::read_stored_spec). One that
    // cannot be read would convert the same way on any converter: it fails at once.
    auto spec = api::read_stored_spec(job_.spec, job_spec_limits(cfg_));
    if (!spec) {
      const auto& problem = spec.err();
      fail("invalid_argument", "the job's spec cannot be read: " + problem.field + ": " + problem.message, false);
      c_.job_changed();
      return;
    }
    spec_ = std::move(*spec);
    if (!ensure_worker(c_)) {
      release("worker_unavailable");
      c_.recheck_readiness();
      return;
    }
    std::error_code ec;
    fs::remove_all(staging_, ec);
    fs::create_directories(staging_, ec);
    const auto outcome = c_.worker->run(worker_job_for(), [this](int done, int total) { return heartbeat(done, total); });
    seconds_ = std::chrono::duration<double>(steady::now() - started_).count();
    switch (outcome.outcome) {
      case kind::succeeded: finish_succeeded(outcome); break;
      case kind::failed: finish_failed(outcome); break;
      case kind::canceled:
        if (!stopped()) release("draining");  // hand back (drain)
        ensure_worker(c_);
        break;
      case kind::crashed:
      case kind::timed_out: finish_worker_lost(outcome); break;
    }
    // Stopped from outside: the cancel itself was logged where it was made (here or on another replica).
    if (stopped())
      log::emit(stop_lost_ ? log::level::warn : log::level::info, "job.stopped",
                {{"job_id", job_.id}, {"attempt", lease_.attempt}, {"converter", c_.index},
                 {"reason", stop_lost_ ? "lease_lost" : "canceled"}});
    fs::remove_all(staging_, ec);  // whatever publishing did not adopt
    c_.job_changed();
  }

 private:
  worker_job worker_job_for() const {
    worker_job wj;
    wj.job_id = job_.id;
    wj.input_path = c_.files->file_path(job_.id, "input.pdf").string();
    wj.output_dir = staging_.string();
    wj.spec = spec_;
    wj.budget = work_budget_of(cfg_);
    wj.asset_prefix = "assets/";
    wj.timeout = std::chrono::seconds(spec_.execution.document_timeout_seconds);
    return wj;
  }

  bool stopped() const { return stop_canceled_ || stop_lost_; }

  // Progress doubles as lease renewal. Stops the worker when the job was canceled, when the lease
  // is gone, or when the drain grace is over (then the job is handed back). Pages done are written
  // when the heartbeat is due, or when they advanced and the last write (or the claim) is at least
  // progress_interval old: most documents finish in well under a second and then cost no progress
  // write at all (the completion records their pages), long ones at most one per interval.
  bool heartbeat(int done, int total) {
    constexpr auto progress_interval = std::chrono::seconds(1);
    if (c_.hand_back_requested()) return false;
    if (c_.cancel_requested()) {
      stop_canceled_ = true;
      return false;
    }
    const auto since = steady::now() - last_beat_;
    if (since < cfg_.heartbeat && (done == last_done_ || since < progress_interval)) return true;
    const auto sent = steady::now();
    auto r = c_.store->progress(lease_, done, total > 0 ? std::optional<int>(total) : std::nullopt, lease_for_);
    if (r) {
      lease_ = *r;
      last_beat_ = steady::now();
      lease_valid_until_ = sent + lease_for_;
      last_done_ = done;
      c_.job_changed();
    } else if (r.err().code == storage::errc::job_canceled) {
      stop_canceled_ = true;
      return false;
    } else if (r.err().code == storage::errc::lease_lost || r.err().code == storage::errc::job_not_found) {
      stop_lost_ = true;
      return false;
    }  // database hiccup: keep converting; the lease has slack (heartbeat < lease)
    return true;
  }

  // A lease-holder call that failed with database_unreachable (PostgreSQL restarting, a broken
  // connection) is tried again while our lease may still be valid. Giving up at once would leave a
  // finished job `running` until its lease expires, and then convert it all over again (found by
  // the chaos harness, tests/chaos). The store reconnects on the next call; the SQL is fenced by
  // (owner, attempt), so a late retry can never act on another attempt.
  template <class Call>
  auto retry_while_unreachable(Call&& call) {
    auto r = call();
    while (!r && r.err().code == storage::errc::database_unreachable && steady::now() < lease_valid_until_ &&
           !c_.hand_back_requested()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
      r = call();
    }
    return r;
  }

  // Each status change this attempt makes is one job.transition line (the store's answer says to
  // which status: a retryable failure requeues until the attempts are spent).
  void logged(const storage::result<storage::job_record>& r, log::fields extra, log::level at) {
    if (!r) return;
    extra["converter"] = c_.index;
    log_transition(job_.id, storage::job_status::running, r->status, lease_.attempt, extra, at);
  }
  void release(const char* reason) { logged(c_.store->release(lease_, reason), {{"reason", reason}}, log::level::info); }
  void store_error(const char* what, const storage::error& e) {
    log::error("job.store_failed", {{"job_id", job_.id}, {"attempt", lease_.attempt}, {"recording", what},
                                    {"code", std::string(storage::to_string(e.code))}, {"message", e.message}});
  }
  static bool expected_loss(const storage::error& e) {
    return e.code == storage::errc::job_canceled || e.code == storage::errc::lease_lost;
  }
  void fail(const std::string& code, const std::string& message, bool retryable) {
    auto r = retry_while_unreachable([&] { return c_.store->fail(lease_, {code, message, retryable}); });
    logged(r, {{"error_code", code}, {"retryable", retryable}, {"message", message}}, log::level::warn);
    if (!r && !expected_loss(r.err())) store_error("failure", r.err());
  }
  // A full data root says nothing about the document: hand the job back unspent, claimable again
  // after a pause (readiness reports data_root_full meanwhile), instead of spending its attempts.
  void defer_full(const std::string& message) {
    auto r = c_.store->defer(lease_, {"storage_full", message, true}, std::chrono::seconds(30));
    logged(r, {{"reason", "storage_full"}, {"message", message}}, log::level::warn);
    if (!r && !expected_loss(r.err())) store_error("deferral", r.err());
    c_.recheck_readiness();
  }
  bool root_full() const { return !c_.files->ensure_room(0, data_root_reserve_bytes(cfg_)); }

  void finish_succeeded(const worker_outcome& outcome) {
    for (const auto& name : spec_.conversion.formats) {
      const std::string file(api::find_result_format(name)->file);
      if (!fs::exists(staging_ / file)) return fail("internal", "worker reported success but wrote no " + file, true);
    }
    // Publish only while the lease is still ours (a fenced renewal): a process that lost it (paused,
    // cut off from the database past its lease) must not overwrite the files of the attempt that
    // took the job over. The completion below is fenced as well; this keeps the files consistent.
    auto renew_sent = steady::now();
    auto held = retry_while_unreachable([&] {
      renew_sent = steady::now();
      return c_.store->renew(lease_, lease_for_);
    });
    if (!held) {
      log::warn("job.not_published", {{"job_id", job_.id}, {"attempt", lease_.attempt},
                                      {"code", std::string(storage::to_string(held.err().code))},
                                      {"message", held.err().message}});
      return;
    }
    lease_ = *held;
    lease_valid_until_ = renew_sent + lease_for_;
    auto files = publish(outcome);
    if (!files && files.err().code == storage::errc::storage_full)
      return defer_full("cannot publish the result: " + files.err().message);
    if (!files) return fail("io_error", "cannot publish the result: " + files.err().message, true);
    auto synced = sync_data_root(*c_.files, files->oldest_write, files->newest_write, "result");
    if (!synced && synced.err().code == storage::errc::storage_full)
      return defer_full("cannot make the result durable: " + synced.err().message);
    if (!synced) return fail("io_error", "cannot make the result durable: " + synced.err().message, true);
    record_success(outcome, files->result);
  }

  // Renames the worker's files into the job directory (the staging dir is on the data root's
  // filesystem: tmp/), then writes the manifest. Grouped sync: no fsync per file; one syncfs
  // (shared with the submits' and the other converters' syncs) covers them all before completion.
  storage::result<published_files> publish(const worker_outcome& outcome) {
    const auto durability = cfg_.grouped_sync ? storage::durability::deferred : storage::durability::synced;
    published_files out;
    for (const auto& a : outcome.result.value("assets", nlohmann::json::array())) {
      const auto name = a.value("name", "");
      auto info = c_.files->adopt(job_.id, "assets/" + name, staging_ / "assets" / name, durability);
      if (!info) return info.err();
      out.note(*info);
      out.assets.push_back({{"name", name}, {"media_type", a.value("media_type", "")},
                            {"size_bytes", info->bytes}, {"sha256", info->sha256}});
    }
    // The other formats the job asked for (document.json, chunks.json, result.txt): published like
    // result.md, by rename, covered by the same sync, removed with the job directory by retention.
    for (const auto& name : spec_.conversion.formats) {
      const auto* f = api::find_result_format(name);
      const std::string file(f->file);
      auto info = c_.files->adopt(job_.id, file, staging_ / file, durability);
      if (!info) return info.err();
      out.note(*info);
      if (name == "markdown") out.result = *info;
      out.formats.push_back({{"format", name}, {"name", file}, {"media_type", std::string(f->media_type)},
                             {"size_bytes", info->bytes}, {"sha256", info->sha256}});
    }
    // The manifest is for operators (the row is the truth) and records the sizes and hashes of the
    // assets and of the formats besides result.md: without it those could not be served verified,
    // so then its failure fails the publish (retried); a job with result.md alone does without.
    auto written = c_.files->write_manifest(job_.id, manifest(outcome, out), durability);
    if (written) out.note(*written);
    else if (!out.assets.empty() || out.formats.size() > 1) return written.err();
    return out;
  }

  nlohmann::json manifest(const worker_outcome& outcome, const published_files& f) const {
    return {{"job_id", job_.id},
            {"profile", cfg_.profile},
            {"attempt", lease_.attempt},
            {"input", {{"size_bytes", job_.input_bytes}, {"sha256", job_.input_sha256}, {"filename", job_.source_filename}}},
            {"job_spec", job_.spec},
            {"result", {{"name", "result.md"}, {"media_type", "text/markdown"},
                        {"size_bytes", f.result.bytes}, {"sha256", f.result.sha256}}},
            {"page_count", outcome.result.value("page_count", 0)},
            {"pages_converted", outcome.result.value("pages_converted", 0)},
            {"warnings", outcome.result.value("warnings", nlohmann::json::array())},
            {"formats", f.formats},
            {"assets", f.assets},
            {"acceleration_used", outcome.result.value("acceleration_used", "cpu")},
            {"revision", c_.revision()}};
  }

  void record_success(const worker_outcome& outcome, const storage::file_info& result_file) {
    const int pages = outcome.result.value("page_count", 0);
    // The job's progress ends at the pages converted (pages 1-3 of a 20,000-page file: 3 of 3),
    // not at the document's size.
    const storage::completion result{result_file.bytes, result_file.sha256, outcome.result.value("pages_converted", pages)};
    auto done = retry_while_unreachable([&] { return c_.store->complete(lease_, result); });
    bool completed = static_cast<bool>(done);
    if (!done && done.err().code == storage::errc::lease_lost) {
      // A COMMIT lost with the connection may have applied before the retry: then the job
      // succeeded with this attempt's result (job_store.hpp: re-read before concluding).
      auto now = c_.store->get(job_.id);
      completed = now && now->status == storage::job_status::succeeded && now->attempt == lease_.attempt &&
                  now->result_sha256 == result_file.sha256;
    }
    if (!done && !completed) store_error("completion", done.err());
    if (!completed) return;  // canceled or lease lost meanwhile: the late finish is discarded by the store
    log_transition(job_.id, storage::job_status::running, storage::job_status::succeeded, lease_.attempt,
                   {{"converter", c_.index},
                    {"accel", outcome.result.value("acceleration_used", "cpu")},
                    {"pages", pages},
                    {"duration_ms", static_cast<std::int64_t>(seconds_ * 1000)}});
    auto& m = service_metrics();
    m.add("quire_conversions_total", {{"outcome", "succeeded"}});
    m.add("quire_pages_converted_total", {}, outcome.result.value("pages_converted", 0));
    m.observe("quire_conversion_duration_seconds", {}, seconds_);
  }

  void finish_failed(const worker_outcome& outcome) {
    auto& m = service_metrics();
    if (outcome.code == "device_failed") {
      // The worker's device failed (a CUDA error, or analyze() threw). The document is not at
      // fault: hand the job back unspent so another converter runs it, and take this converter out
      // of service for good (until a restart re-tests the device). Readiness reports it from now on.
      m.add("quire_device_failures_total", {{"device", c_.accel}});
      log::error("converter.device_failed",
                 {{"converter", c_.index}, {"accel", c_.accel}, {"job_id", job_.id}, {"message", outcome.message}});
      c_.device_lost("converter " + std::to_string(c_.index) + " (" + c_.accel + ") device_failed: " + outcome.message);
      c_.worker->stop();
      if (!stopped()) release("device_failed");
      c_.recheck_readiness();
      return;
    }
    if (outcome.code == "io_error" && root_full()) {
      // The worker could not write its output into the staging dir (tmp/ of the data root): full.
      return defer_full("the worker could not write its output: " + outcome.message);
    }
    m.add("quire_conversions_total", {{"outcome", "failed"}});
    m.observe("quire_conversion_duration_seconds", {}, seconds_);
    fail(outcome.code, outcome.message, retryable_code(outcome.code));
  }

  void finish_worker_lost(const worker_outcome& outcome) {  // crashed or timed out: the worker is gone
    const bool timed_out = outcome.outcome == kind::timed_out;
    auto& m = service_metrics();
    m.add("quire_worker_crashes_total", {{"cause", timed_out ? "timeout" : "crash"}});
    m.add("quire_conversions_total", {{"outcome", timed_out ? "timeout" : "crashed"}});
    fail(timed_out ? "timeout" : "worker_crashed", outcome.message, !timed_out);
    if (!ensure_worker(c_)) c_.recheck_readiness();
  }

  converter_ctx& c_;
  const service_config& cfg_;
  const storage::job_record& job_;
  api::job_spec spec_;  // job_.spec, read at the start of run()
  storage::lease lease_;
  const std::chrono::milliseconds lease_for_;
  const steady::time_point started_;
  steady::time_point lease_valid_until_;
  steady::time_point last_beat_;  // the claim has just set the lease
  int last_done_ = -1;
  bool stop_canceled_ = false, stop_lost_ = false;
  double seconds_ = 0;  // the conversion's wall time, for logs and metrics
  const fs::path staging_;
};

}  // namespace

void run_claimed_job(converter_ctx& c, const storage::claimed_job& job) { job_run(c, job).run(); }

}  // namespace quire::actors
