// The CAF side of the runtime: the actor system and its actors. Every actor here is detached
// (its own thread) because each one blocks: on the database, the disk or a worker process.
//   readiness  re-evaluates the readiness contract every QUIRE_READINESS_INTERVAL_SECONDS and on events
//   coordinator claims queued jobs for idle converters (woken by the notifier, by submits and by a
//              poll tick), rescues expired leases, and stops claiming when draining or not ready
//   notifier   LISTENs for new work (storage::work_listener) and wakes the coordinator
//   converter  one per working GPU (its worker bound to the device with --device N) plus
//              QUIRE_CPU_CONVERTERS CPU ones; supervises a `quire worker` child, one job at a time
//   sweeper    retention and data-root reconciliation every QUIRE_SWEEP_INTERVAL_SECONDS
#include "actors/runtime.hpp"

#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <caf/all.hpp>
#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <thread>

#include "actors/job_api.hpp"
#include "actors/job_log.hpp"
#include "actors/metrics.hpp"
#include "actors/routing.hpp"
#include "actors/converter.hpp"
#include "actors/runtime_state.hpp"
#include "actors/worker_process.hpp"
#include "gpu/page_analysis.hpp"
#include "storage/maintenance.hpp"

using quire_claimed_ptr = std::shared_ptr<quire::storage::claimed_job>;
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(quire_claimed_ptr)

namespace quire::actors {
namespace {

using tick_atom = caf::atom_constant<caf::atom("tick")>;
using wake_atom = caf::atom_constant<caf::atom("wake")>;
using run_atom = caf::atom_constant<caf::atom("run")>;
using done_atom = caf::atom_constant<caf::atom("done")>;
using recheck_atom = caf::atom_constant<caf::atom("recheck")>;
using counts_atom = caf::atom_constant<caf::atom("counts")>;

// ThreadSanitizer cannot see CAF's mailbox hand-off: Debian's libcaf_core is not instrumented and
// passes a message with an atomic exchange inside the library. Model each actor's mailbox as a
// release (by the sender, after the payload is built) and an acquire (first thing in every handler)
// on the receiving actor's control block, so a payload is not reported as raced while real races
// between actors stay visible. No code at all without TSan (docs/reliability.md, "Sanitizers").
#if defined(__SANITIZE_THREAD__)
#define QUIRE_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define QUIRE_TSAN 1
#endif
#endif
#ifdef QUIRE_TSAN
extern "C" void __tsan_acquire(void* addr);
extern "C" void __tsan_release(void* addr);
void mailbox_release(const caf::actor& to) {
  if (to) __tsan_release(caf::actor_cast<caf::actor_control_block*>(to));
}
void mailbox_acquire(caf::local_actor* self) { __tsan_acquire(self->ctrl()); }
#else
void mailbox_release(const caf::actor&) {}
void mailbox_acquire(caf::local_actor*) {}
#endif

std::unique_ptr<storage::job_store> open_store(shared_state* st, std::string* why = nullptr) {
  auto s = storage::job_store::open(st->store_opts);
  if (!s) {
    if (why) *why = s.err().message;
    return nullptr;
  }
  return std::move(*s);
}

caf::behavior readiness_actor(caf::event_based_actor* self, shared_state* st) {
  auto store = std::make_shared<std::unique_ptr<storage::job_store>>();
  auto evaluate = [=] {
    std::string open_error;
    if (!*store) *store = open_store(st, &open_error);
    auto before = st->get_snapshot();
    auto snap = evaluate_readiness(*st, store->get());
    if (!open_error.empty())  // libpq's reason, for the log and /readyz?verbose
      for (auto& r : snap.reasons)
        if (r.code == reason::database_unreachable && r.message == "cannot connect to the database")
          r.message += ": " + open_error;
    if (readiness_changed(before, snap))
      log::emit(snap.ready ? log::level::info : log::level::warn, "readiness.changed", readiness_change_fields(before, snap));
    st->set_snapshot(std::move(snap));
    // Lines the log queue dropped since the last check (stderr not keeping up).
    static std::uint64_t dropped_seen = 0;
    if (const auto dropped = log::dropped(); dropped > dropped_seen) {
      service_metrics().add("quire_log_lines_dropped_total", {}, static_cast<double>(dropped - dropped_seen));
      dropped_seen = dropped;
    }
  };
  self->send(self, tick_atom::value);
  return {
      [=](tick_atom) {
        mailbox_acquire(self);
        evaluate();
        self->delayed_send(self, st->cfg.readiness_interval, tick_atom::value);
      },
      [=](recheck_atom) {
        mailbox_acquire(self);
        evaluate();
      },
  };
}

// Background work yields the CPU to answering requests: a converter's own thread (publishing
// results, talking to the database, renewing leases) and the sweeper's run at the workers'
// niceness (QUIRE_WORKER_NICE), set once per thread.
void nice_this_thread(const shared_state& st, bool& niced) {
  if (niced) return;
  niced = true;
  if (st.cfg.worker_nice > 0) ::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), st.cfg.worker_nice);
}

