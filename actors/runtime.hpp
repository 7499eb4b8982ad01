// quire::actors — the running service: CAF actor system, actors and the `service` the HTTP layer uses.
//
// Lifecycle (driven by `quire serve`):
//   auto rt = runtime::start(cfg, revision, worker_argv, error);  // actors up, checks running
//   ... serve HTTP with *rt as the actors::service ...
//   rt->begin_drain();            // SIGTERM: readiness says `draining` at once, no new claims
//   rt->wait_idle(grace);         // running jobs get the grace period to finish
//   rt->hand_back();              // what is still running is released (back to queued)
//   rt->shutdown();               // actors stopped, handles dropped, actor system gone
// Every actor that blocks (database, disk, child processes) is spawned detached, so nothing
// blocking ever runs on CAF's cooperative scheduler threads.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "actors/service.hpp"

namespace quire::actors {

class runtime : public service {
 public:
  static std::unique_ptr<runtime> start(const service_config& cfg, std::string revision,
                                        std::vector<std::string> worker_argv, std::string& error);
  ~runtime() override;

  virtual void begin_drain() = 0;
  // true when no job is running in this process (waits up to `grace`).
  virtual bool wait_idle(std::chrono::milliseconds grace) = 0;
  virtual void hand_back() = 0;
  virtual void shutdown() = 0;
  virtual int running_jobs() const = 0;
};

}  // namespace quire::actors
