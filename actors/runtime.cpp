// quire serve's runtime: starts the actor system and its actors (detail/runtime_actors.hpp says who owns
// what) and the job service the HTTP layer calls (detail/job_service.hpp), and runs the lifecycle: drain,
// hand back, shutdown. Also the two actors that only talk to the coordinator or to storage:
//   notifier   LISTENs for new work (storage::work_listener) and wakes the coordinator
//   sweeper    retention and data-root reconciliation every QUIRE_SWEEP_INTERVAL_SECONDS
#include "actors/runtime.hpp"

#include <unistd.h>

#include <algorithm>
#include <thread>

#include "actors/detail/actor_messages.hpp"
#include "actors/detail/job_service.hpp"
#include "actors/detail/readiness_checks.hpp"
#include "actors/detail/runtime_actors.hpp"
#include "actors/detail/webhooks.hpp"
#include "actors/metrics.hpp"
#include "actors/worker_process.hpp"
#include "gpu/page_analysis.hpp"
#include "storage/maintenance.hpp"

namespace quire::actors {

storage::result<const storage::artifact_store*> data_root::files() {
  std::lock_guard l(mu_);
  if (!files_) {
    auto opened = storage::artifact_store::open(cfg_.data_root, cfg_.profile, false);
    if (!opened) return opened.err();
    files_.emplace(std::move(*opened));
    // Best effort: a shard directory still missing is made by the shard's first file, only slower.
    if (auto s = files_->prepare_shards(); !s)
      log::warn("data_root.shards_not_prepared", {{"message", s.err().message}});
  }
  return static_cast<const storage::artifact_store*>(&*files_);
}

std::uint64_t job_change_feed::seen() const {
  std::lock_guard l(mu_);
  return seq_;
}
void job_change_feed::bump() {
  {
    std::lock_guard l(mu_);
    ++seq_;
  }
  cv_.notify_all();
}
void job_change_feed::wait(std::uint64_t seen, std::chrono::steady_clock::time_point until) const {
  std::unique_lock l(mu_);
  cv_.wait_until(l, until, [&] { return seq_ != seen; });
}

namespace {

caf::behavior notifier_actor(caf::event_based_actor* self, const runtime_context* ctx, caf::actor coordinator) {
  auto listener = std::make_shared<std::unique_ptr<storage::work_listener>>();
  self->send(self, tick_atom::value);
  return {
      [=](tick_atom) {
        mailbox_acquire(self);
        if (!*listener) {
          auto l = storage::work_listener::open(ctx->cfg.database_url, ctx->cfg.profile);
          if (!l) {
            self->delayed_send(self, std::chrono::seconds(2), tick_atom::value);
            return;
          }
          *listener = std::move(*l);
        }
        // Short waits keep this actor responsive to its exit message.
        auto r = (*listener)->wait(std::chrono::milliseconds(500));
        if (!r) listener->reset();
        else if (*r) {
          tell(self, coordinator, wake_atom::value);
        }
        self->send(self, tick_atom::value);
      },
  };
}

// How often the finished jobs are counted for quire_jobs (succeeded, failed, canceled, expired).
// That count scans every job of the profile, weeks of them under the default retention, so it is
// neither on the readiness check's path nor frequent; queued and running are counted there.
constexpr std::chrono::seconds kFinishedCountsInterval{60};
// Results hashed per sweep, continuing where the previous sweep stopped: every result is checked
// in turn (2,000 per sweep: a day's worth in a few hours at the default interval) without a
// sweep that reads the whole data root, as checking them all at every start did.
constexpr int kResultsVerifiedPerSweep = 2000;

bool publish_finished_counts(storage::job_store& store) {
  auto c = store.counts();
  if (!c) {
    log::warn("jobs.count_failed", {{"code", std::string(storage::to_string(c.err().code))}, {"message", c.err().message}});
    return false;
  }
  auto& m = service_metrics();
  for (auto s : {storage::job_status::succeeded, storage::job_status::failed, storage::job_status::canceled,
                 storage::job_status::expired})
    m.set("quire_jobs", {{"state", std::string(storage::to_string(s))}}, static_cast<double>(c->by_status.at(s)));
  return true;
}

caf::behavior sweeper_actor(caf::event_based_actor* self, const runtime_context* ctx, published* pub, data_root* root) {
  auto store = std::make_shared<std::unique_ptr<storage::job_store>>();
  auto verify_after = std::make_shared<std::string>();  // the last result verified, by id
  auto niced = std::make_shared<bool>(false);
  // First sweep soon after start (not at once: let readiness settle first).
  self->delayed_send(self, std::min<std::chrono::seconds>(std::chrono::seconds(10), ctx->cfg.sweep_interval),
                     tick_atom::value);
  self->send(self, counts_atom::value);
  return {
      [=](counts_atom) {
        mailbox_acquire(self);
        nice_this_thread(ctx->cfg, *niced);
        if (!*store) *store = open_store(*ctx).value_or(nullptr);
        const bool counted = *store && publish_finished_counts(**store);
        // No database yet (or it failed): try again soon rather than a whole interval later.
        self->delayed_send(self, counted ? kFinishedCountsInterval : std::chrono::seconds(5), counts_atom::value);
      },
      [=](tick_atom) {
        mailbox_acquire(self);
        nice_this_thread(ctx->cfg, *niced);
        if (!*store) *store = open_store(*ctx).value_or(nullptr);
        const auto* files = root->files().value_or(nullptr);  // the service's one store (and sync group)
        if (*store && files && pub->status()->readiness.ready) {
          storage::retention_policy p;
          p.input_ttl = ctx->cfg.input_retention;
          p.result_ttl = ctx->cfg.result_retention;
          p.tombstone_ttl = ctx->cfg.tombstone_retention;
          auto r = storage::run_retention(**store, *files, p);
          if (r && (r->inputs_deleted || r->jobs_expired || r->tombstones_deleted))
            log::info("retention.swept", {{"inputs_deleted", r->inputs_deleted},
                                          {"jobs_expired", r->jobs_expired},
                                          {"tombstones_deleted", r->tombstones_deleted}});
          storage::reconcile_options ro;
          ro.verify_limit = kResultsVerifiedPerSweep;
          ro.verify_after = *verify_after;
          auto rec = storage::reconcile(**store, *files, ro);
          if (rec) *verify_after = rec->verify_next_after;
          if (rec && !rec->artifact_missing.empty())
            log::error("reconcile.artifact_missing",
                       {{"jobs", rec->artifact_missing.size()},
                        {"job_ids", std::vector<std::string>(rec->artifact_missing.begin(),
                                                             rec->artifact_missing.begin() +
                                                                 std::min<std::size_t>(rec->artifact_missing.size(), 20))},
                        {"message", "succeeded jobs whose result is missing or corrupt (first 20 ids)"}});
        }
        self->delayed_send(self, ctx->cfg.sweep_interval, tick_atom::value);
      },
  };
}

std::string hostname() {
  char buf[256] = {0};
  ::gethostname(buf, sizeof buf - 1);
  return buf;
}

// Runs gpu::discover_devices (self-test included; never throws, also without a driver), records
// the report for /v1/info and a note for every allowed device that does not work, and returns the
// devices that get a converter: healthy and allowed by QUIRE_GPUS.
std::vector<int> discover_gpus(runtime_context& ctx) {
  const auto allow = ctx.cfg.gpu_allowlist();
  auto allowed = [&](int d) { return !allow || std::find(allow->begin(), allow->end(), d) != allow->end(); };
  std::vector<int> out;
  if (allow && allow->empty()) {
    ctx.gpu_report = {{"enabled", false}, {"reason", "QUIRE_GPUS=none"}};
    return out;
  }
  const gpu::device_report r = gpu::discover_devices(true);
  nlohmann::json devs = nlohmann::json::array();
  for (const auto& d : r.devices) {
    devs.push_back({{"index", d.index}, {"name", d.name}, {"compute_capability", std::to_string(d.cc_major) + "." + std::to_string(d.cc_minor)},
                    {"total_memory_bytes", d.total_memory}, {"healthy", d.healthy}, {"error", d.error},
                    {"allowed", allowed(d.index)}});
    if (!allowed(d.index)) continue;
    if (d.healthy) out.push_back(d.index);
    else ctx.discovery_notes.push_back("cuda:" + std::to_string(d.index) + " (" + d.name + ") failed its self-test: " + d.error);
  }
  if (allow)
    for (int d : *allow)
      if (std::none_of(r.devices.begin(), r.devices.end(), [&](const gpu::device_info& i) { return i.index == d; }))
        ctx.discovery_notes.push_back("QUIRE_GPUS names device " + std::to_string(d) + ", which is not visible");
  ctx.gpu_report = {{"enabled", true}, {"cuda_compiled", r.cuda_compiled}, {"driver_ok", r.driver_ok},
                    {"driver_version", r.driver_version}, {"runtime_version", r.runtime_version},
                    {"error", r.error}, {"devices", devs}};
  log::info("gpu.discovered", {{"working_devices", out.size()}, {"error", r.error}});
  for (const auto& n : ctx.discovery_notes) log::warn("gpu.note", {{"message", n}});
  return out;
}

}  // namespace

// Everything the runtime owns. It is also the actor_links through which the job service tells the
// actors something (each a message).
struct runtime::parts final : actor_links {
  parts(const service_config& cfg, std::string revision, std::vector<std::string> worker_argv) : root_(ctx_.cfg) {
    ctx_.cfg = cfg;
    ctx_.revision = std::move(revision);
    ctx_.instance = hostname() + "/" + std::to_string(::getpid()) + "/" + storage::new_job_id().substr(0, 6);
    ctx_.store_opts.database_url = cfg.database_url;
    ctx_.store_opts.profile = cfg.profile;
    ctx_.store_opts.backoff_base = std::chrono::duration_cast<std::chrono::milliseconds>(cfg.retry_backoff);
    ctx_.store_opts.result_ttl = cfg.result_retention;
    // Open the shared data-root store now (it makes the shard directories), not on the first
    // upload; a root that cannot be opened yet is retried on use and reported by readiness.
    (void)root_.files();
    const std::vector<int> devices = discover_gpus(ctx_);
    ctx_.gpu_converters = static_cast<int>(devices.size());
    {
      auto first = std::make_shared<service_status>();
      first->readiness = make_snapshot({{reason::converters_not_ready, "starting"}}, 0);
      first->readiness.ready = false;
      first->device_notes = ctx_.discovery_notes;
      pub_.publish(std::move(first));
    }
    std::vector<std::shared_ptr<converter_ctx>> convs;
    const int total = ctx_.gpu_converters + cfg.cpu_converters;
    for (int i = 0; i < total; ++i) {
      auto c = std::make_shared<converter_ctx>();
      c->index = i;
      c->ctx = &ctx_;
      c->root = &root_;
      c->worker_argv = worker_argv;
      if (i < ctx_.gpu_converters) {  // GPU converters first: index i is bound to devices[i]
        c->device = devices[static_cast<std::size_t>(i)];
        c->accel = "cuda:" + std::to_string(c->device);
        c->worker_argv.insert(c->worker_argv.end(), {"--device", std::to_string(c->device)});
      }
      if (i == cfg.test_fail_device_converter) c->worker_argv.push_back("--test-device-fails");
      log::info("converter.configured", {{"converter", i}, {"accel", c->accel}});
      convs.push_back(std::move(c));
    }
    // A plain thread that reads the outbox (notify/); started before any actor because it may throw
    // on settings that cannot work, and stopped first in shutdown().
    webhooks_ = start_webhook_delivery(ctx_.cfg, ctx_.store_opts);
    sys_cfg_.set("logger.verbosity", caf::atom("quiet"));
    sys_ = std::make_unique<caf::actor_system>(sys_cfg_);
    // Spawned in the order they need each other; every handle is fixed from here on.
    supervisor_ = sys_->spawn<caf::detached>(supervisor_actor, supervisor_args{&ctx_, &pub_, &root_, total});
    coordinator_ = sys_->spawn<caf::detached>(coordinator_actor,
                                              coordinator_args{&ctx_, &pub_, supervisor_, std::move(convs), &wake_pending_});
    notifier_ = sys_->spawn<caf::detached>(notifier_actor, &ctx_, coordinator_);
    sweeper_ = sys_->spawn<caf::detached>(sweeper_actor, &ctx_, &pub_, &root_);
    jobs_ = std::make_unique<job_service>(ctx_, root_, pub_, static_cast<actor_links&>(*this));
  }

