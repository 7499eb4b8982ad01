// quire::storage migrations — the schema lives in migrations/NNNN_name.sql, embedded into the
// binary at build time (storage/CMakeLists.txt generates the table), so a deployed binary needs no
// files at run time and always knows exactly which schema it expects.
//
// migrate(): under a session advisory lock (two processes starting together serialise; the second
// finds nothing to do), each pending file runs in its own transaction together with its record in
// `quire_schema_migrations` (version, name, sha256 of the text). Before applying anything it
// verifies the history: a changed checksum of an applied file, or an applied version this binary
// does not know (database ahead of binary), is an error naming the file and nothing is applied.
// check(): the same verification without applying; pending files are schema_version_mismatch.
// Readiness uses check() (job_store::check_schema() calls it).
#pragma once

#include <string>
#include <vector>

#include "storage/error.hpp"

namespace quire::storage {

struct migration {
  int version = 0;       // from the NNNN prefix
  std::string name;      // file name, e.g. "0001_jobs.sql"
  std::string sql;
  std::string checksum;  // sha256 hex of sql
};

// The migrations compiled into this binary, ascending by version.
const std::vector<migration>& embedded_migrations();

struct migrate_report {
  std::vector<std::string> applied;     // file names applied by this call
  int schema_version = 0;               // highest applied version afterwards
};

// Against an explicit migration list (tests use this to simulate other binaries).
result<migrate_report> migrate(const std::string& database_url, const std::vector<migration>& ms);
result<migrate_report> migrate(const std::string& database_url);  // embedded_migrations()

// ok: schema exactly matches. Errors: schema_version_mismatch (pending or checksum changed; the
// message lists every file), database_ahead, database_unreachable.
status check_schema(const std::string& database_url, const std::vector<migration>& ms);
status check_schema(const std::string& database_url);

// The deployment record binds a database to one profile. bind: insert if absent (first start),
// then compare. check: compare only (database_unbound when absent).
status bind_deployment(const std::string& database_url, const std::string& profile);
status check_deployment(const std::string& database_url, const std::string& profile);

}  // namespace quire::storage
