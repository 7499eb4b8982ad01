// quire::storage::submit_batcher — group commit for submits arriving from many threads.
//
// A durable accept ends with a COMMIT (a WAL flush) and a NOTIFY. Under load most of a submit's
// database time is that per-transaction overhead, and the handler threads queue behind it. The
// batcher lets up to `connections` batches run at once; a submit that arrives while all of them
// are busy waits in a queue, and the next free connection takes everything queued (up to
// max_batch) as ONE transaction (job_store::submit_batch). At low load a submit runs alone, as
// before; under load batches grow by themselves, with no timer and no added latency.
//
// Every caller is released when ITS batch has committed (or failed): submit() returns exactly what
// job_store::submit would have returned for that request; when the batch's transaction fails as a
// whole, every caller of that batch gets the error and none of its rows exist.
//
// Thread safety: submit() may be called from any number of threads. Leader/follower: the thread
// that finds a free connection runs a batch (its own request and the longest-waiting others) on
// its own stack, then hands its connection slot to the longest-waiting caller, whose batch takes
// what queued meanwhile. No thread of the batcher's own, no timer.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <vector>

#include "storage/job_store.hpp"

namespace quire::storage {

struct batcher_options {
  int connections = 4;   // batches in flight at once (each on its own database connection)
  int max_batch = 128;   // requests per transaction at most
  // Tests only: a batch starts only once this many requests are queued, so a test can put
  // chosen requests into one batch without relying on timing. 1 in production.
  int min_batch_for_testing = 1;
};

class submit_batcher {
 public:
  submit_batcher(store_options store, batcher_options opts = {});
  ~submit_batcher();
  submit_batcher(const submit_batcher&) = delete;
  submit_batcher& operator=(const submit_batcher&) = delete;

  // Blocks until the request's batch has committed; see the header comment.
  result<submit_result> submit(const submit_request& req);

  // Counters for benchmarks and tests (how well requests were grouped).
  struct stats {
    std::int64_t batches = 0;
    std::int64_t requests = 0;
    std::int64_t largest_batch = 0;
  };
  stats statistics() const;

 private:
  struct slot;
  void lead(std::unique_lock<std::mutex>& l, slot& mine);
  std::unique_ptr<job_store> take_store(error& err);
  void give_back(std::unique_ptr<job_store> s);

  store_options store_opts_;
  batcher_options opts_;
  mutable std::mutex mu_;
  std::deque<slot*> queue_;                      // waiting, oldest first
  int leaders_ = 0;                              // batches being formed or run
  std::vector<std::unique_ptr<job_store>> idle_; // connections not in use
  stats stats_;
};

}  // namespace quire::storage
