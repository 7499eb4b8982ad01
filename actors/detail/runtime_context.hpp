// Internal to actors/: what the actors and the job service share, without CAF types. Each mutable
// piece has one writer (the queue depth estimate excepted: see published::queued):
//   runtime_context   fixed once the runtime has started (configuration, identity, GPU discovery)
//   data_root         the data root's artifact_store, opened once on first use, never replaced
//   published         what the owners publish for the HTTP threads to read without locking:
//                     the supervisor's service_status snapshot, the coordinator's running count
//                     and its job-change feed (long polls), and the queue depth estimate
//   actor_links       how the job service tells the actors something (messages; runtime.cpp)
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "actors/config.hpp"
#include "actors/readiness.hpp"
#include "storage/artifact_store.hpp"
#include "storage/job_store.hpp"

namespace quire::actors {

struct runtime_context {
  service_config cfg;
  std::string revision;
  std::string instance;  // "host/pid/nonce": lease owner prefix, shown in /v1/info
  storage::store_options store_opts;
  int gpu_converters = 0;                                // one per working allowed device found at start
  nlohmann::json gpu_report = nlohmann::json::object();  // discovery result, for /v1/info
  std::vector<std::string> discovery_notes;              // allowed devices that do not work
};

// The data root, opened on first use (it may appear after start) and then shared by the job service
// and every converter for the process's life: one sync group, so the submits' syncs and the
// converters' result syncs cover each other's writes instead of each running a syncfs of its own.
class data_root {
 public:
  explicit data_root(const service_config& cfg) : cfg_(cfg) {}
  // The store, or why it cannot be opened (yet).
  storage::result<const storage::artifact_store*> files();

 private:
  const service_config& cfg_;
  std::mutex mu_;  // guards only the first open
  std::optional<storage::artifact_store> files_;
};

// The readiness supervisor's view of the service, published whole after every change and never
// modified afterwards: HTTP threads take a reference and read it without a lock.
struct service_status {
  readiness_snapshot readiness;
  int live_converters = 0;
  int live_gpu_converters = 0;            // GPU converters whose worker runs and whose device works
  std::vector<std::string> device_notes;  // failed self-tests and devices that died; never cleared
};

// Bumped by the coordinator whenever a job this process handles changes state (it hears of every
// change as a message); long polls on HTTP threads wait on it. A condition variable because the
// waiters are plain threads, not actors.
class job_change_feed {
 public:
  std::uint64_t seen() const;
  void bump();
  // Until the sequence moves past `seen` or `until` passes.
  void wait(std::uint64_t seen, std::chrono::steady_clock::time_point until) const;

 private:
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  std::uint64_t seq_ = 0;
};

class published {
 public:
  std::shared_ptr<const service_status> status() const { return std::atomic_load(&status_); }
  void publish(std::shared_ptr<const service_status> s) { std::atomic_store(&status_, std::move(s)); }  // supervisor only

  std::atomic<bool> draining{false};      // written by the runtime only (SIGTERM)
  std::atomic<int> running{0};            // written by the coordinator only
  // Queue depth estimate for backpressure without a database round trip: set from the count by
  // every readiness round, +1 per accepted submit, -1 per claim.
  std::atomic<std::int64_t> queued{0};
  job_change_feed changes;

 private:
  std::shared_ptr<const service_status> status_ = std::make_shared<service_status>();
};

// What the job service tells the actors; each call sends a message and returns at once.
class actor_links {
 public:
  virtual ~actor_links() = default;
  virtual void work_submitted() = 0;               // the coordinator claims
  virtual void recheck_readiness() = 0;            // the supervisor re-evaluates now
  virtual void job_canceled(const std::string& id, bool was_running) = 0;  // the coordinator stops its run
};

// Runs every readiness check once (blocking: database, disk) and returns the snapshot.
struct readiness_inputs {
  const runtime_context& ctx;
  storage::job_store* store;
  bool draining;
  int live_converters;
  int live_gpu_converters;
  const std::vector<std::string>& device_notes;
};
readiness_snapshot evaluate_readiness(const readiness_inputs& in, published& pub);
// `snap` as readiness reports it once SIGTERM has arrived: not ready, `draining` first (what the
// runtime answers before the supervisor's next round says so itself).
readiness_snapshot as_draining(readiness_snapshot snap);

// Makes deferred writes durable (artifact_store::sync_deferred) and records the wait in
// quire_data_sync_seconds{for=`what`} ("submit" per batch, "result" per conversion).
storage::status sync_data_root(const storage::artifact_store& fs, std::uint64_t oldest_ticket,
                               std::uint64_t newest_ticket, const char* what);

}  // namespace quire::actors
