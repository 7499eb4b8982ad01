// quire::storage — error codes and the result type shared by every storage header.
//
// Errors are values, never exceptions across the storage API (libpqxx and filesystem exceptions
// are caught inside and mapped to these codes). The codes are stable strings: the readiness
// supervisor and the HTTP layer pass them on unchanged (`schema_version_mismatch`,
// `database_profile_mismatch`, `artifact_missing`, ...). Add new codes at the end; never rename.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

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

struct error {
  errc code = errc::internal;
  std::string message;
  // For refused job transitions: the job's status at the time of refusal, when known.
  std::optional<job_status> current_status;
  // database_unreachable only: the connection broke while COMMIT was in flight, so the write may
  // have been applied (pqxx::in_doubt_error). Callers must not undo what a committed row refers to.
  bool outcome_unknown = false;
};

// Minimal expected<T, error>: holds a value or an error, never both.
template <class T>
class result {
 public:
  result(T value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT(google-explicit-constructor)
  result(error err) : v_(std::in_place_index<1>, std::move(err)) {}   // NOLINT(google-explicit-constructor)
  explicit operator bool() const { return v_.index() == 0; }
  bool ok() const { return v_.index() == 0; }
  T& value() { return std::get<0>(v_); }
  const T& value() const { return std::get<0>(v_); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() { return value(); }
  const T& operator*() const { return value(); }
  const error& err() const { return std::get<1>(v_); }

 private:
  std::variant<T, error> v_;
};

// result<void>: success carries nothing.
struct ok_t {};
inline constexpr ok_t ok_v{};
using status = result<ok_t>;

}  // namespace quire::storage
