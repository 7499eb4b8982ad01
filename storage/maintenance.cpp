// Retention and reconciliation: the rows decide, the files follow. Every deletion here is of a
// file whose row says it is no longer needed (or that has had no row for a grace period), so an
// interrupted run loses nothing and the next run finishes the job.
#include "storage/maintenance.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <limits>

#include "storage/detail/internal.hpp"

namespace quire::storage {

result<retention_report> run_retention(job_store& jobs, const artifact_store& files, const retention_policy& policy,
                                       int batch, int max_batches) {
  retention_report rep;
  for (int i = 0; i < max_batches; ++i) {
    auto b = jobs.sweep(policy, batch);
    if (!b) return b.err();
    for (const auto& id : b->inputs_to_delete) {
      if (auto s = files.remove_file(id, "input.pdf"); s)
        ++rep.inputs_deleted;
      else
        rep.file_errors.push_back(s.err().message);
    }
    for (const auto& id : b->jobs_expired) {
      if (auto s = files.remove_job(id); s)
        ++rep.jobs_expired;
      else
        rep.file_errors.push_back(s.err().message);
    }
    rep.tombstones_deleted += b->tombstones_deleted;
    rep.idempotency_keys_deleted += b->idempotency_keys_deleted;
    if (!b->more) break;
  }
  return rep;
}

result<reconcile_report> reconcile(job_store& jobs, const artifact_store& files, const reconcile_options& opts) {
  reconcile_report rep;
  auto tmp = files.reconcile_tmp(opts.orphan_grace);
  if (!tmp) return tmp.err();
  rep.temp_files_removed = *tmp;

  auto listed = files.list_jobs();
  if (!listed) return listed.err();
  const auto cutoff = std::filesystem::file_time_type::clock::now() - opts.orphan_grace;
  // Only jobs whose files are older than the grace period can need anything: an orphan must be
  // that old to be removed, a tombstone's files were last written when its job finished (days
  // before it expired), an input is stale only input_ttl after the finish. Skipping the younger
  // ones spares a row lookup per recent job, which on a busy lane (a fresh backlog of tens of
  // thousands) was most of a sweep's database time. A directory a crashed sweep touched late is
  // young for one grace period and handled by a later sweep.
  std::vector<artifact_store::job_files_entry> dirs;
  for (auto& d : *listed)
    if (d.modified <= cutoff) dirs.push_back(std::move(d));
  std::vector<std::string> finished_with_input;  // candidates for a stale input
  constexpr std::size_t chunk = 500;
  for (std::size_t i = 0; i < dirs.size(); i += chunk) {
    std::vector<std::string> ids;
    for (std::size_t k = i; k < std::min(dirs.size(), i + chunk); ++k) ids.push_back(dirs[k].job_id);
    auto rows = jobs.statuses_of(ids);
    if (!rows) return rows.err();
    for (std::size_t k = i; k < std::min(dirs.size(), i + chunk); ++k) {
      const auto& d = dirs[k];
      auto it = rows->find(d.job_id);
      if (it == rows->end()) {
        // No row, older than the grace: a crash between writing the input and committing the row.
        if (files.remove_job(d.job_id)) ++rep.orphan_dirs_removed;
      } else if (it->second == job_status::expired) {
        if (files.remove_job(d.job_id)) ++rep.tombstone_dirs_removed;
      } else if (is_terminal(it->second) && files.exists(d.job_id, "input.pdf")) {
        finished_with_input.push_back(d.job_id);
      }
    }
  }

  // Inputs the sweeper marked deleted but did not get to delete (crash after its commit). Only
  // finished jobs that still hold an input are looked up (inputs are kept input_ttl after the
  // finish, so that is a day of jobs), a chunk per query; queued/running ones need theirs.
  for (std::size_t i = 0; i < finished_with_input.size(); i += chunk) {
    const std::vector<std::string> ids(finished_with_input.begin() + static_cast<std::ptrdiff_t>(i),
                                       finished_with_input.begin() +
                                           static_cast<std::ptrdiff_t>(std::min(finished_with_input.size(), i + chunk)));
    auto swept = jobs.inputs_swept(ids);
    if (!swept) return swept.err();
    for (const auto& id : *swept)
      if (files.remove_file(id, "input.pdf")) ++rep.stale_inputs_removed;
  }

  std::string after = opts.verify_after;
  for (std::int64_t left = opts.verify_limit < 0 ? std::numeric_limits<std::int64_t>::max() : opts.verify_limit; left > 0;) {
    auto page = jobs.succeeded_after(after, static_cast<int>(std::min<std::int64_t>(left, 500)));
    if (!page) return page.err();
    if (page->empty()) {
      after.clear();  // the last succeeded job was verified: the next run starts over
      break;
    }
    for (const auto& [id, sha] : *page) {
      auto v = files.verify(id, "result.md", sha);
      if (!v && (v.err().code == errc::artifact_missing || v.err().code == errc::artifact_corrupt))
        rep.artifact_missing.push_back(fmt::format("{}: {}", id, v.err().message));
    }
    rep.results_verified += static_cast<std::int64_t>(page->size());
    left -= static_cast<std::int64_t>(page->size());
    after = page->back().first;
  }
  rep.verify_next_after = after;
  return rep;
}

}  // namespace quire::storage
