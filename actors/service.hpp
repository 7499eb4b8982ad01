// quire::actors — the service as the HTTP layer sees it.
//
// This is the actors module's public header. `quire serve` starts a `runtime` (runtime.hpp), which
// runs the CAF actor system and its actors:
//   readiness supervisor  owns the readiness snapshot (readiness.hpp); re-checks periodically and on events
//   job coordinator       claims queued jobs as converters free up, renews leases, finishes/retries jobs
//   converters            one per working GPU plus QUIRE_CPU_CONVERTERS CPU ones; each supervises a
//                         crash-isolated `quire worker` (worker_process.hpp)
//   retention sweeper     runs the store's sweep periodically
// and hands the HTTP layer a `service` (below): the one layer between a route and the job store.
// Its one production implementation is job_service (detail/job_service.hpp); the interface exists
// so the routes can be tested against a fake. Plain C++ with no CAF types, so the RESTinio
// translation units do not pay for CAF headers. It answers typed values (the job record, a
// result's manifest); the API's JSON documents are rendered by http/ (api/job_document.hpp for the
// job document, which webhooks share). Configuration comes from config.hpp, metrics from
// metrics.hpp, the module's error codes from errors.hpp, the worker's side of the worker protocol
// from worker_wire.hpp. Everything under actors/detail/ is internal to the module.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "actors/config.hpp"
#include "actors/metrics.hpp"
#include "actors/readiness.hpp"
#include "base/expected.hpp"
#include "storage/job_record.hpp"

namespace quire::actors {

// A failed service call as the HTTP API answers it: `code` is one of the API's stable error codes
// (docs/api.md) and `details` the JSON of the envelope's `details`. The API boundary's own error
// type, not quire::error: its codes are the wire's vocabulary (most, like job_not_cancelable or
// key_quota_exceeded, have no module error behind them) and its details are JSON, which the base
// error type does not know. Module errors become api_errors in one place each: storage's in
// to_api_error (detail/job_service.hpp); the engine's reach the API as the job's recorded failure
// code.
struct api_error {
  std::string code;
  std::string message;
  nlohmann::json details = nlohmann::json::object();
};

// Either a value or an api_error: the one result shape (base/expected.hpp) with the API's error.
template <class T>
using api_result = quire::expected<T, api_error>;

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
  storage::job_record job;  // the job as committed (or the original one, on a replay)
  bool replay = false;      // same Idempotency-Key + same payload: an existing job
};

struct list_query {
  std::optional<std::string> status;  // one state name
  int limit = 50;
  std::string cursor;                  // opaque, from a previous page
};

struct job_page {
  std::vector<storage::job_record> jobs;
  std::string next_cursor;             // "" at the end
};

// A succeeded job's result: its row, the worker's manifest and, when asked for, the Markdown.
struct job_result {
  storage::job_record job;
  // result/manifest.json (page_count, warnings, assets, acceleration_used); {} when unreadable.
  nlohmann::json manifest = nlohmann::json::object();
  // The formats the job asked for, as recorded: [{format, name, media_type, size_bytes, sha256}]
  // (markdown's from the row, the others from the manifest).
  nlohmann::json formats = nlohmann::json::array();
  std::string markdown;                // filled when asked for (verified against the row's sha256)
};

// One extracted image of a result, verified against its manifest entry.
struct artifact {
  std::string media_type;
  std::string bytes;
};

// What /v1/info reports about this process beyond its configuration.
struct service_info {
  std::string revision;
  std::string instance;                    // "host/pid/nonce"
  nlohmann::json gpu_report = nlohmann::json::object();  // device discovery at start
  std::vector<std::string> device_notes;   // failed self-tests and devices that died
  int gpu_converters = 0;                  // converters bound to a working device at start
  int live_converters = 0;                 // converters whose worker runs now
  int live_gpu_converters = 0;
};

// One file of a job's result, read and verified against its recorded size and sha256.
struct result_file {
  std::string name;                    // as in the job directory: "result.md", "assets/img-p1-1.png"
  std::string media_type;
  std::string bytes;
  std::string sha256;                  // the recorded hash it was verified against
};

struct result_files {
  std::vector<result_file> files;      // the job's formats (result.md first), then its assets
};

class service {
 public:
  virtual ~service() = default;
  virtual readiness_snapshot readiness() const = 0;
  virtual service_info info() const = 0;

  // Job operations. Blocking (database + disk); the HTTP layer calls them off its I/O threads.
  virtual api_result<submitted> submit(const submission& s) = 0;
  // submit() without waiting for the commit: `done` runs exactly once, on this thread or another
  // (the submit batcher's), when the job is committed or refused. It must not throw or block.
  virtual void submit_async(const submission& s, std::function<void(api_result<submitted>)> done) { done(submit(s)); }
  virtual api_result<storage::job_record> get_job(const std::string& id, const std::string& api_key_id) = 0;
  // Waits up to `wait` for the job to leave queued/running, then returns it as get_job does.
  virtual api_result<storage::job_record> wait_job(const std::string& id, const std::string& api_key_id,
                                                   std::chrono::milliseconds wait) = 0;
  virtual api_result<job_page> list_jobs(const list_query& q, const std::string& api_key_id) = 0;
  // The job as it is after the cancel.
  virtual api_result<storage::job_record> cancel_job(const std::string& id, const std::string& api_key_id) = 0;
  virtual api_result<job_result> get_result(const std::string& id, const std::string& api_key_id,
                                            bool with_markdown) = 0;
  // One extracted image (an entry of the result manifest's assets, by name).
  virtual api_result<artifact> get_artifact(const std::string& id, const std::string& api_key_id,
                                            const std::string& name) = 0;
  // One result format of a job ("markdown", "json", "chunks", "text": api/result_formats.hpp),
  // verified. A format the job did not ask for at submit is 404 format_not_available; an unknown
  // name 404 format_unknown.
  virtual api_result<result_file> get_result_format(const std::string& id, const std::string& api_key_id,
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
