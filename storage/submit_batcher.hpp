// quire::storage::submit_batcher — group commit for submits arriving from many threads.
//
// A durable accept ends with a COMMIT (a WAL flush) and a NOTIFY. Under load most of a submit's
// database time is that per-transaction overhead, and callers would queue behind it. The batcher
// runs `connections` committer threads, each with its own database connection; a submit is queued,
// and a free committer takes everything queued (up to max_batch) as ONE transaction
// (job_store::submit_batch). At low load a submit runs alone, in a transaction of its own; under load batches grow
// by themselves, with no timer and no added latency.
//
// Intake is one committer at a time: a committer takes its batch, runs before_commit (the data
// root sync), and only then may the next committer take one; the transactions themselves overlap.
// The syncs are serialised anyway (one filesystem sync at a time, storage/detail/sync_group.hpp), so a
// request that arrives during a sync waits for that sync's end either way; taking the batch when
// the next sync can start, rather than at once, puts everything that arrived meanwhile into one
// sync and one transaction instead of several small ones (measured: bench/README.md).
//
// Every request gets exactly what job_store::submit would have returned for it; when a batch's
// transaction (or its before_commit step) fails as a whole, every request of that batch gets the
// error and none of its rows exist.
//
// Two ways in: submit() blocks the calling thread until its batch has committed; submit_async()
// returns at once and calls `done` on a committer thread, so an HTTP handler thread need not wait
// (and be woken) per request: one wake-up of a committer serves a whole batch.
//
// Thread safety: both may be called from any number of threads. The destructor answers everything
// still queued (committing it) before it returns.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "storage/job_store.hpp"

namespace quire::storage {

struct batcher_options {
  int connections = 4;   // committer threads, each with its own database connection
  int max_batch = 128;   // requests per transaction at most
  // Runs on the committer before each batch's transaction with the `tag`s of its requests; an
  // error fails the whole batch before anything is committed. The submit path makes the batch's
  // deferred input writes durable here (one filesystem sync per batch; tag = the write's ticket).
  std::function<status(const std::vector<std::uint64_t>& tags)> before_commit;
  // Tests only: a batch starts only once this many requests are queued, so a test can put
  // chosen requests into one batch without relying on timing. 1 in production.
  int min_batch_for_testing = 1;
};

class submit_batcher {
 public:
  using done_fn = std::function<void(result<submit_result>)>;

  submit_batcher(store_options store, batcher_options opts = {});
  ~submit_batcher();
  submit_batcher(const submit_batcher&) = delete;
  submit_batcher& operator=(const submit_batcher&) = delete;

  // Queues the request; `done` runs exactly once, on a committer thread, when its batch has
  // committed or failed. `done` must not block for long: the next batch waits for it (an
  // exception it throws is logged and dropped).
  void submit_async(submit_request req, done_fn done, std::uint64_t tag = 0);
  // Blocks until the request's batch has committed.
  result<submit_result> submit(const submit_request& req, std::uint64_t tag = 0);

  // Counters for benchmarks and tests (how well requests were grouped).
  struct stats {
    std::int64_t batches = 0;
    std::int64_t requests = 0;
    std::int64_t largest_batch = 0;
  };
  stats statistics() const;

 private:
  struct item {
    submit_request req;
    done_fn done;
    std::uint64_t tag = 0;
  };
  void run_committer();
  void commit_batch(std::unique_ptr<job_store>& store, std::vector<item>& batch);
  void end_intake();  // before_commit done: the next committer may take a batch

  store_options store_opts_;
  batcher_options opts_;
  mutable std::mutex mu_;
  std::condition_variable work_;
  std::deque<item> queue_;  // oldest first
  bool stopping_ = false;
  bool intake_busy_ = false;  // a committer has taken a batch and runs its before_commit
  stats stats_;
  std::vector<std::thread> committers_;  // last: started once everything above exists
};

}  // namespace quire::storage
