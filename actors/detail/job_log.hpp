// quire::actors — the job.transition log line: one per status change this process makes, with the
// job id, the attempt (the lease's fencing token), from/to and what caused it (error code, reason,
// converter). docs/runbook.md ("Logs") lists the events and their fields.
#pragma once

#include <string>

#include "log/log.hpp"
#include "storage/job_state.hpp"

namespace quire::actors {

inline void log_transition(const std::string& job_id, storage::job_status from, storage::job_status to, int attempt,
                           const log::fields& extra = log::fields::object(), log::level at = log::level::info) {
  if (!log::enabled(at)) return;
  log::fields f{{"job_id", job_id},
                {"from", std::string(storage::to_string(from))},
                {"to", std::string(storage::to_string(to))},
                {"attempt", attempt}};
  for (const auto& [k, v] : extra.items()) f[k] = v;
  log::emit(at, "job.transition", f);
}

}  // namespace quire::actors
