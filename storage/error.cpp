// Stable names of the storage error codes (see error.hpp).
#include "storage/error.hpp"

namespace quire::storage {

std::string_view to_string(errc code) {
  switch (code) {
    case errc::database_unreachable: return "database_unreachable";
    case errc::schema_version_mismatch: return "schema_version_mismatch";
    case errc::database_ahead: return "database_ahead";
    case errc::database_profile_mismatch: return "database_profile_mismatch";
    case errc::database_unbound: return "database_unbound";
    case errc::job_not_found: return "job_not_found";
    case errc::job_expired: return "job_expired";
    case errc::job_canceled: return "job_canceled";
    case errc::lease_lost: return "lease_lost";
    case errc::illegal_transition: return "illegal_transition";
    case errc::idempotency_conflict: return "idempotency_conflict";
    case errc::data_root_missing: return "data_root_missing";
    case errc::data_root_not_writable: return "data_root_not_writable";
    case errc::data_root_profile_mismatch: return "data_root_profile_mismatch";
    case errc::data_root_corrupt: return "data_root_corrupt";
    case errc::artifact_missing: return "artifact_missing";
    case errc::artifact_corrupt: return "artifact_corrupt";
    case errc::io_error: return "io_error";
    case errc::invalid_argument: return "invalid_argument";
    case errc::internal: return "internal";
    case errc::storage_full: return "storage_full";
  }
  return "internal";
}

}  // namespace quire::storage
