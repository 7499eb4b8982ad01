// quire::storage — error codes and the result type shared by every storage header.
//
// Errors are values (quire::expected, base/expected.hpp), never exceptions across the storage API
// (libpqxx and filesystem exceptions are caught inside and mapped to these codes). The codes are stable strings: the readiness
// supervisor and the HTTP layer pass them on unchanged (`schema_version_mismatch`,
// `database_profile_mismatch`, `artifact_missing`, ...). Add new codes at the end; never rename.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "base/expected.hpp"
#include "storage/job_state.hpp"

namespace quire::storage {

enum class errc {
  // --- database / schema (readiness reasons) ---
  database_unreachable,         // cannot connect, or the connection broke mid-call (retry later)
  schema_version_mismatch,      // migrations pending, or an applied migration's checksum changed
  database_ahead,               // the database has migrations this binary does not know
  database_profile_mismatch,    // the deployment record names another profile
  database_unbound,             // no deployment record yet (run `quire migrate --profile P`)
  // --- jobs ---
  job_not_found,                // no such id (never existed, or its tombstone was removed)
  job_expired,                  // a tombstone: the job existed, its files are gone
  job_canceled,                 // the transition was refused because the job was canceled
  lease_lost,                   // the caller no longer holds the lease (rescued, re-claimed, finished)
  illegal_transition,           // the job is in a state from which this transition is not legal
  idempotency_conflict,         // same Idempotency-Key, different payload
  // --- data root / artifacts ---
  data_root_missing,            // the directory does not exist (and creation was not requested)
  data_root_not_writable,
  data_root_profile_mismatch,   // .quire-root.json names another profile
  data_root_corrupt,            // .quire-root.json exists but cannot be parsed
  artifact_missing,             // a file the row promises is not on disk
  artifact_corrupt,             // the file's sha256 differs from the recorded one
  io_error,                     // any other filesystem failure (message has errno text)
  // --- generic ---
  invalid_argument,
  internal,                     // a bug or an unexpected database error (message has details)
  // --- added later (kept at the end: the numeric values of the codes above never change) ---
  storage_full,                 // the data root has no room (ENOSPC/EDQUOT, or under the reserve):
                                // retry later; nothing was half-written
};

std::string_view to_string(errc code);  // "schema_version_mismatch", ...

}  // namespace quire::storage

QUIRE_ERROR_DOMAIN(storage, "storage")  // errc as the "storage" error domain (base/error.hpp)

namespace quire::storage {

// Storage errors are quire::error (base/error.hpp) with codes of the "storage" domain. Its two
// extra fields carry what storage used to add here:
//   state            a refused job transition: the job's status at the time, by name ("succeeded");
//                    current_status() below reads it back typed
//   outcome_unknown  database_unreachable only: the connection broke while COMMIT was in flight,
//                    so the write may have been applied (pqxx::in_doubt_error). Callers must not
//                    undo what a committed row refers to.
// They live in the base type as plain data (a name, a flag) rather than as a storage-specific
// subclass so that every module's errors stay one type and the base depends on no module.
using error = quire::error;
template <class T>
using result = quire::expected<T>;
using quire::ok_t;
using quire::ok_v;
using status = quire::status;  // result<void>: success carries nothing
using quire::to_string;          // storage::to_string(e.code): the code's stable name

// The job's status when a transition was refused (error::state), when known.
inline std::optional<job_status> current_status(const error& e) {
  if (e.state.empty()) return std::nullopt;
  return parse_job_status(e.state);
}

}  // namespace quire::storage

