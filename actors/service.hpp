// quire::actors — the service as the HTTP layer sees it.
//
// This is the actors module's public header. `quire serve` builds a `runtime` (runtime.hpp), which
// starts the CAF actor system and its actors:
//   readiness supervisor  owns the readiness snapshot (readiness.hpp); re-checks periodically and on events
//   job coordinator       claims queued jobs as converters free up, renews leases, finishes/retries jobs
//   converters            one per working GPU plus QUIRE_CPU_CONVERTERS CPU ones; each supervises a
//                         crash-isolated `quire worker` (worker_process.hpp)
//   retention sweeper     runs the store's sweep periodically
// and exposes them to the HTTP layer through the `service` interface below: plain C++ with no CAF
// types, so the RESTinio translation units do not pay for CAF headers and the routes can be tested
// against a fake service. Configuration comes from config.hpp, metrics from metrics.hpp.
#pragma once

#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "actors/config.hpp"
#include "actors/metrics.hpp"
#include "actors/readiness.hpp"

namespace quire::actors {

// A failed service call: `code` is one of the API's stable error codes (docs/api.md).
struct api_error {
  std::string code;
  std::string message;
  nlohmann::json details = nlohmann::json::object();
};

// Either a value or an api_error.
template <class T>
struct api_result {
  std::optional<T> value;
  std::optional<api_error> error;
  static api_result ok(T v) { return {std::move(v), std::nullopt}; }
  static api_result fail(std::string code, std::string message, nlohmann::json details = nlohmann::json::object()) {
    return {std::nullopt, api_error{std::move(code), std::move(message), std::move(details)}};
  }
  explicit operator bool() const { return value.has_value(); }
};

// What POST /v1/convert/jobs hands to the service once the request is parsed and validated.
struct submission {
  std::string api_key_id;          // who submitted (idempotency scope); "" when auth is off
  std::string idempotency_key;     // "" = none
  nlohmann::json job_spec;         // validated, canonical (defaults filled)
  std::string pdf;                 // the uploaded bytes
  std::string filename;            // from the multipart part, "" for a raw body
  std::string correlation_id;      // the request's X-Correlation-ID (log lines about the new job)
};

struct submitted {
  nlohmann::json job;  // the job record (see docs/api.md)
  bool replay = false; // same Idempotency-Key + same payload: an existing job
};

struct list_query {
  std::optional<std::string> status;  // one state name
  int limit = 50;
  std::string cursor;                  // opaque, from a previous page
};

struct job_page {
  std::vector<nlohmann::json> jobs;
  std::string next_cursor;             // "" at the end
};

struct result_view {
  nlohmann::json metadata;             // artifact sizes, sha256, page count, warnings …
  std::string markdown;                // filled when asked for
};

// One file of a job's result, read and verified against its recorded size and sha256.
struct result_file {
  std::string name;                    // as in the job directory: "result.md", "assets/img-p1-1.png"
  std::string media_type;
  std::string bytes;
};

struct result_files {
  nlohmann::json metadata;             // as get_result's
  std::vector<result_file> files;      // the job's formats (result.md first), then its assets
};

class service {
 public:
  virtual ~service() = default;
  virtual readiness_snapshot readiness() const = 0;
  virtual nlohmann::json info() const = 0;

  // Job operations. Blocking (database + disk); the HTTP layer calls them off its I/O threads.
  virtual api_result<submitted> submit(const submission& s) = 0;
  // submit() without waiting for the commit: `done` runs exactly once, on this thread or another
  // (the submit batcher's), when the job is committed or refused. It must not throw or block.
  virtual void submit_async(const submission& s, std::function<void(api_result<submitted>)> done) { done(submit(s)); }
  virtual api_result<nlohmann::json> get_job(const std::string& id, const std::string& api_key_id) = 0;
  // Waits up to `wait` for the job to leave queued/running, then returns it as get_job does.
  virtual api_result<nlohmann::json> wait_job(const std::string& id, const std::string& api_key_id,
                                              std::chrono::milliseconds wait) = 0;
  virtual api_result<job_page> list_jobs(const list_query& q, const std::string& api_key_id) = 0;
  virtual api_result<nlohmann::json> cancel_job(const std::string& id, const std::string& api_key_id) = 0;
  virtual api_result<result_view> get_result(const std::string& id, const std::string& api_key_id,
                                             bool with_markdown) = 0;
  // One extracted image: its bytes and media type in metadata["media_type"].
  virtual api_result<result_view> get_artifact(const std::string& id, const std::string& api_key_id,
                                               const std::string& name) = 0;
  // One result format of a job ("markdown", "json", "chunks", "text": actors/result_formats.hpp):
  // its bytes in `markdown`, its media_type, name, size_bytes and sha256 in metadata. A format the
  // job did not ask for at submit is 404 format_not_available; an unknown name 404 format_unknown.
  virtual api_result<result_view> get_result_format(const std::string& id, const std::string& api_key_id,
                                                    const std::string& format) = 0;
  // Every file of a succeeded job's result (for a bundle), verified. Refused with bundle_too_large,
  // before anything is read, when their recorded sizes add up to more than max_bytes.
  virtual api_result<result_files> get_result_files(const std::string& id, const std::string& api_key_id,
                                                    std::uint64_t max_bytes) = 0;
  // Queue depth as last seen (for backpressure without a database round trip).
  virtual std::int64_t queued_jobs() const = 0;
  // GPU converters that can take a job now (worker running, device working). gpu_required jobs are
  // refused at submit with 503 gpu_not_available while this is 0.
  virtual int working_gpu_converters() const = 0;
};

}  // namespace quire::actors
