// Internal to actors/: one converter's state and its links to the rest of the runtime. The
// converter actor (runtime.cpp) owns it; job_run.cpp runs one claimed job with it.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "actors/runtime_state.hpp"

namespace quire::actors {

class worker_process;

struct converter_ctx {
  int index = 0;
  int device = -1;                   // CUDA device this converter is bound to; -1 = a CPU converter
  std::string accel = "cpu";         // "cuda:N" or "cpu", for logs and readiness messages
  bool device_failed = false;        // the device failed mid-job: never restarted (converter thread only)
  std::atomic<bool> usable{false};   // live and device not failed: the coordinator may give it work
  shared_state* st = nullptr;
  std::unique_ptr<storage::job_store> store;
  const storage::artifact_store* files = nullptr;  // shared_state::data_root_files()
  std::unique_ptr<worker_process> worker;
  std::vector<std::string> worker_argv;
  bool counted_live = false;  // contributes to shared_state::live_converters
  bool thread_niced = false;  // the actor's thread runs at cfg.worker_nice (set on its first tick)

  // What a running job needs from the rest of the runtime.
  const service_config& cfg() const { return st->cfg; }
  const std::string& revision() const { return st->revision; }
  void recheck_readiness() const {
    if (st->recheck_readiness) st->recheck_readiness();
  }
  void job_changed(const std::string&) const { st->notify_change(); }
  bool hand_back_requested() const { return st->hand_back.load(); }
  // True once per cancel of `id` made through this process's API.
  bool cancel_requested(const std::string& id) const { return st->take_cancel(id); }
  // The device failed mid-job: out of service until a restart, noted for readiness and /v1/info.
  void device_lost(std::string note);
};

void set_live(converter_ctx& c, bool live);
bool ensure_worker(converter_ctx& c);
// Claim → convert → publish → complete, for one claimed job, in the converter's thread (job_run.cpp).
void run_claimed_job(converter_ctx& c, const storage::claimed_job& job);

}  // namespace quire::actors
