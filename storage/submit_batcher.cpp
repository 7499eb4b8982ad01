// submit_batcher: committer threads taking queued submits in batches; see submit_batcher.hpp.
#include "storage/submit_batcher.hpp"

#include <algorithm>
#include <future>
#include <optional>

#include <pthread.h>

#include "log/log.hpp"
#include "storage/detail/internal.hpp"

namespace quire::storage {

submit_batcher::submit_batcher(store_options store, batcher_options opts)
    : store_opts_(std::move(store)), opts_(std::move(opts)) {
  opts_.connections = std::max(1, opts_.connections);
  opts_.max_batch = std::max(1, opts_.max_batch);
  opts_.min_batch_for_testing = std::clamp(opts_.min_batch_for_testing, 1, opts_.max_batch);
  for (int i = 0; i < opts_.connections; ++i)
    committers_.emplace_back([this] {
      ::pthread_setname_np(::pthread_self(), "quire-commit");  // top -H, perf
      run_committer();
    });
}

submit_batcher::~submit_batcher() {
  {
    std::lock_guard l(mu_);
    stopping_ = true;
  }
  work_.notify_all();
  for (auto& t : committers_) t.join();
}

submit_batcher::stats submit_batcher::statistics() const {
  std::lock_guard l(mu_);
  return stats_;
}

void submit_batcher::submit_async(submit_request req, done_fn done, std::uint64_t tag) {
  {
    std::lock_guard l(mu_);
    queue_.push_back({std::move(req), std::move(done), tag});
    if (static_cast<int>(queue_.size()) < opts_.min_batch_for_testing) return;
    // The committer in intake wakes one when it is done; a wake-up now would find nothing to do.
    if (intake_busy_) return;
  }
  work_.notify_one();
}

result<submit_result> submit_batcher::submit(const submit_request& req, std::uint64_t tag) {
  std::promise<result<submit_result>> answer;
  auto got = answer.get_future();
  submit_async(req, [&answer](result<submit_result> r) { answer.set_value(std::move(r)); }, tag);
  return got.get();
}

void submit_batcher::run_committer() {
  std::unique_ptr<job_store> store;  // this committer's connection, opened on first use
  std::vector<item> batch;
  for (;;) {
    {
      std::unique_lock l(mu_);
      work_.wait(l, [&] {
        return (stopping_ && queue_.empty()) ||
               (!intake_busy_ && (stopping_ || static_cast<int>(queue_.size()) >= opts_.min_batch_for_testing));
      });
      if (queue_.empty()) return;  // stopping, and everything queued has been answered
      intake_busy_ = true;
      const auto n = std::min(queue_.size(), static_cast<std::size_t>(opts_.max_batch));
      batch.assign(std::make_move_iterator(queue_.begin()), std::make_move_iterator(queue_.begin() + n));
      queue_.erase(queue_.begin(), queue_.begin() + n);
      ++stats_.batches;
      stats_.requests += static_cast<std::int64_t>(n);
      stats_.largest_batch = std::max(stats_.largest_batch, static_cast<std::int64_t>(n));
    }
    commit_batch(store, batch);
    batch.clear();
  }
}

void submit_batcher::end_intake() {
  bool stopping;
  {
    std::lock_guard l(mu_);
    intake_busy_ = false;
    stopping = stopping_;
    if (queue_.empty() && !stopping) return;
  }
  // The next committer takes what queued meanwhile; when stopping, every waiting committer must
  // see it (the ones that find nothing left exit).
  if (stopping) work_.notify_all();
  else work_.notify_one();
}

namespace {
// A completion that throws must not take the committer thread (and every later batch) with it.
void answer(const submit_batcher::done_fn& done, result<submit_result> r) noexcept {
  try {
    done(std::move(r));
  } catch (const std::exception& e) {
    log::error("submit.completion_failed", {{"message", e.what()}});
  } catch (...) {
    log::error("submit.completion_failed", {{"message", "unknown exception"}});
  }
}
}  // namespace

void submit_batcher::commit_batch(std::unique_ptr<job_store>& store, std::vector<item>& batch) {
  auto fail_all = [&](const error& e) {
    for (auto& it : batch) answer(it.done, result<submit_result>(e));
  };
  {
    // Intake ends once before_commit has returned, also when it throws.
    struct intake_guard {
      submit_batcher* b;
      ~intake_guard() { b->end_intake(); }
    } intake{this};
    if (opts_.before_commit) {
      std::vector<std::uint64_t> tags;
      tags.reserve(batch.size());
      for (const auto& it : batch) tags.push_back(it.tag);
      if (auto ready = opts_.before_commit(tags); !ready) return fail_all(ready.err());
    }
  }
  if (!store) {
    auto opened = job_store::open(store_opts_);
    if (!opened) return fail_all(opened.err());
    store = std::move(*opened);
  }
  std::vector<submit_request> reqs;
  reqs.reserve(batch.size());
  for (auto& it : batch) reqs.push_back(std::move(it.req));
  // The NOTIFY (for other replicas' coordinators) after the answers: the clients need not wait a
  // round trip for it.
  auto answers = store->submit_batch(std::move(reqs), /*announce=*/false);
  if (!answers) return fail_all(answers.err());
  bool inserted = false;
  for (std::size_t i = 0; i < batch.size(); ++i) {
    auto& a = (*answers)[i];
    inserted = inserted || (a && !a->replayed);
    answer(batch[i].done, std::move(a));
  }
  if (inserted) store->announce_work();
}

}  // namespace quire::storage
