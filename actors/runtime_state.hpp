// Internal to actors/: what the actors and the API side of the runtime share, without CAF types.
// Every member is thread-safe; the actors write it, HTTP threads read it.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "actors/config.hpp"
#include "actors/readiness.hpp"
#include "log/log.hpp"
#include "storage/artifact_store.hpp"
#include "storage/job_store.hpp"

namespace quire::actors {

// A fixed set of job_store connections borrowed by HTTP threads (each store serialises its calls).
class store_pool {
 public:
  store_pool(storage::store_options opts, int size) : opts_(std::move(opts)), size_(size) {}
  class lease {
   public:
    lease(store_pool& p, std::unique_ptr<storage::job_store> s) : pool_(p), store_(std::move(s)) {}
    ~lease() { pool_.put_back(std::move(store_)); }
    storage::job_store* operator->() { return store_.get(); }
    explicit operator bool() const { return store_ != nullptr; }
   private:
    store_pool& pool_;
    std::unique_ptr<storage::job_store> store_;
  };
  // Blocks while every connection is in use; an empty lease when the database is unreachable.
  lease borrow(storage::error& err);

 private:
  void put_back(std::unique_ptr<storage::job_store> s);
  storage::store_options opts_;
  int size_;
  int out_ = 0;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<storage::job_store>> idle_;
};

struct shared_state {
  service_config cfg;
  std::string revision;
  std::string instance;                // "host/pid": lease owner prefix, shown in /v1/info
  storage::store_options store_opts;

  std::mutex snap_mu;
  readiness_snapshot snapshot;         // starts not ready (never checked)
  std::atomic<bool> draining{false};
  std::atomic<bool> hand_back{false};  // drain grace is over: converters release their jobs
  std::atomic<int> live_converters{0};
  int gpu_converters = 0;                  // one per working allowed device found at start (fixed after)
  std::atomic<int> live_gpu_converters{0}; // GPU converters whose worker runs and whose device works
  nlohmann::json gpu_report = nlohmann::json::object();  // discovery result, for /v1/info (fixed after start)
  std::atomic<int> running{0};
  std::atomic<std::int64_t> queued{0};

  std::mutex cancel_mu;
  std::set<std::string> cancel_requested;  // job ids canceled through this process's API

  // Notified whenever a job handled by this process changes state (long polls wait on it).
  std::mutex change_mu;
  std::condition_variable change_cv;
  std::uint64_t change_seq = 0;
  void notify_change() {
    { std::lock_guard l(change_mu); ++change_seq; }
    change_cv.notify_all();
  }

  // Device problems (failed self-test, device died mid-job). Never cleared while the process runs:
  // a device that failed once is not trusted again until a restart re-tests it.
  std::mutex notes_mu;
  std::vector<std::string> device_notes;
  void add_device_note(std::string n) {
    std::lock_guard l(notes_mu);
    device_notes.push_back(std::move(n));
  }
  std::vector<std::string> get_device_notes() {
    std::lock_guard l(notes_mu);
    return device_notes;
  }

  // The data root, opened on first use (it may appear after start) and then shared by the API and
  // every converter (the pointer stays valid for the process's life): one sync group, so the
  // submits' syncs and the converters' result syncs cover each other's writes instead of each
  // running a syncfs of its own. nullptr (and *why) while it cannot be opened.
  const storage::artifact_store* data_root_files(std::string* why = nullptr) {
    std::lock_guard l(files_mu);
    if (!files) {
      auto opened = storage::artifact_store::open(cfg.data_root, cfg.profile, false);
      if (!opened) {
        if (why) *why = opened.err().message;
        return nullptr;
      }
      files.emplace(std::move(*opened));
      // Best effort: without them each shard's first file makes its directory on demand.
      if (auto s = files->prepare_shards(); !s)
        log::warn("data_root.shards_not_prepared", {{"message", s.err().message}});
    }
    return &*files;
  }
  std::mutex files_mu;
  std::optional<storage::artifact_store> files;  // set once, never replaced (data_root_files)

  std::function<void()> wake_coordinator;   // set by the runtime; safe to call from any thread
  // A wake-up message is on its way to the coordinator and not yet handled: further wake-ups
  // are folded into it (every accepted submit calls wake_coordinator; a message and a thread
  // wake-up per submit cost ~1 context switch per accept). The coordinator clears it before it
  // claims, so work committed before a wake-up is always seen by a claim after it.
  std::atomic<bool> wake_pending{false};
  std::function<void()> recheck_readiness;

  readiness_snapshot get_snapshot() {
    std::lock_guard l(snap_mu);
    return snapshot;
  }
  void set_snapshot(readiness_snapshot s) {
    std::lock_guard l(snap_mu);
    snapshot = std::move(s);
  }
  bool take_cancel(const std::string& id) {
    std::lock_guard l(cancel_mu);
    return cancel_requested.erase(id) > 0;
  }
  bool is_canceled(const std::string& id) {
    std::lock_guard l(cancel_mu);
    return cancel_requested.count(id) > 0;
  }
};

// Runs every readiness check once (blocking: database, disk) and returns the snapshot.
readiness_snapshot evaluate_readiness(shared_state& st, storage::job_store* store);

// The job record as the API shows it (docs/api.md).
nlohmann::json job_json(const storage::job_record& j);
nlohmann::json job_json(storage::job_record&& j);  // moves the spec tree instead of copying it

// Claim → convert → publish → complete, for one claimed job, in the calling (detached) thread.
struct converter_ctx {
  int index = 0;
  int device = -1;                   // CUDA device this converter is bound to; -1 = a CPU converter
  std::string accel = "cpu";         // "cuda:N" or "cpu", for logs and readiness messages
  bool device_failed = false;        // the device failed mid-job: never restarted (converter thread only)
  std::atomic<bool> usable{false};   // live and device not failed: the coordinator may give it work
  shared_state* st = nullptr;
  std::unique_ptr<storage::job_store> store;
  const storage::artifact_store* files = nullptr;  // shared_state::data_root_files()
  std::unique_ptr<class worker_process> worker;
  std::vector<std::string> worker_argv;
  bool counted_live = false;  // contributes to shared_state::live_converters
  bool thread_niced = false;  // the actor's thread runs at cfg.worker_nice (set on its first tick)
};
void set_live(converter_ctx& c, bool live);
// Makes deferred writes durable (artifact_store::sync_deferred) and records the wait in
// quire_data_sync_seconds{for=`what`} ("submit" per batch, "result" per conversion).
storage::status sync_data_root(const storage::artifact_store& fs, std::uint64_t oldest_ticket,
                               std::uint64_t newest_ticket, const char* what);
bool ensure_worker(converter_ctx& c);
void run_claimed_job(converter_ctx& c, const storage::claimed_job& job);

}  // namespace quire::actors
