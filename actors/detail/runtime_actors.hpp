// Internal to actors/ (CAF translation units only): the actors of the runtime and what each owns.
//   supervisor   the readiness checks, the converters' liveness counts and the device notes; it
//                publishes them as one immutable service_status (published::publish)
//   coordinator  the converter roster (it spawns them), claims, lease rescue; which converter
//                runs which job; the running count and the job-change feed
//   converter    one worker process and the job it runs (blocking: it waits on the worker)
//   notifier     the LISTEN connection that announces work from other replicas
//   sweeper      retention, reconciliation and the finished-job counts
// Every actor that blocks (database, disk, child processes) runs in its own thread (detached or
// blocking), so nothing blocking ever runs on CAF's cooperative scheduler threads.
#pragma once

#include <atomic>
#include <caf/all.hpp>
#include <memory>
#include <vector>

#include "actors/detail/converter.hpp"
#include "actors/detail/runtime_context.hpp"

namespace quire::actors {

struct supervisor_args {
  const runtime_context* ctx;
  published* pub;
  data_root* root;
  int converters;  // how many live reports to expect (indexes 0..converters-1)
};
caf::behavior supervisor_actor(caf::event_based_actor* self, supervisor_args a);

struct coordinator_args {
  const runtime_context* ctx;
  published* pub;
  caf::actor supervisor;
  std::vector<std::shared_ptr<converter_ctx>> converters;  // handed to the converters it spawns
  // Set by the job service when it sends a wake-up, cleared by the coordinator before it claims: the
  // submits between two claims share one message (a message and a thread wake-up per submit cost
  // ~1 context switch per accept). Work committed before a wake-up is seen by a claim after it.
  std::atomic<bool>* wake_pending;
};
caf::behavior coordinator_actor(caf::event_based_actor* self, coordinator_args a);

void converter_actor(caf::blocking_actor* self, std::shared_ptr<converter_ctx> c, caf::actor supervisor,
                     caf::actor coordinator);

// Background work yields the CPU to answering requests: a converter's own thread (publishing
// results, talking to the database, renewing leases) and the sweeper's run at the workers'
// niceness (QUIRE_WORKER_NICE), set once per thread.
void nice_this_thread(const service_config& cfg, bool& niced);
// A job store on the service's settings (callers that only retry later take .value_or(nullptr)).
storage::result<std::unique_ptr<storage::job_store>> open_store(const runtime_context& ctx);

}  // namespace quire::actors
