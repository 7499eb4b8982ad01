// The readiness supervisor: re-evaluates the readiness contract every QUIRE_READINESS_INTERVAL_SECONDS
// and on events, keeps the converters' liveness and the device notes, and publishes all of it as
// one immutable service_status (detail/runtime_context.hpp).
#include <sys/resource.h>
#include <algorithm>
#include <unistd.h>

#include "actors/detail/actor_messages.hpp"
#include "actors/detail/readiness_checks.hpp"
#include "actors/detail/runtime_actors.hpp"
#include "actors/metrics.hpp"

namespace quire::actors {

void nice_this_thread(const service_config& cfg, bool& niced) {
  if (niced) return;
  niced = true;
  if (cfg.worker_nice > 0) ::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), cfg.worker_nice);
}

storage::result<std::unique_ptr<storage::job_store>> open_store(const runtime_context& ctx) {
  return storage::job_store::open(ctx.store_opts);
}

// The readiness contract's checks, in order (readiness.hpp); blocking (database, disk).
readiness_snapshot evaluate_readiness(const readiness_inputs& in, published& pub) {
  const auto& cfg = in.ctx.cfg;
  auto* store = in.store;
  std::vector<failing_check> f;
  if (in.draining) f.push_back({reason::draining, "SIGTERM received: finishing or handing back running jobs"});
  check_revision(in.ctx.revision, cfg.expected_revision, f);
  check_data_root(cfg, f);
  check_data_root_space(cfg.data_root, data_root_reserve_bytes(cfg), f);
  if (cfg.database_url.empty()) {
    // Never fall back to libpq's defaults (PGHOST, a local socket): that could be another lane's.
    f.push_back({reason::database_unreachable, "QUIRE_DATABASE_URL is not set"});
  } else if (!store) {
    f.push_back({reason::database_unreachable, "cannot connect to the database"});
  } else if (auto p = store->ping(); !p) {
    f.push_back({reason::database_unreachable, p.err().message});
  } else {
    if (auto s = store->check_schema(); !s) {
      f.push_back({reason::schema_version_mismatch, s.err().message});
    } else if (auto d = store->bind_deployment(); !d) {  // first start records our profile
      if (d.err().code == storage::errc::database_profile_mismatch) f.push_back({reason::database_profile_mismatch, d.err().message});
      else if (d.err().code == storage::errc::database_unreachable) f.push_back({reason::database_unreachable, d.err().message});
      else f.push_back({reason::schema_version_mismatch, d.err().message});  // e.g. table absent before migration
    }
    // Queued and running only: their count is bounded, the finished jobs' is not (the sweeper
    // counts those, off this path: publish_finished_counts).
    auto c = store->active_counts();
    // A database that answers the checks above but not this read (a locked table past
    // lock_timeout, statement_timeout) cannot take traffic either.
    if (!c && c.err().code == storage::errc::database_unreachable) f.push_back({reason::database_unreachable, c.err().message});
    if (c) {
      auto& m = service_metrics();
      for (const auto& [status, n] : c->by_status)
        m.set("quire_jobs", {{"state", std::string(storage::to_string(status))}}, static_cast<double>(n));
      const auto q = c->by_status.at(storage::job_status::queued);
      m.set("quire_queue_depth", {}, static_cast<double>(q));
      m.set("quire_queue_oldest_age_seconds", {}, c->oldest_queued_age_seconds);
      m.set("quire_leases_expired", {}, static_cast<double>(c->leases_expired));
      pub.queued.store(q);
    }
  }
  const auto& notes = in.device_notes;
  std::string gpu_detail = in.ctx.gpu_converters == 0 ? in.ctx.gpu_report.value("error", std::string()) : std::string();
  if (in.ctx.gpu_converters > 0)
    gpu_detail = std::to_string(in.live_gpu_converters) + " of " + std::to_string(in.ctx.gpu_converters) + " running";
  for (const auto& n : notes) gpu_detail += (gpu_detail.empty() ? "" : "; ") + n;
  check_gpu(cfg, in.live_gpu_converters, f, gpu_detail);
  check_converters(cfg.cpu_converters + in.ctx.gpu_converters, in.live_converters, f);

  auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                 std::chrono::system_clock::now().time_since_epoch()).count();
  auto snap = make_snapshot(std::move(f), now);
  snap.warnings = config_warnings(cfg);
  for (const auto& n : notes) snap.warnings.push_back("gpu: " + n);
  auto& m = service_metrics();
  m.set("quire_ready", {}, snap.ready ? 1 : 0);
  m.clear("quire_readiness_failing");
  for (const auto& r : snap.reasons) m.set("quire_readiness_failing", {{"reason", std::string(to_string(r.code))}}, 1);
  return snap;
}

