// Internal to actors/: one converter — its worker process, its connection to the job store, and
// the job it runs. The converter actor (converter.cpp) owns it and runs in its own thread;
// job_run.cpp runs one claimed job with it. Everything the converter tells the rest of the runtime
// goes out as a message through `converter_links`; what it is told (cancel, hand back) it reads
// from its mailbox between the worker's progress events (poll).
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "actors/detail/runtime_context.hpp"

namespace quire::actors {

class worker_process;

class converter_links {
 public:
  virtual ~converter_links() = default;
  virtual void live_changed(bool live) = 0;                 // to the supervisor and the coordinator
  virtual void device_failed(const std::string& note) = 0;  // to the supervisor
  virtual void recheck_readiness() = 0;                     // to the supervisor
  virtual void job_changed() = 0;                           // to the coordinator (long polls)
  virtual void poll() = 0;  // handles what the mailbox holds now: cancel, hand_back, exit
};

struct converter_ctx {
  int index = 0;
  int device = -1;                   // CUDA device this converter is bound to; -1 = a CPU converter
  std::string accel = "cpu";         // "cuda:N" or "cpu", for logs and readiness messages
  const runtime_context* ctx = nullptr;
  data_root* root = nullptr;
  std::vector<std::string> worker_argv;

  // Owned by the converter's thread from here on.
  converter_links* links = nullptr;  // set by the converter actor when it starts
  std::unique_ptr<storage::job_store> store;
  const storage::artifact_store* files = nullptr;  // data_root::files()
  std::unique_ptr<worker_process> worker;
  bool device_failed = false;        // the device failed mid-job: never restarted
  bool live = false;                 // as last reported (live_changed)
  bool thread_niced = false;         // the thread runs at cfg.worker_nice (set on its first message)
  bool hand_back = false;            // the drain grace is over (or the runtime stops): release the job
  std::string running_job;           // the claimed job's id while it runs
  bool cancel_received = false;      // a cancel of running_job arrived (poll)

  const service_config& cfg() const { return ctx->cfg; }
  const std::string& revision() const { return ctx->revision; }
  void recheck_readiness() const { links->recheck_readiness(); }
  void job_changed() const { links->job_changed(); }
  bool hand_back_requested() {
    links->poll();
    return hand_back;
  }
  // True once per cancel of the running job made through this process's API.
  bool cancel_requested() {
    links->poll();
    return std::exchange(cancel_received, false);
  }
  // The device failed mid-job: out of service until a restart, noted for readiness and /v1/info.
  void device_lost(const std::string& note);
};

// Reports a change of liveness (worker running and device working) to the supervisor and coordinator.
void set_live(converter_ctx& c, bool live);
bool ensure_worker(converter_ctx& c);
// Claim → convert → publish → complete, for one claimed job, in the converter's thread (job_run.cpp).
void run_claimed_job(converter_ctx& c, const storage::claimed_job& job);

}  // namespace quire::actors
