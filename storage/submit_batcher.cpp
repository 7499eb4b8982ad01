// submit_batcher: leader/follower group commit; see submit_batcher.hpp.
#include "storage/submit_batcher.hpp"

#include <algorithm>
#include <optional>

#include "storage/internal.hpp"

namespace quire::storage {

struct submit_batcher::slot {
  const submit_request* req = nullptr;
  std::optional<result<submit_result>> res;  // set when the batch is done
  bool lead = false;                         // this caller holds a leader slot: it runs a batch
  bool leading = false;                      // same, for the other threads' bookkeeping
  std::condition_variable cv;                // wakes only this caller: no thundering herd
};

submit_batcher::submit_batcher(store_options store, batcher_options opts)
    : store_opts_(std::move(store)), opts_(opts) {
  opts_.connections = std::max(1, opts_.connections);
  opts_.max_batch = std::max(1, opts_.max_batch);
  opts_.min_batch_for_testing = std::clamp(opts_.min_batch_for_testing, 1, opts_.max_batch);
}

submit_batcher::~submit_batcher() = default;

submit_batcher::stats submit_batcher::statistics() const {
  std::lock_guard l(mu_);
  return stats_;
}

std::unique_ptr<job_store> submit_batcher::take_store(error& err) {
  {
    std::lock_guard l(mu_);
    if (!idle_.empty()) {
      auto s = std::move(idle_.back());
      idle_.pop_back();
      return s;
    }
  }
  auto opened = job_store::open(store_opts_);  // at most `connections` exist: one per leader
  if (!opened) {
    err = opened.err();
    return nullptr;
  }
  return std::move(*opened);
}

void submit_batcher::give_back(std::unique_ptr<job_store> s) {
  if (!s) return;
  std::lock_guard l(mu_);
  idle_.push_back(std::move(s));
}

result<submit_result> submit_batcher::submit(const submit_request& req) {
  slot mine;
  mine.req = &req;
  std::unique_lock l(mu_);
  queue_.push_back(&mine);
  if (leaders_ < opts_.connections) {
    ++leaders_;
    mine.lead = mine.leading = true;
  } else if (opts_.min_batch_for_testing > 1) {
    for (auto* s : queue_)
      if (s->leading) s->cv.notify_one();  // a leader waiting for a fuller batch
  }
  mine.cv.wait(l, [&] { return mine.res.has_value() || mine.lead; });
  if (!mine.res) lead(l, mine);
  return std::move(*mine.res);
}

// Called with the lock held by a caller that holds one of the `connections` leader slots and
// whose request is still queued (no other leader takes a leader's request). Runs one batch —
// its own request plus the longest-waiting followers — then passes the leader slot on.
void submit_batcher::lead(std::unique_lock<std::mutex>& l, slot& mine) {
  auto followers = [&] {
    return static_cast<int>(std::count_if(queue_.begin(), queue_.end(), [](const slot* s) { return !s->leading; }));
  };
  mine.cv.wait(l, [&] { return followers() + 1 >= opts_.min_batch_for_testing; });
  std::vector<slot*> batch{&mine};
  for (auto it = queue_.begin(); it != queue_.end();) {
    if (*it == &mine) {
      it = queue_.erase(it);
    } else if (!(*it)->leading && static_cast<int>(batch.size()) < opts_.max_batch) {
      batch.push_back(*it);
      it = queue_.erase(it);
    } else {
      ++it;
    }
  }
  l.unlock();
  std::vector<submit_request> reqs;
  reqs.reserve(batch.size());
  for (auto* s : batch) reqs.push_back(*s->req);
  error err{errc::internal, "", std::nullopt};
  auto store = take_store(err);
  std::optional<result<std::vector<result<submit_result>>>> answers;
  if (store) answers = store->submit_batch(reqs);
  give_back(std::move(store));
  l.lock();
  for (std::size_t i = 0; i < batch.size(); ++i) {
    if (!answers) batch[i]->res = result<submit_result>(err);
    else if (!*answers) batch[i]->res = result<submit_result>(answers->err());
    else batch[i]->res = std::move((**answers)[i]);
    if (batch[i] != &mine) batch[i]->cv.notify_one();
  }
  ++stats_.batches;
  stats_.requests += static_cast<std::int64_t>(batch.size());
  stats_.largest_batch = std::max(stats_.largest_batch, static_cast<std::int64_t>(batch.size()));
  // The longest-waiting follower leads next (its batch takes everything queued meanwhile);
  // with nobody waiting the leader slot is freed for the next arrival.
  auto next = std::find_if(queue_.begin(), queue_.end(), [](const slot* s) { return !s->leading; });
  if (next != queue_.end()) {
    (*next)->lead = (*next)->leading = true;
    (*next)->cv.notify_one();
  } else {
    --leaders_;
  }
}

}  // namespace quire::storage
