// Internal to actors/: the one implementation of `service` (service.hpp). Its job operations run on
// the HTTP handler threads against a pool of database connections and the data root; readiness,
// /v1/info's figures and the queue depth are read from what the actors published. No CAF here:
// what the actors must hear goes through actor_links as messages. The runtime (runtime.hpp) owns
// one and hands it to the HTTP layer; routes call it directly (no forwarding layer in between).
#pragma once

#include <functional>

#include <condition_variable>
#include <mutex>

#include "actors/detail/runtime_context.hpp"
#include "actors/service.hpp"
#include "storage/submit_batcher.hpp"

namespace quire::actors {

// A fixed set of job_store connections borrowed by HTTP threads (each store serialises its calls).
class store_pool {
 public:
  store_pool(storage::store_options opts, int size) : opts_(std::move(opts)), size_(size) {}
  class lease {
   public:
    lease(store_pool& p, std::unique_ptr<storage::job_store> s) : pool_(p), store_(std::move(s)) {}
    lease(lease&& o) noexcept : pool_(o.pool_), store_(std::move(o.store_)) {}
    ~lease() { pool_.put_back(std::move(store_)); }
    storage::job_store* operator->() { return store_.get(); }
   private:
    store_pool& pool_;
    std::unique_ptr<storage::job_store> store_;
  };
  // Blocks while every connection is in use; the error when the database is unreachable.
  storage::result<lease> borrow();

 private:
  void put_back(std::unique_ptr<storage::job_store> s);
  storage::store_options opts_;
  int size_;
  int out_ = 0;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<storage::job_store>> idle_;
};

class job_service final : public service {
 public:
  job_service(const runtime_context& ctx, data_root& root, published& pub, actor_links& links);

  readiness_snapshot readiness() const override;
  service_info info() const override;
  api_result<submitted> submit(const submission& s) override;
  // Writes the input on the calling thread, then queues the row for the batcher: `done` runs once,
  // on a batcher thread (or here when the request fails before it is queued).
  void submit_async(const submission& s, std::function<void(api_result<submitted>)> done) override;
  api_result<storage::job_record> get_job(const std::string& id, const std::string& key) override;
  api_result<storage::job_record> wait_job(const std::string& id, const std::string& key,
                                           std::chrono::milliseconds wait) override;
  api_result<job_page> list_jobs(const list_query& q, const std::string& key) override;
  api_result<storage::job_record> cancel_job(const std::string& id, const std::string& key) override;
  api_result<job_result> get_result(const std::string& id, const std::string& key, bool with_markdown) override;
  api_result<artifact> get_artifact(const std::string& id, const std::string& key, const std::string& name) override;
  api_result<result_file> get_result_format(const std::string& id, const std::string& key,
                                            const std::string& format) override;
  api_result<result_files> get_result_files(const std::string& id, const std::string& key,
                                            std::uint64_t max_bytes) override;
  std::int64_t queued_jobs() const override;
  int working_gpu_converters() const override;

 private:
  // The job row, or the API error for a missing/foreign/expired job.
  api_result<storage::job_record> load(const std::string& id, const std::string& key, bool expired_is_error);
  // The data root, or internal_error saying why it cannot be opened.
  api_result<const storage::artifact_store*> files();
  // A succeeded job's result: the data root, its manifest and its recorded formats (from the row
  // and the manifest; nothing verified yet), or the error for a job that has none (yet).
  struct finished_result {
    const storage::artifact_store* fs = nullptr;
    nlohmann::json manifest = nlohmann::json::object();
    nlohmann::json formats = nlohmann::json::array();
  };
  api_result<finished_result> result_of(const storage::job_record& job);
  // storage_full for the client (with the free space in details); makes readiness re-check.
  api_result<submitted> storage_refused(const storage::artifact_store& fs, const storage::error& e);
  // What the client gets once the batch of job `id` has committed (or failed).
  api_result<submitted> finish_submit(const storage::artifact_store* fs, const std::string& id,
                                      storage::result<storage::submit_result> res);
  // Before each batch commits: one filesystem sync makes its inputs durable (grouped sync).
  storage::status before_batch(const std::vector<std::uint64_t>& tickets);
  const runtime_context& ctx_;
  data_root& root_;
  published& pub_;      // the readiness snapshot, the queue estimate, the job-change feed, draining
  actor_links& links_;  // wake-ups, rechecks, cancels: messages to the actors
  store_pool pool_;
  // Last: destroyed first, so the batches it still commits on shutdown find everything above.
  storage::submit_batcher batcher_;  // the submit path (group commit)
};

// Maps a storage error to the API's error codes: the one place storage's codes meet the wire's.
api_error to_api_error(const storage::error& e);

}  // namespace quire::actors