caf::behavior converter_actor(caf::event_based_actor* self, std::shared_ptr<converter_ctx> c) {
  self->send(self, tick_atom::value);
  return {
      [=](tick_atom) {
        mailbox_acquire(self);
        // Runs in this actor's own thread, which is also the worker's PDEATHSIG parent thread.
        nice_this_thread(*c->st, c->thread_niced);
        if (!c->store) c->store = open_store(c->st);
        if (!c->files) c->files = c->st->data_root_files();
        if (c->device_failed) {  // a dead device is not restarted: readiness reports it until a restart
          self->delayed_send(self, std::chrono::seconds(1), tick_atom::value);
          return;
        }
        if (c->worker && c->worker->running() && !c->worker->check_alive()) {
          log::warn("worker.exited", {{"converter", c->index}, {"while", "idle"}, {"exit", c->worker->last_exit()}});
          service_metrics().add("quire_worker_crashes_total", {{"cause", "idle"}});
          set_live(*c, false);
          if (c->st->recheck_readiness) c->st->recheck_readiness();
        }
        bool was_live = c->counted_live;
        ensure_worker(*c);
        if (was_live != c->counted_live && c->st->recheck_readiness) c->st->recheck_readiness();
        self->delayed_send(self, std::chrono::seconds(1), tick_atom::value);
      },
      [=](run_atom, const quire_claimed_ptr& job) {
        mailbox_acquire(self);
        nice_this_thread(*c->st, c->thread_niced);
        auto sender = caf::actor_cast<caf::actor>(self->current_sender());
        if (!c->store) c->store = open_store(c->st);
        if (!c->files) c->files = c->st->data_root_files();
        if (c->store && c->files) {
          run_claimed_job(*c, *job);
        } else if (c->store) {
          c->store->release(job->lease, "data_root_unavailable");
        }  // no database: the lease expires and the job is rescued
        mailbox_release(sender);
        self->send(sender, done_atom::value, c->index);
      },
  };
}

// Whether `owner` (a lease owner, "host/pid/nonce" like st->instance) is an earlier run of this
// replica: the same host and either our own pid (a container restarts as pid 1 again) or a pid
// that no longer exists. Its leases then belong to nobody alive; waiting for them to expire
// (QUIRE_LEASE_SECONDS) would only delay those jobs.
bool previous_incarnation(const std::string& owner, const std::string& me) {
  const auto host_end = me.find('/');
  if (owner == me || host_end == std::string::npos || owner.compare(0, host_end + 1, me, 0, host_end + 1) != 0)
    return false;
  const auto pid_end = owner.find('/', host_end + 1);
  if (pid_end == std::string::npos) return false;
  const auto pid_text = owner.substr(host_end + 1, pid_end - host_end - 1);
  if (pid_text.empty() || pid_text.size() > 9 || pid_text.find_first_not_of("0123456789") != std::string::npos)
    return false;
  const auto pid = static_cast<pid_t>(std::stol(pid_text));
  return pid == ::getpid() || (pid > 0 && ::kill(pid, 0) != 0 && errno == ESRCH);
}

struct coordinator_state {
  std::vector<caf::actor> converters;
  std::vector<std::shared_ptr<converter_ctx>> ctx;  // read only: device and the atomic `usable`
  std::vector<bool> busy;
  std::unique_ptr<storage::job_store> store;
  // Set when a claimed job had to be handed back (no free converter satisfies its policy). The
  // hand-back itself announces work, which would wake us to claim the same job again at once: a hot
  // loop. While set, wake-ups do not claim; the poll tick and a converter finishing do (and clear it).
  bool handed_back = false;
  bool own_leases_rescued = false;  // once at start: see previous_incarnation
  // Jobs handed back in the last claim round. The next round claims that many more than there are
  // idle converters, so jobs queued behind unplaceable ones (gpu_required with only CPU converters
  // free) are reached instead of starving behind them.
  int lookahead = 0;
};