readiness_snapshot as_draining(readiness_snapshot snap) {
  if (std::none_of(snap.reasons.begin(), snap.reasons.end(), [](const failing_check& f) { return f.code == reason::draining; })) {
    snap.ready = false;
    snap.reasons.insert(snap.reasons.begin(), {reason::draining, "SIGTERM received"});
  }
  return snap;
}

namespace {

struct supervisor_state {
  std::unique_ptr<storage::job_store> store;
  std::vector<bool> live, gpu;  // per converter, as last reported
  std::vector<std::string> device_notes;
  readiness_snapshot snapshot;  // the last evaluation
  std::uint64_t log_lines_dropped_seen = 0;

  int live_count(bool gpu_only) const {
    int n = 0;
    for (std::size_t i = 0; i < live.size(); ++i) n += live[i] && (!gpu_only || gpu[i]) ? 1 : 0;
    return n;
  }
};

}  // namespace

caf::behavior supervisor_actor(caf::event_based_actor* self, supervisor_args a) {
  auto s = std::make_shared<supervisor_state>();
  s->live.assign(static_cast<std::size_t>(a.converters), false);
  s->gpu.assign(static_cast<std::size_t>(a.converters), false);
  s->device_notes = a.ctx->discovery_notes;
  s->snapshot = a.pub->status()->readiness;
  auto publish = [=] {
    auto st = std::make_shared<service_status>();
    st->readiness = s->snapshot;
    st->live_converters = s->live_count(false);
    st->live_gpu_converters = s->live_count(true);
    st->device_notes = s->device_notes;
    a.pub->publish(std::move(st));
  };
  auto evaluate = [=] {
    std::string open_error;
    if (!s->store) {
      auto opened = open_store(*a.ctx);
      if (opened) s->store = std::move(*opened);
      else open_error = opened.err().message;
    }
    auto snap = evaluate_readiness({*a.ctx, s->store.get(), a.pub->draining.load(), s->live_count(false),
                                    s->live_count(true), s->device_notes},
                                   *a.pub);
    if (!open_error.empty())  // libpq's reason, for the log and /readyz?verbose
      for (auto& r : snap.reasons)
        if (r.code == reason::database_unreachable && r.message == "cannot connect to the database")
          r.message += ": " + open_error;
    // Compared with what was visible: after SIGTERM that already said `draining` (runtime::readiness).
    const auto before = a.pub->draining.load() ? as_draining(s->snapshot) : s->snapshot;
    if (readiness_changed(before, snap))
      log::emit(snap.ready ? log::level::info : log::level::warn, "readiness.changed", readiness_change_fields(before, snap));
    s->snapshot = std::move(snap);
    publish();
    // Lines the log queue dropped since the last check (stderr not keeping up).
    if (const auto dropped = log::dropped(); dropped > s->log_lines_dropped_seen) {
      service_metrics().add("quire_log_lines_dropped_total", {}, static_cast<double>(dropped - s->log_lines_dropped_seen));
      s->log_lines_dropped_seen = dropped;
    }
  };
  self->send(self, tick_atom::value);
  return {
      [=](tick_atom) {
        mailbox_acquire(self);
        evaluate();
        self->delayed_send(self, a.ctx->cfg.readiness_interval, tick_atom::value);
      },
      [=](recheck_atom) {
        mailbox_acquire(self);
        evaluate();
      },
      [=](live_atom, int index, bool gpu, bool live) {
        mailbox_acquire(self);
        if (index < 0 || static_cast<std::size_t>(index) >= s->live.size()) return;
        s->live[static_cast<std::size_t>(index)] = live;
        s->gpu[static_cast<std::size_t>(index)] = gpu;
        service_metrics().set("quire_converters_live", {}, s->live_count(false));
        service_metrics().set("quire_gpu_converters_live", {}, s->live_count(true));
        publish();   // the counts at once (submits check working GPU converters) ...
        evaluate();  // ... and the readiness they imply
      },
      [=](device_atom, const std::string& note) {
        mailbox_acquire(self);
        s->device_notes.push_back(note);
        evaluate();
      },
  };
}

}  // namespace quire::actors
