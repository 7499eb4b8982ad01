// quire::storage maintenance — the operations that need both the job rows and the data root:
// retention sweeps, data-root reconciliation and artifact verification. Each is safe to run
// concurrently from several replicas and to interrupt at any point (it only ever deletes files
// whose row says they are no longer needed, or that have no row after a grace period).
// The service's retention-sweeper actor calls these periodically; `quire sweep` runs them once.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "storage/artifact_store.hpp"
#include "storage/error.hpp"
#include "storage/job_store.hpp"

namespace quire::storage {

struct retention_report {
  std::int64_t inputs_deleted = 0;    // raw inputs removed (job rows stay)
  std::int64_t jobs_expired = 0;      // rows turned into tombstones, job dirs removed
  std::int64_t tombstones_deleted = 0;
  std::int64_t idempotency_keys_deleted = 0;
  std::vector<std::string> file_errors;  // deletions that failed (retried by the next run)
};

// Runs sweep batches until nothing is left or max_batches is reached.
result<retention_report> run_retention(job_store& jobs, const artifact_store& files,
                                       const retention_policy& policy, int batch = 500,
                                       int max_batches = 100);

struct reconcile_report {
  std::int64_t orphan_dirs_removed = 0;    // job dirs with no row, older than the grace period
  std::int64_t tombstone_dirs_removed = 0; // dirs of expired rows (sweeper crashed mid-way)
  std::int64_t stale_inputs_removed = 0;   // input.pdf of rows whose input was swept
  std::int64_t temp_files_removed = 0;
  std::vector<std::string> artifact_missing;  // succeeded jobs whose result is absent or corrupt
  std::int64_t results_verified = 0;          // results hashed this run
  // Where the next run's verification goes on (an id, see reconcile_options::verify_after);
  // "" when this run reached the last succeeded job (the next starts from the first again).
  std::string verify_next_after;
};

struct reconcile_options {
  // A job's files without a row (its input in inputs/, its directory in jobs/) are only removed
  // once this old: the accept path writes the input BEFORE committing the row, so a young input
  // without a row may be an upload in flight.
  std::chrono::seconds orphan_grace{std::chrono::hours(1)};
  // Succeeded jobs' result.md files hashed against their recorded sha256 this run, in id order
  // from after `verify_after` ("" = the first): at most verify_limit of them (0 = none, negative =
  // all). A periodic caller passes the report's verify_next_after back: every result is read in
  // turn, a bounded amount per run, instead of all of them at once.
  int verify_limit = -1;
  std::string verify_after;
};

result<reconcile_report> reconcile(job_store& jobs, const artifact_store& files,
                                   const reconcile_options& opts = {});

}  // namespace quire::storage
