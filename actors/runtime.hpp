// quire::actors — the running service: the CAF actor system, its actors and the `service` the HTTP
// layer uses.
//
// Lifecycle (driven by `quire serve`):
//   auto rt = runtime::start(cfg, revision, worker_argv);  // actors up, checks running (or why not)
//   ... serve HTTP with rt->jobs() as the actors::service ...
//   rt->begin_drain();            // SIGTERM: readiness says `draining` at once, no new claims
//   rt->wait_idle(grace);         // running jobs get the grace period to finish
//   rt->hand_back();              // what is still running is released (back to queued)
//   rt->shutdown();               // actors stopped, handles dropped, actor system gone
// Every actor that blocks (database, disk, child processes) is spawned detached, so nothing
// blocking ever runs on CAF's cooperative scheduler threads. The CAF types stay in runtime.cpp
// (`parts`), so including this header costs no CAF headers.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "actors/errors.hpp"
#include "actors/service.hpp"

namespace quire::actors {

class runtime {
 public:
  // errc::startup_failed (actors/errors.hpp) saying why the actor system could not start.
  static quire::expected<std::unique_ptr<runtime>> start(const service_config& cfg, std::string revision,
                                                         std::vector<std::string> worker_argv);
  ~runtime();
  runtime(const runtime&) = delete;
  runtime& operator=(const runtime&) = delete;

  // The job operations, readiness and /v1/info for the HTTP layer (detail/job_service.hpp); valid until
  // the runtime is destroyed.
  service& jobs();

  void begin_drain();
  // true when no job is running in this process (waits up to `grace`).
  bool wait_idle(std::chrono::milliseconds grace);
  void hand_back();
  void shutdown();
  int running_jobs() const;

 private:
  struct parts;  // runtime.cpp: context, published state, actor handles, the job service
  explicit runtime(std::unique_ptr<parts> p);
  std::unique_ptr<parts> p_;
};

}  // namespace quire::actors
