// One converter's work for one claimed job (runs in the converter's detached actor thread):
// feed the worker, keep the lease alive with progress, publish the result durably, then record the
// outcome. Retry policy: a crash or lost worker is retryable (the store requeues with backoff until
// max_attempts, so a poison PDF ends `failed` and never loops); an engine refusal (unreadable,
// encrypted, empty, too many pages), a timeout and a work budget exceeded fail at once.
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "actors/job_log.hpp"
#include "actors/metrics.hpp"
#include "actors/runtime_state.hpp"
#include "actors/worker_process.hpp"

namespace quire::actors {
namespace {

namespace fs = std::filesystem;
using steady = std::chrono::steady_clock;

bool retryable_code(const std::string& code) {
  // gpu_not_available: the routing should never give a gpu_required job to a CPU converter, but if a
  // worker refuses one, another converter may still run it.
  // Not timeout or work_limit_exceeded: the same bytes take the same time and work again, so a
  // retry would only hold a converter for another full budget (issue 16: 3 x 600 s per hostile PDF).
  return code == "worker_crashed" || code == "worker_unavailable" || code == "internal" || code == "gpu_not_available";
}

std::string read_file(const fs::path& p, bool& ok) {
  std::ifstream f(p, std::ios::binary);
  ok = static_cast<bool>(f);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

nlohmann::json worker_options(const storage::job_record& j, const service_config& cfg) {
  const auto& conv = j.spec.value("conversion", nlohmann::json::object());
  return {{"first_page", conv.value("first_page", 1)},
          {"last_page", conv.value("last_page", 0)},
          {"max_pages", cfg.max_pages},
          {"limits", {{"page_seconds", cfg.page_timeout.count()},
                      {"page_content_bytes", cfg.page_content_bytes},
                      {"document_content_bytes", cfg.document_content_bytes},
                      {"page_operators", cfg.page_operators}}},
          {"extract_images", conv.value("extract_images", false)},
          {"asset_prefix", "assets/"},
          {"ocr", conv.value("ocr", "auto")},
          {"ocr_languages", conv.value("ocr_languages", "eng")},
          {"acceleration_policy",
           j.spec.value("execution", nlohmann::json::object()).value("acceleration_policy", "cpu_only")}};
}

// A lease-holder call that failed with database_unreachable (PostgreSQL restarting, a broken
// connection) is tried again while our lease may still be valid. Giving up at once would leave a
// finished job `running` until its lease expires, and then convert it all over again (found by the
// chaos harness, tests/chaos: every PostgreSQL restart cost a rescue and a second conversion). The
// store reconnects on the next call; the SQL is fenced by (owner, attempt), so a late retry can never
// act on another attempt.
template <class Call>
auto retry_while_unreachable(const shared_state& st, steady::time_point lease_valid_until, Call&& call) {
  auto r = call();
  while (!r && r.err().code == storage::errc::database_unreachable && steady::now() < lease_valid_until &&
         !st.hand_back.load()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
    r = call();
  }
  return r;
}

}  // namespace

void set_live(converter_ctx& c, bool live) {
  live = live && !c.device_failed;
  c.usable.store(live);
  if (live == c.counted_live) return;
  c.counted_live = live;
  c.st->live_converters.fetch_add(live ? 1 : -1);
  if (c.device >= 0) c.st->live_gpu_converters.fetch_add(live ? 1 : -1);
  service_metrics().set("quire_converters_live", {}, c.st->live_converters.load());
  service_metrics().set("quire_gpu_converters_live", {}, c.st->live_gpu_converters.load());
}

storage::status sync_data_root(const storage::artifact_store& fs, std::uint64_t oldest_ticket,
                               std::uint64_t newest_ticket, const char* what) {
  if (newest_ticket == 0) return storage::ok_v;  // nothing deferred (per_file sync, or no write)
  const auto started = steady::now();
  auto synced = fs.sync_deferred(oldest_ticket, newest_ticket);
  service_metrics().observe("quire_data_sync_seconds", {{"for", what}},
                            std::chrono::duration<double>(steady::now() - started).count());
  return synced;
}

// What confines the worker that just started (app/worker_sandbox.hpp): a layer missing (an old
// kernel, a container's seccomp profile refusing Landlock) is a warning and a 0 in
// quire_worker_sandbox{layer}, never silent.
void report_sandbox(const converter_ctx& c) {
  const auto& sb = c.worker->sandbox();
  auto& m = service_metrics();
  const bool seccomp = sb.is_object() && sb.value("seccomp", false);
  const bool filesystem = sb.is_object() && sb.value("filesystem", false);
  const bool no_new_privs = sb.is_object() && sb.value("no_new_privs", false);
  m.set("quire_worker_sandbox", {{"layer", "seccomp"}}, seccomp ? 1 : 0);
  m.set("quire_worker_sandbox", {{"layer", "landlock"}}, filesystem ? 1 : 0);
  m.set("quire_worker_sandbox", {{"layer", "no_new_privs"}}, no_new_privs ? 1 : 0);
  log::fields f{{"converter", c.index}, {"pid", c.worker->pid()}, {"sandbox", sb}};
  if (seccomp && filesystem && no_new_privs) log::debug("worker.sandbox", f);
  else log::warn("worker.sandbox_degraded", f);
}

bool ensure_worker(converter_ctx& c) {
  if (c.device_failed) return false;
  // A worker started while the data root was unavailable has no scratch directory (it cannot be
  // given a job then): once the root is there it is restarted confined to one.
  const bool confined = c.worker && !c.worker->scratch().empty();
  if (c.worker && c.worker->running() && (confined || !c.files)) return true;
  if (c.worker && c.worker->running()) c.worker->stop();
  if (!c.worker) c.worker = std::make_unique<worker_process>(c.worker_argv, c.st->cfg.worker_memory_bytes, c.st->cfg.worker_nice);
  // Its output is built in memory before it is written, so no file it writes can be larger than its
  // address space.
  if (c.files) c.worker->set_isolation({(c.files->root() / "tmp").string(), c.st->cfg.worker_memory_bytes, 256});
  std::string err;
  bool ok = c.worker->start(err);
  if (!ok) log::error("worker.start_failed", {{"converter", c.index}, {"accel", c.accel}, {"message", err}});
  if (ok) report_sandbox(c);
  set_live(c, ok);
  return ok;
}

void run_claimed_job(converter_ctx& c, const storage::claimed_job& claimed) {
  auto& st = *c.st;
  auto& m = service_metrics();
  const auto& job = claimed.job;
  storage::lease lease = claimed.lease;
  const auto lease_for = std::chrono::duration_cast<std::chrono::milliseconds>(st.cfg.lease);
  const auto started = steady::now();
  // Until when the lease is surely ours by this process's clock: the claim (just before this call)
  // or the last successful renewal, plus the lease length. A renewal counts from when it was
  // sent, not from its answer: the database extended the lease at some moment in between.
  auto lease_valid_until = started + lease_for;

  // Each status change this attempt makes is one job.transition line (the store's answer says to
  // which status: a retryable failure requeues until the attempts are spent).
  auto logged = [&](const storage::result<storage::job_record>& r, log::fields extra, log::level at) {
    if (!r) return;
    extra["converter"] = c.index;
    log_transition(job.id, storage::job_status::running, r->status, lease.attempt, extra, at);
  };
  auto release = [&](const char* reason) {
    logged(c.store->release(lease, reason), {{"reason", reason}}, log::level::info);
  };
  auto store_error = [&](const char* what, const storage::error& e) {
    log::error("job.store_failed", {{"job_id", job.id}, {"attempt", lease.attempt}, {"recording", what},
                                    {"code", std::string(storage::to_string(e.code))}, {"message", e.message}});
  };
  auto fail = [&](const std::string& code, const std::string& message, bool retryable) {
    auto r = retry_while_unreachable(st, lease_valid_until, [&] { return c.store->fail(lease, {code, message, retryable}); });
    logged(r, {{"error_code", code}, {"retryable", retryable}, {"message", message}}, log::level::warn);
    if (!r && r.err().code != storage::errc::job_canceled && r.err().code != storage::errc::lease_lost)
      store_error("failure", r.err());
  };

  // A full data root says nothing about the document: hand the job back unspent, claimable again
  // after a pause (readiness reports data_root_full meanwhile), instead of spending its attempts.
  auto root_full = [&] { return !c.files->ensure_room(0, data_root_reserve_bytes(st.cfg)); };
  auto defer_full = [&](const std::string& message) {
    auto r = c.store->defer(lease, {"storage_full", message, true}, std::chrono::seconds(30));
    logged(r, {{"reason", "storage_full"}, {"message", message}}, log::level::warn);
    if (!r && r.err().code != storage::errc::job_canceled && r.err().code != storage::errc::lease_lost)
      store_error("deferral", r.err());
    if (st.recheck_readiness) st.recheck_readiness();
  };

  if (!ensure_worker(c)) {
    release("worker_unavailable");
    if (st.recheck_readiness) st.recheck_readiness();
    return;
  }
  const fs::path staging = c.files->root() / "tmp" / ("work-" + job.id + "-" + std::to_string(lease.attempt));
  std::error_code ec;
  fs::remove_all(staging, ec);
  fs::create_directories(staging, ec);

  worker_job wj;
  wj.job_id = job.id;
  wj.input_path = c.files->file_path(job.id, "input.pdf").string();
  wj.output_dir = staging.string();
  wj.options = worker_options(job, st.cfg);
  const int timeout_s = job.spec.value("execution", nlohmann::json::object())
                            .value("document_timeout_seconds", static_cast<int>(st.cfg.document_timeout.count()));
  wj.timeout = std::chrono::seconds(timeout_s);

  // Heartbeat: progress doubles as lease renewal. Stop when canceled, when the lease is gone, or
  // when the drain grace is over (then the job is handed back below). Pages done are written when
  // the heartbeat is due, or when they advanced and the last write (or the claim) is at least
  // progress_interval old: most documents finish in well under a second and then cost no progress
  // write at all (the completion records their pages), long ones at most one per interval.
  constexpr auto progress_interval = std::chrono::seconds(1);
  auto last_beat = started;  // the claim has just set the lease
  int last_done = -1;
  bool stop_canceled = false, stop_lost = false;
  auto tick = [&](int done, int total) {
    if (st.hand_back.load()) return false;
    if (st.take_cancel(job.id)) {
      stop_canceled = true;
      return false;
    }
    const auto since = steady::now() - last_beat;
    if (since >= st.cfg.heartbeat || (done != last_done && since >= progress_interval)) {
      const auto sent = steady::now();
      auto r = c.store->progress(lease, done, total > 0 ? std::optional<int>(total) : std::nullopt, lease_for);
      if (r) {
        lease = *r;
        last_beat = steady::now();
        lease_valid_until = sent + lease_for;
        last_done = done;
        st.notify_change();
      } else if (r.err().code == storage::errc::job_canceled) {
        stop_canceled = true;
        return false;
      } else if (r.err().code == storage::errc::lease_lost || r.err().code == storage::errc::job_not_found) {
        stop_lost = true;
        return false;
      }  // database hiccup: keep converting; the lease has slack (heartbeat < lease)
    }
    return true;
  };

  auto outcome = c.worker->run(wj, tick);
  const double seconds = std::chrono::duration<double>(steady::now() - started).count();
  using kind = worker_outcome::kind;

  if (outcome.outcome == kind::succeeded) {
    bool ok = false;
    std::string md = read_file(staging / "result.md", ok);
    // Publish only while the lease is still ours (a fenced renewal): a process that lost it (paused,
    // cut off from the database past its lease) must not overwrite the files of the attempt that
    // took the job over. The completion below is fenced as well; this keeps the files consistent.
    auto renew_sent = steady::now();
    auto held = ok ? retry_while_unreachable(st, lease_valid_until,
                                             [&] {
                                               renew_sent = steady::now();
                                               return c.store->renew(lease, lease_for);
                                             })
                   : storage::result<storage::lease>(lease);
    if (!ok) {
      fail("internal", "worker reported success but wrote no result.md", true);
    } else if (!held) {
      log::warn("job.not_published", {{"job_id", job.id}, {"attempt", lease.attempt},
                                      {"code", std::string(storage::to_string(held.err().code))},
                                      {"message", held.err().message}});
    } else {
      lease = *held;
      lease_valid_until = renew_sent + lease_for;
      // Grouped sync: the files are written without fsync and made durable together by one
      // syncfs (shared with the submits' and other converters' syncs) before the completion.
      const auto durability = st.cfg.grouped_sync ? storage::durability::deferred : storage::durability::synced;
      std::uint64_t oldest_write = 0, newest_write = 0;
      auto note = [&](const storage::file_info& f) {
        if (f.deferred_ticket == 0) return;
        if (oldest_write == 0) oldest_write = f.deferred_ticket;
        newest_write = f.deferred_ticket;
      };
      nlohmann::json assets = nlohmann::json::array();
      bool published = true;
      storage::error publish_err{storage::errc::io_error, "asset publish failed", {}};
      for (const auto& a : outcome.result.value("assets", nlohmann::json::array())) {
        const auto name = a.value("name", "");
        bool read_ok = false;
        auto bytes = read_file(staging / "assets" / name, read_ok);
        auto info = read_ok ? c.files->write_file(job.id, "assets/" + name, bytes, durability)
                            : storage::result<storage::file_info>(storage::error{storage::errc::io_error, "missing asset", {}});
        if (!info) { published = false; publish_err = info.err(); break; }
        note(*info);
        assets.push_back({{"name", name}, {"media_type", a.value("media_type", "")},
                          {"size_bytes", info->bytes}, {"sha256", info->sha256}});
      }
      auto info = published ? c.files->write_file(job.id, "result.md", md, durability)
                            : storage::result<storage::file_info>(publish_err);
      if (info) note(*info);
      if (!info && info.err().code == storage::errc::storage_full) {
        defer_full("cannot publish the result: " + info.err().message);
      } else if (!info) {
        fail("io_error", "cannot publish the result: " + info.err().message, true);
      } else {
        const int pages = outcome.result.value("page_count", 0);
        nlohmann::json manifest = {{"job_id", job.id},
                                   {"profile", st.cfg.profile},
                                   {"attempt", lease.attempt},
                                   {"input", {{"size_bytes", job.input_bytes}, {"sha256", job.input_sha256},
                                              {"filename", job.source_filename}}},
                                   {"job_spec", job.spec},
                                   {"result", {{"name", "result.md"}, {"media_type", "text/markdown"},
                                               {"size_bytes", info->bytes}, {"sha256", info->sha256}}},
                                   {"page_count", pages},
                                   {"pages_converted", outcome.result.value("pages_converted", 0)},
                                   {"warnings", outcome.result.value("warnings", nlohmann::json::array())},
                                   {"assets", assets},
                                   {"acceleration_used", outcome.result.value("acceleration_used", "cpu")},
                                   {"revision", st.revision}};
        // The manifest is for operators (the row is the truth): a failure to write it is not fatal.
        if (auto written = c.files->write_manifest(job.id, manifest, durability)) note(*written);
        auto synced = sync_data_root(*c.files, oldest_write, newest_write, "result");
        if (!synced && synced.err().code == storage::errc::storage_full)
          defer_full("cannot make the result durable: " + synced.err().message);
        else if (!synced)
          fail("io_error", "cannot make the result durable: " + synced.err().message, true);
        // The job's progress ends at the pages converted (pages 1-3 of a 20,000-page file: 3 of
        // 3), not at the document's size.
        const storage::completion result{info->bytes, info->sha256, outcome.result.value("pages_converted", pages)};
        if (synced) {
          auto done = retry_while_unreachable(st, lease_valid_until, [&] { return c.store->complete(lease, result); });
          bool completed = static_cast<bool>(done);
          if (!done && done.err().code == storage::errc::lease_lost) {
            // A COMMIT lost with the connection may have applied before the retry: then the job
            // succeeded with this attempt's result (job_store.hpp: re-read before concluding).
            auto now = c.store->get(job.id);
            completed = now && now->status == storage::job_status::succeeded && now->attempt == lease.attempt &&
                        now->result_sha256 == info->sha256;
          }
          if (!done && !completed) store_error("completion", done.err());
          if (completed) {
            log_transition(job.id, storage::job_status::running, storage::job_status::succeeded, lease.attempt,
                           {{"converter", c.index},
                            {"accel", outcome.result.value("acceleration_used", "cpu")},
                            {"pages", pages},
                            {"duration_ms", static_cast<std::int64_t>(seconds * 1000)}});
            m.add("quire_conversions_total", {{"outcome", "succeeded"}});
            m.add("quire_pages_converted_total", {}, outcome.result.value("pages_converted", 0));
            m.observe("quire_conversion_duration_seconds", {}, seconds);
          }  // else canceled or lease lost meanwhile: the late finish is discarded by the store
        }
      }
    }
  } else if (outcome.outcome == kind::failed && outcome.code == "device_failed") {
    // The worker's device failed (a CUDA error, or analyze() threw). The document is not at fault:
    // hand the job back unspent so another converter runs it, and take this converter out of
    // service for good (until a restart re-tests the device). Readiness reports it from now on.
    m.add("quire_device_failures_total", {{"device", c.accel}});
    log::error("converter.device_failed",
               {{"converter", c.index}, {"accel", c.accel}, {"job_id", job.id}, {"message", outcome.message}});
    st.add_device_note("converter " + std::to_string(c.index) + " (" + c.accel + ") device_failed: " + outcome.message);
    c.device_failed = true;
    set_live(c, false);
    c.worker->stop();
    if (!stop_canceled && !stop_lost) release("device_failed");
    if (st.recheck_readiness) st.recheck_readiness();
  } else if (outcome.outcome == kind::failed && outcome.code == "io_error" && root_full()) {
    // The worker could not write its output into the staging dir (tmp/ of the data root): full.
    defer_full("the worker could not write its output: " + outcome.message);
  } else if (outcome.outcome == kind::failed) {
    m.add("quire_conversions_total", {{"outcome", "failed"}});
    m.observe("quire_conversion_duration_seconds", {}, seconds);
    fail(outcome.code, outcome.message, retryable_code(outcome.code));
  } else if (outcome.outcome == kind::canceled) {
    if (!stop_canceled && !stop_lost) release("draining");  // hand back (drain)
    ensure_worker(c);
  } else {  // crashed or timed out: the worker is gone
    const bool timed_out = outcome.outcome == kind::timed_out;
    m.add("quire_worker_crashes_total", {{"cause", timed_out ? "timeout" : "crash"}});
    m.add("quire_conversions_total", {{"outcome", timed_out ? "timeout" : "crashed"}});
    fail(timed_out ? "timeout" : "worker_crashed", outcome.message, !timed_out);
    if (!ensure_worker(c) && st.recheck_readiness) st.recheck_readiness();
  }
  // Stopped from outside: the cancel itself was logged where it was made (here or on another replica).
  if (stop_canceled || stop_lost)
    log::emit(stop_lost ? log::level::warn : log::level::info, "job.stopped",
              {{"job_id", job.id}, {"attempt", lease.attempt}, {"converter", c.index},
               {"reason", stop_lost ? "lease_lost" : "canceled"}});
  fs::remove_all(staging, ec);
  st.notify_change();
}

}  // namespace quire::actors
