// quire::storage — one job as the store reads it: plain data, no PostgreSQL. The job layer hands
// it to the HTTP layer, which renders the API's documents from it (api/job_document.hpp), so this
// header and job_state.hpp build without libpqxx (library quire_job_model).
#pragma once

#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "storage/job_state.hpp"

namespace quire::storage {

using time_point = std::chrono::system_clock::time_point;

struct job_error_info {
  std::string code;      // stable code from the converter, e.g. "pdf_unreadable", "worker_crashed"
  std::string message;
  bool retryable = false;
};

struct job_record {
  std::string id;
  std::string profile;
  job_status status = job_status::queued;
  std::optional<job_status> expired_from;  // for tombstones: succeeded/failed/canceled
  time_point created_at, updated_at, next_attempt_at;
  std::optional<time_point> started_at;    // start of the latest attempt
  std::optional<time_point> finished_at;   // set when the job became terminal
  std::optional<time_point> expires_at;    // when retention will expire the result
  int attempt = 0;                         // claims so far (the current lease's fencing token)
  int max_attempts = 3;
  std::optional<std::string> lease_owner;
  std::optional<time_point> lease_expires_at, heartbeat_at;
  int priority = 0;
  nlohmann::json spec = nlohmann::json::object();
  std::string api_key_id;                  // who submitted (scopes idempotency keys and listing)
  std::string source_filename;
  std::int64_t input_bytes = 0;
  std::string input_sha256;
  bool input_deleted = false;              // retention removed the raw input
  std::optional<std::int64_t> result_bytes;
  std::optional<std::string> result_sha256;
  std::optional<int> pages_total;
  int pages_done = 0;
  std::optional<job_error_info> error;     // last error (also kept on a retried, queued job)
  bool pinned = false;
  // Webhook deliveries of the job's terminal events (notify.url), oldest first: each an object
  // with webhook_id, event, state, attempts, last_attempt_at, next_attempt_at, last_status,
  // last_error, finished_at. Read by get() only; null elsewhere and for jobs without notify.url.
  nlohmann::json webhooks;
};

}  // namespace quire::storage