  // actor_links: what the job service tells the actors.
  void work_submitted() override {
    if (wake_pending_.exchange(true)) return;  // one is on its way and will claim after us
    tell_anon(coordinator_, wake_atom::value);
  }
  void recheck_readiness() override { tell_anon(supervisor_, recheck_atom::value); }
  void job_canceled(const std::string& id, bool was_running) override {
    tell_anon(coordinator_, cancel_atom::value, id, was_running);
  }

  runtime_context ctx_;
  data_root root_;
  published pub_;
  std::atomic<bool> wake_pending_{false};
  caf::actor_system_config sys_cfg_;
  std::unique_ptr<caf::actor_system> sys_;
  caf::actor supervisor_, coordinator_, notifier_, sweeper_;
  std::unique_ptr<notify::delivery_loop> webhooks_;
  std::unique_ptr<job_service> jobs_;  // last: destroyed first
};


runtime::runtime(std::unique_ptr<parts> p) : p_(std::move(p)) {}
runtime::~runtime() { shutdown(); }

service& runtime::jobs() { return *p_->jobs_; }

void runtime::begin_drain() {
  auto& p = *p_;
  if (p.pub_.draining.exchange(true)) return;
  // `draining` is visible at once (job_service::readiness); the log line says so now, not at the next round.
  const auto before = p.pub_.status()->readiness;
  log::warn("readiness.changed", readiness_change_fields(before, as_draining(before)));
  tell_anon(p.coordinator_, drain_atom::value);  // no new claims; long polls answer at once
  tell_anon(p.supervisor_, recheck_atom::value);
}

bool runtime::wait_idle(std::chrono::milliseconds grace) {
  auto until = std::chrono::steady_clock::now() + grace;
  while (p_->pub_.running.load() > 0) {
    if (std::chrono::steady_clock::now() >= until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return true;
}

void runtime::hand_back() { tell_anon(p_->coordinator_, hand_back_atom::value); }
int runtime::running_jobs() const { return p_->pub_.running.load(); }

void runtime::shutdown() {
  auto& p = *p_;
  if (!p.sys_) return;
  p.webhooks_.reset();  // stops its thread (an attempt in flight ends within its timeout)
  p.pub_.draining.store(true);
  tell_anon(p.coordinator_, hand_back_atom::value);  // converters hand back what still runs ...
  for (auto* a : {&p.notifier_, &p.sweeper_, &p.coordinator_, &p.supervisor_})  // ... and exit with their coordinator
    if (*a) caf::anon_send_exit(*a, caf::exit_reason::user_shutdown);
  // ~actor_system waits for every actor: no strong handle may outlive it.
  p.notifier_ = p.sweeper_ = p.coordinator_ = p.supervisor_ = nullptr;
  p.sys_.reset();
}

quire::expected<std::unique_ptr<runtime>> runtime::start(const service_config& cfg, std::string revision,
                                                         std::vector<std::string> worker_argv) {
  try {
    return std::unique_ptr<runtime>(new runtime(std::make_unique<parts>(cfg, std::move(revision), std::move(worker_argv))));
  } catch (const std::exception& e) {
    return quire::error{errc::startup_failed, e.what()};
  }
}

}  // namespace quire::actors