caf::behavior coordinator_actor(caf::event_based_actor* self, shared_state* st, std::vector<caf::actor> converters,
                                std::vector<std::shared_ptr<converter_ctx>> ctx) {
  auto s = std::make_shared<coordinator_state>();
  s->converters = std::move(converters);
  s->ctx = std::move(ctx);
  s->busy.assign(s->converters.size(), false);
  auto slots = [=] {
    std::vector<converter_slot> v(s->converters.size());
    for (std::size_t i = 0; i < v.size(); ++i)
      v[i] = {s->ctx[i]->device >= 0, s->ctx[i]->usable.load(), s->busy[i]};
    return v;
  };
  auto claim = [=] {
    if (st->draining.load() || !st->get_snapshot().ready) return;
    int idle = 0;
    for (const auto& sl : slots()) idle += sl.usable && !sl.busy ? 1 : 0;
    if (idle == 0) return;
    if (!s->store) s->store = open_store(st);
    if (!s->store) return;
    auto lease_for = std::chrono::duration_cast<std::chrono::milliseconds>(st->cfg.lease);
    auto claimed = s->store->claim(st->instance, idle + s->lookahead, lease_for);
    if (!claimed) return;
    int handed = 0;
    for (auto& job : *claimed) {
      const std::string policy = job.job.spec.value("execution", nlohmann::json::object())
                                     .value("acceleration_policy", st->cfg.effective_acceleration_policy());
      const int next = pick_converter(policy, slots());
      if (next < 0) {
        // No free converter satisfies the job's policy (e.g. gpu_required while only CPU converters
        // are idle): hand it back unspent; it is claimed again when a matching converter frees up.
        s->store->release(job.lease, "no_matching_converter");
        log::debug("job.unplaced", {{"job_id", job.job.id}, {"acceleration_policy", policy}});
        s->handed_back = true;
        ++handed;
        continue;
      }
      log_transition(job.job.id, storage::job_status::queued, storage::job_status::running, job.lease.attempt,
                     {{"converter", next}});
      s->busy[next] = true;
      st->running.fetch_add(1);
      st->queued.fetch_sub(1);
      auto payload = std::make_shared<storage::claimed_job>(std::move(job));
      mailbox_release(s->converters[next]);
      self->send(s->converters[next], run_atom::value, std::move(payload));
    }
    s->lookahead = std::min(handed, 64);
  };
  auto rescue = [=] {
    if (!s->store) s->store = open_store(st);
    if (!s->store) return;
    if (auto r = s->store->rescue_expired(); r && !r->empty()) {
      service_metrics().add("quire_lease_rescues_total", {}, static_cast<double>(r->size()));
      // The store requeues each (or fails it when its attempts are spent); the ids are what it says.
      for (const auto& id : *r) log::warn("job.rescued", {{"job_id", id}, {"from", "running"}, {"reason", "lease_expired"}});
    }
    if (s->own_leases_rescued) return;
    auto owners = s->store->running_lease_owners();
    if (!owners) return;  // tried again next tick
    s->own_leases_rescued = true;
    for (const auto& owner : *owners) {
      if (!previous_incarnation(owner, st->instance)) continue;
      if (auto r = s->store->rescue_owned_by(owner); r && !r->empty()) {
        service_metrics().add("quire_lease_rescues_total", {}, static_cast<double>(r->size()));
        for (const auto& id : *r)
          log::warn("job.rescued", {{"job_id", id}, {"from", "running"}, {"reason", "previous_incarnation"}, {"owner", owner}});
      }
    }
  };
  self->send(self, tick_atom::value);
  return {
      [=](tick_atom) {
        mailbox_acquire(self);
        rescue();
        s->handed_back = false;
        claim();
        self->delayed_send(self, st->cfg.poll_interval, tick_atom::value);
      },
      [=](wake_atom) {
        mailbox_acquire(self);
        st->wake_pending.store(false);  // before the claim: a later wake-up sends a new message
        if (!s->handed_back) claim();
      },
      [=](done_atom, int index) {
        mailbox_acquire(self);
        if (index >= 0 && static_cast<std::size_t>(index) < s->busy.size()) s->busy[index] = false;
        st->running.fetch_sub(1);
        st->notify_change();
        s->handed_back = false;
        claim();
      },
  };
}

