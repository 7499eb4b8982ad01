// Names of the job states and transitions (the machine itself is in job_state.hpp).
#include "storage/job_state.hpp"

namespace quire::storage {

std::string_view to_string(job_status s) {
  switch (s) {
    case job_status::queued: return "queued";
    case job_status::running: return "running";
    case job_status::succeeded: return "succeeded";
    case job_status::failed: return "failed";
    case job_status::canceled: return "canceled";
    case job_status::expired: return "expired";
  }
  return "queued";
}

std::optional<job_status> parse_job_status(std::string_view s) {
  for (auto st : {job_status::queued, job_status::running, job_status::succeeded, job_status::failed,
                  job_status::canceled, job_status::expired})
    if (to_string(st) == s) return st;
  return std::nullopt;
}

std::string_view to_string(transition t) {
  switch (t) {
    case transition::claim: return "claim";
    case transition::complete: return "complete";
    case transition::fail_retry: return "fail_retry";
    case transition::fail_final: return "fail_final";
    case transition::release: return "release";
    case transition::rescue: return "rescue";
    case transition::rescue_final: return "rescue_final";
    case transition::cancel_queued: return "cancel_queued";
    case transition::cancel_running: return "cancel_running";
    case transition::expire: return "expire";
  }
  return "claim";
}

}  // namespace quire::storage
