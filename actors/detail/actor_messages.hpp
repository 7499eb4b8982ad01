// Internal to actors/ (CAF translation units only): the messages the runtime's actors exchange,
// and `tell` / `tell_anon`, which every send goes through.
//
//   job service  → coordinator  wake                 work was submitted (folded: see wake_pending)
//                → coordinator  cancel, id           a job was canceled through this process's API
//                → supervisor   recheck              e.g. an upload refused for a full data root
//   runtime      → coordinator  drain | hand_back    SIGTERM; the drain grace is over
//   notifier     → coordinator  wake                 another replica (or a requeue) announced work
//   coordinator  → converter    run, claimed job     the converter is idle and matches the policy
//                → converter    cancel, id | hand_back
//   converter    → coordinator  done, index          the job's outcome is recorded
//                → coordinator  changed              progress or an outcome (long polls wake)
//                → coordinator  live, index, bool    may (not) be given work
//                → supervisor   live, index, bool    counts for readiness and /v1/info
//                → supervisor   device_failed, note  the device is out of service until a restart
//                → supervisor   recheck
#pragma once

#include <caf/all.hpp>
#include <memory>

#include "storage/job_store.hpp"

using quire_claimed_ptr = std::shared_ptr<quire::storage::claimed_job>;
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(quire_claimed_ptr)

namespace quire::actors {

using tick_atom = caf::atom_constant<caf::atom("tick")>;
using wake_atom = caf::atom_constant<caf::atom("wake")>;
using run_atom = caf::atom_constant<caf::atom("run")>;
using done_atom = caf::atom_constant<caf::atom("done")>;
using recheck_atom = caf::atom_constant<caf::atom("recheck")>;
using counts_atom = caf::atom_constant<caf::atom("counts")>;
using cancel_atom = caf::atom_constant<caf::atom("cancel")>;
using changed_atom = caf::atom_constant<caf::atom("changed")>;
using live_atom = caf::atom_constant<caf::atom("live")>;
using device_atom = caf::atom_constant<caf::atom("devfail")>;
using drain_atom = caf::atom_constant<caf::atom("drain")>;
using hand_back_atom = caf::atom_constant<caf::atom("handback")>;

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
inline void mailbox_release(const caf::actor& to) {
  if (to) __tsan_release(caf::actor_cast<caf::actor_control_block*>(to));
}
inline void mailbox_acquire(caf::local_actor* self) { __tsan_acquire(self->ctrl()); }
#else
inline void mailbox_release(const caf::actor&) {}
inline void mailbox_acquire(caf::local_actor*) {}
#endif

// Sends from outside any actor (the job service's and the runtime's threads).
template <class... Ts>
void tell_anon(const caf::actor& to, Ts&&... xs) {
  if (!to) return;
  mailbox_release(to);
  caf::anon_send(to, std::forward<Ts>(xs)...);
}
// Sends from an actor.
template <class Self, class... Ts>
void tell(Self* self, const caf::actor& to, Ts&&... xs) {
  if (!to) return;
  mailbox_release(to);
  self->send(to, std::forward<Ts>(xs)...);
}

}  // namespace quire::actors
