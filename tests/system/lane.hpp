// A ready-to-start eval lane for the system tests: its own database (migrated), data root and port.
#pragma once

#include "harness.hpp"

namespace quire::systest {

inline std::map<std::string, std::string> lane_env(const std::string& db, const std::string& root) {
  return {{"QUIRE_PROFILE", "eval"},
          {"QUIRE_DATA_ROOT", root},
          {"QUIRE_DATABASE_URL", db},
          {"QUIRE_READINESS_INTERVAL_SECONDS", "1"},
          {"QUIRE_POLL_INTERVAL_SECONDS", "1"},
          {"QUIRE_RETRY_BACKOFF_SECONDS", "0"},
          {"QUIRE_LEASE_SECONDS", "4"},
          {"QUIRE_HEARTBEAT_SECONDS", "1"},
          {"QUIRE_SHUTDOWN_GRACE_SECONDS", "15"},
          {"QUIRE_WORKER_TEST_HOOKS", "1"}};  // inherited by `quire worker` (see cmd_worker.cpp)
}

struct lane {
  std::string db;
  std::string root;
  service svc;
  explicit lane(const std::string& name, std::map<std::string, std::string> extra = {}, bool migrate = true)
      : db(fresh_database(name)), root(temp_dir(name)), svc(lane_env(db, root)) {
    if (migrate && quire_migrate(db, "eval") != 0) throw std::runtime_error("quire migrate failed for " + db);
    for (auto& [k, v] : extra) svc.env[k] = v;
  }
};

inline std::string job_id_of(const http_response& r) { return r.json()["job"].value("job_id", ""); }

}  // namespace quire::systest
