// The job coordinator: owns the converter roster (it spawns the converters), claims queued jobs for
// idle converters (woken by the notifier, by submits and by a poll tick), knows which converter
// runs which job (cancels go there), rescues expired leases, and stops claiming when draining or
// not ready. It hears of every job change this process makes and publishes it to long polls.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "actors/detail/actor_messages.hpp"
#include "actors/detail/job_log.hpp"
#include "actors/detail/routing.hpp"
#include "actors/detail/runtime_actors.hpp"
#include "actors/metrics.hpp"
#include "api/job_spec.hpp"

namespace quire::actors {
namespace {

// Whether `owner` (a lease owner, "host/pid/nonce" like ctx.instance) is an earlier run of this
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

struct roster_entry {
  caf::actor actor;
  bool gpu = false;
  bool usable = false;     // as the converter last reported (worker running, device working)
  std::string running;     // the job it runs, "" when idle
};

struct coordinator_state {
  std::vector<roster_entry> roster;
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

  std::vector<converter_slot> slots() const {
    std::vector<converter_slot> v;
    for (const auto& r : roster) v.push_back({r.gpu, r.usable, !r.running.empty()});
    return v;
  }
};

}  // namespace

caf::behavior coordinator_actor(caf::event_based_actor* self, coordinator_args a) {
  auto s = std::make_shared<coordinator_state>();
  const auto* ctx = a.ctx;
  auto* pub = a.pub;
  for (auto& c : a.converters) {
    roster_entry e;
    e.gpu = c->device >= 0;
    e.actor = self->spawn(converter_actor, c, a.supervisor, caf::actor_cast<caf::actor>(self));
    s->roster.push_back(std::move(e));
  }
  // The converters live and die with their coordinator (each finishes or hands back its job first).
  self->attach_functor([s](const caf::error&) {
    for (auto& r : s->roster) caf::anon_send_exit(r.actor, caf::exit_reason::user_shutdown);
  });
  auto claim = [=] {
    if (pub->draining.load() || !pub->status()->readiness.ready) return;
    int idle = 0;
    for (const auto& sl : s->slots()) idle += sl.usable && !sl.busy ? 1 : 0;
    if (idle == 0) return;
    if (!s->store) s->store = open_store(*ctx).value_or(nullptr);
    if (!s->store) return;
    auto lease_for = std::chrono::duration_cast<std::chrono::milliseconds>(ctx->cfg.lease);
    auto claimed = s->store->claim(ctx->instance, idle + s->lookahead, lease_for);
    if (!claimed) return;
    int handed = 0;
    for (auto& job : *claimed) {
      // A spec that cannot be read goes to any converter, whose job_run fails it (invalid_argument).
      const auto spec = api::read_stored_spec(job.job.spec, job_spec_limits(ctx->cfg));
      const auto policy = spec ? spec->execution.acceleration : convert::acceleration_policy::cpu_only;
      const int next = pick_converter(policy, s->slots());
      if (next < 0) {
        // No free converter satisfies the job's policy (e.g. gpu_required while only CPU converters
        // are idle): hand it back unspent; it is claimed again when a matching converter frees up.
        s->store->release(job.lease, "no_matching_converter");
        log::debug("job.unplaced", {{"job_id", job.job.id}, {"acceleration_policy", std::string(convert::to_string(policy))}});
        s->handed_back = true;
        ++handed;
        continue;
      }
      log_transition(job.job.id, storage::job_status::queued, storage::job_status::running, job.lease.attempt,
                     {{"converter", next}});
      auto& conv = s->roster[static_cast<std::size_t>(next)];
      conv.running = job.job.id;
      pub->running.fetch_add(1);
      pub->queued.fetch_sub(1);
      tell(self, conv.actor, run_atom::value, std::make_shared<storage::claimed_job>(std::move(job)));
    }
    s->lookahead = std::min(handed, 64);
  };
  auto rescue = [=] {
    if (!s->store) s->store = open_store(*ctx).value_or(nullptr);
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
      if (!previous_incarnation(owner, ctx->instance)) continue;
      if (auto r = s->store->rescue_owned_by(owner); r && !r->empty()) {
        service_metrics().add("quire_lease_rescues_total", {}, static_cast<double>(r->size()));
        for (const auto& id : *r)
          log::warn("job.rescued", {{"job_id", id}, {"from", "running"}, {"reason", "previous_incarnation"}, {"owner", owner}});
      }
    }
  };
  auto at = [=](int index) -> roster_entry* {
    if (index < 0 || static_cast<std::size_t>(index) >= s->roster.size()) return nullptr;
    return &s->roster[static_cast<std::size_t>(index)];
  };
  self->send(self, tick_atom::value);
  return {
      [=](tick_atom) {
        mailbox_acquire(self);
        rescue();
        s->handed_back = false;
        claim();
        self->delayed_send(self, ctx->cfg.poll_interval, tick_atom::value);
      },
      [=](wake_atom) {
        mailbox_acquire(self);
        a.wake_pending->store(false);  // before the claim: a later wake-up sends a new message
        if (!s->handed_back) claim();
      },
      [=](done_atom, int index) {
        mailbox_acquire(self);
        if (auto* r = at(index)) r->running.clear();
        pub->running.fetch_sub(1);
        pub->changes.bump();
        s->handed_back = false;
        claim();
      },
      [=](live_atom, int index, bool usable) {
        mailbox_acquire(self);
        auto* r = at(index);
        if (!r) return;
        const bool became_usable = usable && !r->usable;
        r->usable = usable;
        if (became_usable) claim();
      },
      [=](changed_atom) {
        mailbox_acquire(self);
        pub->changes.bump();
      },
      [=](cancel_atom, const std::string& id, bool was_running) {
        mailbox_acquire(self);
        // The converter running it here stops at its next tick; elsewhere, at its next heartbeat.
        if (was_running)
          for (auto& r : s->roster)
            if (r.running == id) tell(self, r.actor, cancel_atom::value, id);
        pub->changes.bump();
      },
      [=](drain_atom) {  // published::draining is set: no more claims
        mailbox_acquire(self);
        pub->changes.bump();  // long polls answer at once while draining
      },
      [=](hand_back_atom) {
        mailbox_acquire(self);
        for (auto& r : s->roster) tell(self, r.actor, hand_back_atom::value);
      },
  };
}

}  // namespace quire::actors