caf::behavior notifier_actor(caf::event_based_actor* self, shared_state* st, caf::actor coordinator) {
  auto listener = std::make_shared<std::unique_ptr<storage::work_listener>>();
  self->send(self, tick_atom::value);
  return {
      [=](tick_atom) {
        mailbox_acquire(self);
        if (!*listener) {
          auto l = storage::work_listener::open(st->cfg.database_url, st->cfg.profile);
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
          mailbox_release(coordinator);
          self->send(coordinator, wake_atom::value);
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

caf::behavior sweeper_actor(caf::event_based_actor* self, shared_state* st) {
  auto store = std::make_shared<std::unique_ptr<storage::job_store>>();
  auto verify_after = std::make_shared<std::string>();  // the last result verified, by id
  auto niced = std::make_shared<bool>(false);
  // First sweep soon after start (not at once: let readiness settle first).
  self->delayed_send(self, std::min<std::chrono::seconds>(std::chrono::seconds(10), st->cfg.sweep_interval),
                     tick_atom::value);
  self->send(self, counts_atom::value);
  return {
      [=](counts_atom) {
        mailbox_acquire(self);
        nice_this_thread(*st, *niced);
        if (!*store) *store = open_store(st);
        const bool counted = *store && publish_finished_counts(**store);
        // No database yet (or it failed): try again soon rather than a whole interval later.
        self->delayed_send(self, counted ? kFinishedCountsInterval : std::chrono::seconds(5), counts_atom::value);
      },
      [=](tick_atom) {
        mailbox_acquire(self);
        nice_this_thread(*st, *niced);
        if (!*store) *store = open_store(st);
        const auto* files = st->data_root_files();  // the service's one store (and sync group)
        if (*store && files && st->get_snapshot().ready) {
          storage::retention_policy p;
          p.input_ttl = st->cfg.input_retention;
          p.result_ttl = st->cfg.result_retention;
          p.tombstone_ttl = st->cfg.tombstone_retention;
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
        self->delayed_send(self, st->cfg.sweep_interval, tick_atom::value);
      },
  };
}

std::string hostname() {
  char buf[256] = {0};
  ::gethostname(buf, sizeof buf - 1);
  return buf;
}

class runtime_impl final : public runtime {
 public:
  runtime_impl(const service_config& cfg, std::string revision, std::vector<std::string> worker_argv) {
    st_.cfg = cfg;
    st_.revision = std::move(revision);
    st_.instance = hostname() + "/" + std::to_string(::getpid()) + "/" + storage::new_job_id().substr(0, 6);
    st_.store_opts.database_url = cfg.database_url;
    st_.store_opts.profile = cfg.profile;
    st_.store_opts.backoff_base = std::chrono::duration_cast<std::chrono::milliseconds>(cfg.retry_backoff);
    st_.store_opts.result_ttl = cfg.result_retention;
    st_.snapshot = make_snapshot({{reason::converters_not_ready, "starting"}}, 0);
    st_.snapshot.ready = false;
    api_ = std::make_unique<job_api>(st_);
    // Open the shared data-root store now (it makes the shard directories), not on the first
    // upload; a root that cannot be opened yet is retried on use and reported by readiness.
    (void)st_.data_root_files();
    const std::vector<int> devices = discover_gpus();
    st_.gpu_converters = static_cast<int>(devices.size());

    // The callbacks exist before any actor thread that calls them; the handles they read are
    // written under handles_mu_ (actors may call them while the rest are still being spawned).
    st_.wake_coordinator = [this] {
      if (st_.wake_pending.exchange(true)) return;  // one is on its way and will claim after us
      std::lock_guard l(handles_mu_);
      if (coordinator_) {
        mailbox_release(coordinator_);
        caf::anon_send(coordinator_, wake_atom::value);
      } else {
        st_.wake_pending.store(false);  // nobody to wake yet: the next call tries again
      }
    };
    st_.recheck_readiness = [this] {
      std::lock_guard l(handles_mu_);
      if (supervisor_) {
        mailbox_release(supervisor_);
        caf::anon_send(supervisor_, recheck_atom::value);
      }
    };
    sys_cfg_.set("logger.verbosity", caf::atom("quiet"));
    sys_ = std::make_unique<caf::actor_system>(sys_cfg_);
    std::unique_lock handles(handles_mu_);
    supervisor_ = sys_->spawn<caf::detached>(readiness_actor, &st_);
    std::vector<caf::actor> convs;
    std::vector<std::shared_ptr<converter_ctx>> ctxs;
    const int total = st_.gpu_converters + cfg.cpu_converters;
    for (int i = 0; i < total; ++i) {
      auto ctx = std::make_shared<converter_ctx>();
      ctx->index = i;
      ctx->st = &st_;
      ctx->worker_argv = worker_argv;
      if (i < st_.gpu_converters) {  // GPU converters first: index i is bound to devices[i]
        ctx->device = devices[static_cast<std::size_t>(i)];
        ctx->accel = "cuda:" + std::to_string(ctx->device);
        ctx->worker_argv.insert(ctx->worker_argv.end(), {"--device", std::to_string(ctx->device)});
      }
      if (i == cfg.test_fail_device_converter) ctx->worker_argv.push_back("--test-device-fails");
      log::info("converter.configured", {{"converter", i}, {"accel", ctx->accel}});
      ctxs.push_back(ctx);
      convs.push_back(sys_->spawn<caf::detached>(converter_actor, ctx));
    }
    converters_ = convs;
    coordinator_ = sys_->spawn<caf::detached>(coordinator_actor, &st_, std::move(convs), std::move(ctxs));
    notifier_ = sys_->spawn<caf::detached>(notifier_actor, &st_, coordinator_);
    sweeper_ = sys_->spawn<caf::detached>(sweeper_actor, &st_);
  }

  ~runtime_impl() override { shutdown(); }

  // Runs gpu::discover_devices (self-test included; never throws, also without a driver), records
  // the report for /v1/info and a note for every allowed device that does not work, and returns the
  // devices that get a converter: healthy and allowed by QUIRE_GPUS.
  std::vector<int> discover_gpus() {
    const auto allow = st_.cfg.gpu_allowlist();
    auto allowed = [&](int d) { return !allow || std::find(allow->begin(), allow->end(), d) != allow->end(); };
    std::vector<int> out;
    if (allow && allow->empty()) {
      st_.gpu_report = {{"enabled", false}, {"reason", "QUIRE_GPUS=none"}};
      return out;
    }
    const gpu::DeviceReport r = gpu::discover_devices(true);
    nlohmann::json devs = nlohmann::json::array();
    for (const auto& d : r.devices) {
      devs.push_back({{"index", d.index}, {"name", d.name}, {"compute_capability", std::to_string(d.cc_major) + "." + std::to_string(d.cc_minor)},
                      {"total_memory_bytes", d.total_memory}, {"healthy", d.healthy}, {"error", d.error},
                      {"allowed", allowed(d.index)}});
      if (!allowed(d.index)) continue;
      if (d.healthy) out.push_back(d.index);
      else st_.add_device_note("cuda:" + std::to_string(d.index) + " (" + d.name + ") failed its self-test: " + d.error);
    }
    if (allow)
      for (int d : *allow)
        if (std::none_of(r.devices.begin(), r.devices.end(), [&](const gpu::DeviceInfo& i) { return i.index == d; }))
          st_.add_device_note("QUIRE_GPUS names device " + std::to_string(d) + ", which is not visible");
    st_.gpu_report = {{"enabled", true}, {"cuda_compiled", r.cuda_compiled}, {"driver_ok", r.driver_ok},
                      {"driver_version", r.driver_version}, {"runtime_version", r.runtime_version},
                      {"error", r.error}, {"devices", devs}};
    log::info("gpu.discovered", {{"working_devices", out.size()}, {"error", r.error}});
    for (const auto& n : st_.get_device_notes()) log::warn("gpu.note", {{"message", n}});
    return out;
  }

  readiness_snapshot readiness() const override { return const_cast<shared_state&>(st_).get_snapshot(); }

  nlohmann::json info() const override {
    return {{"api_version", "v1"},
            {"service", "quire"},
            {"revision", st_.revision},
            {"expected_revision", st_.cfg.expected_revision},
            {"profile", st_.cfg.profile},
            {"instance", st_.instance},
            {"acceleration_policy", st_.cfg.effective_acceleration_policy()},
            {"acceleration_override", st_.cfg.cpu_override()},
            {"warnings", warnings()},
            {"gpu", st_.gpu_report},
            {"ocr_languages", st_.cfg.ocr_languages},
            {"capabilities",
             {{"cpu_converters", st_.cfg.cpu_converters},
              {"live_converters", st_.live_converters.load()},
              {"gpu_converters", st_.gpu_converters},
              {"live_gpu_converters", st_.live_gpu_converters.load()},
              {"max_upload_bytes", st_.cfg.max_upload_bytes},
              {"max_pages", st_.cfg.max_pages},
              {"max_document_timeout_seconds", st_.cfg.document_timeout.count()},
              {"input_types", {"application/pdf"}},
              {"output_types", {"text/markdown"}},
              {"auth", st_.cfg.api_keys.empty() ? "disabled" : "api_key"}}}};
  }

  api_result<submitted> submit(const submission& s) override { return api_->submit(s); }
  void submit_async(const submission& s, std::function<void(api_result<submitted>)> done) override {
    api_->submit_async(s, std::move(done));
  }
  api_result<nlohmann::json> get_job(const std::string& id, const std::string& k) override { return api_->get_job(id, k); }
  api_result<nlohmann::json> wait_job(const std::string& id, const std::string& k, std::chrono::milliseconds w) override {
    return api_->wait_job(id, k, w);
  }
  api_result<job_page> list_jobs(const list_query& q, const std::string& k) override { return api_->list_jobs(q, k); }
  api_result<nlohmann::json> cancel_job(const std::string& id, const std::string& k) override {
    return api_->cancel_job(id, k);
  }
  api_result<result_view> get_result(const std::string& id, const std::string& k, bool md) override {
    return api_->get_result(id, k, md);
  }
  api_result<result_view> get_artifact(const std::string& id, const std::string& k, const std::string& n) override {
    return api_->get_artifact(id, k, n);
  }
  std::int64_t queued_jobs() const override { return st_.queued.load(); }
  int working_gpu_converters() const override { return st_.live_gpu_converters.load(); }

  std::vector<std::string> warnings() const {
    auto w = config_warnings(st_.cfg);
    for (auto& n : const_cast<shared_state&>(st_).get_device_notes()) w.push_back("gpu: " + n);
    return w;
  }

  void begin_drain() override {
    if (st_.draining.exchange(true)) return;
    // Publish `draining` at once instead of waiting for the next readiness round.
    const auto before = st_.get_snapshot();
    auto snap = before;
    snap.ready = false;
    snap.reasons.insert(snap.reasons.begin(), {reason::draining, "SIGTERM received"});
    log::warn("readiness.changed", readiness_change_fields(before, snap));
    st_.set_snapshot(snap);
    st_.notify_change();  // wake long polls
    st_.recheck_readiness();
  }

  bool wait_idle(std::chrono::milliseconds grace) override {
    auto until = std::chrono::steady_clock::now() + grace;
    while (st_.running.load() > 0) {
      if (std::chrono::steady_clock::now() >= until) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return true;
  }

  void hand_back() override { st_.hand_back.store(true); }
  int running_jobs() const override { return st_.running.load(); }

  void shutdown() override {
    if (!sys_) return;
    st_.draining.store(true);
    st_.hand_back.store(true);
    {
      std::lock_guard l(handles_mu_);
      for (auto* a : {&notifier_, &sweeper_, &coordinator_, &supervisor_})
        if (*a) caf::anon_send_exit(*a, caf::exit_reason::user_shutdown);
      for (auto& c : converters_) caf::anon_send_exit(c, caf::exit_reason::user_shutdown);
      // ~actor_system waits for every actor: no strong handle may outlive it.
      notifier_ = sweeper_ = coordinator_ = supervisor_ = nullptr;
      converters_.clear();
    }
    sys_.reset();
  }

 private:
  shared_state st_;
  std::unique_ptr<job_api> api_;
  caf::actor_system_config sys_cfg_;
  std::unique_ptr<caf::actor_system> sys_;
  std::mutex handles_mu_;
  caf::actor supervisor_, coordinator_, notifier_, sweeper_;
  std::vector<caf::actor> converters_;
};

}  // namespace

runtime::~runtime() = default;

std::unique_ptr<runtime> runtime::start(const service_config& cfg, std::string revision,
                                        std::vector<std::string> worker_argv, std::string& error) {
  try {
    return std::make_unique<runtime_impl>(cfg, std::move(revision), std::move(worker_argv));
  } catch (const std::exception& e) {
    error = e.what();
    return nullptr;
  }
}

}  // namespace quire::actors
