// `quire sweep` — one maintenance pass by hand (the service's sweeper actor does the same
// periodically): rescue expired leases, apply retention, reconcile the data root with the rows.
// Safe to run while the service is up and from several hosts at once.
//   --data-root DIR (default $QUIRE_DATA_ROOT), --profile P ($QUIRE_PROFILE),
//   --database-url URL ($QUIRE_DATABASE_URL), --input-ttl-hours 24, --result-ttl-hours 168,
//   --tombstone-ttl-hours 720, --orphan-grace-minutes 60, --no-verify (skip hashing results).
// Prints a JSON report on stdout. Exit codes: 0 clean, 1 artifacts missing/corrupt or files that
// could not be deleted (listed in the report), 2 usage, 3 database unreachable, 4 schema, profile
// or data-root problem (reason code printed).
#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include <cstdlib>
#include <optional>
#include <vector>
#include <nlohmann/json.hpp>

#include "actors/config.hpp"
#include "app/database_url.hpp"
#include "storage/artifact_store.hpp"
#include "storage/job_store.hpp"
#include "storage/maintenance.hpp"

namespace quire::app {
namespace {

struct sweep_args {
  std::string url, profile, data_root;
  long input_ttl_hours = 24, result_ttl_hours = 24 * 7, tombstone_ttl_hours = 24 * 30;
  long orphan_grace_minutes = 60;
  bool no_verify = false;
};

std::string env_or(const char* name, const std::string& v) {
  const char* e = std::getenv(name);
  return !v.empty() ? v : (e != nullptr ? std::string(e) : std::string());
}

int fail(const storage::error& e) {
  fmt::print(stderr, "quire sweep: {}: {}\n", storage::to_string(e.code), e.message);
  return e.code == storage::errc::database_unreachable ? 3 : 4;
}

int run_sweep(sweep_args a) {
  if (a.url.empty()) {
    auto url = database_url_from_env("quire sweep");
    if (!url) return 2;
    a.url = *url;
  }
  a.profile = env_or("QUIRE_PROFILE", a.profile);
  a.data_root = env_or("QUIRE_DATA_ROOT", a.data_root);
  if (a.url.empty() || a.profile.empty() || a.data_root.empty()) {
    fmt::print(stderr, "quire sweep: need a database URL, a profile and a data root (see --help)\n");
    return 2;
  }
  storage::store_options o;
  o.database_url = a.url;
  o.profile = a.profile;
  o.result_ttl = std::chrono::hours(a.result_ttl_hours);
  auto store = storage::job_store::open(o);
  if (!store) return fail(store.err());
  if (auto s = (*store)->check_schema(); !s) return fail(s.err());
  if (auto s = (*store)->check_deployment(); !s) return fail(s.err());
  auto files = storage::artifact_store::open(a.data_root, a.profile, false);
  if (!files) return fail(files.err());

  auto rescued = (*store)->rescue_expired(10000);
  if (!rescued) return fail(rescued.err());
  storage::retention_policy p;
  p.input_ttl = std::chrono::hours(a.input_ttl_hours);
  p.result_ttl = std::chrono::hours(a.result_ttl_hours);
  p.tombstone_ttl = std::chrono::hours(a.tombstone_ttl_hours);
  auto ret = storage::run_retention(**store, *files, p);
  if (!ret) return fail(ret.err());
  storage::reconcile_options ro;
  ro.orphan_grace = std::chrono::minutes(a.orphan_grace_minutes);
  ro.verify_limit = a.no_verify ? 0 : -1;  // every result, once
  auto rec = storage::reconcile(**store, *files, ro);
  if (!rec) return fail(rec.err());

  nlohmann::json out{
      {"rescued", rescued->size()},
      {"retention", {{"inputs_deleted", ret->inputs_deleted}, {"jobs_expired", ret->jobs_expired},
                     {"tombstones_deleted", ret->tombstones_deleted},
                     {"idempotency_keys_deleted", ret->idempotency_keys_deleted},
                     {"file_errors", ret->file_errors}}},
      {"reconcile", {{"orphan_dirs_removed", rec->orphan_dirs_removed},
                     {"tombstone_dirs_removed", rec->tombstone_dirs_removed},
                     {"stale_inputs_removed", rec->stale_inputs_removed},
                     {"temp_files_removed", rec->temp_files_removed},
                     {"results_verified", rec->results_verified},
                     {"artifact_missing", rec->artifact_missing}}}};
  fmt::print("{}\n", out.dump(2));
  return rec->artifact_missing.empty() && ret->file_errors.empty() ? 0 : 1;
}

}  // namespace

void add_sweep_command(CLI::App& app) {
  auto a = std::make_shared<sweep_args>();
  auto* cmd = app.add_subcommand("sweep", "One maintenance pass: rescue expired leases, retention, reconcile");
  cmd->add_option("--database-url", a->url, "PostgreSQL URL (default: $QUIRE_DATABASE_URL)");
  cmd->add_option("--profile", a->profile, "prod | eval (default: $QUIRE_PROFILE)");
  cmd->add_option("--data-root", a->data_root, "Data root directory (default: $QUIRE_DATA_ROOT)");
  cmd->add_option("--input-ttl-hours", a->input_ttl_hours, "Delete raw inputs this long after finish")->capture_default_str();
  cmd->add_option("--result-ttl-hours", a->result_ttl_hours, "Expire results this long after finish")->capture_default_str();
  cmd->add_option("--tombstone-ttl-hours", a->tombstone_ttl_hours, "Remove tombstones this long after finish")
      ->capture_default_str();
  cmd->add_option("--orphan-grace-minutes", a->orphan_grace_minutes, "Age before a row-less job dir is an orphan")
      ->capture_default_str();
  cmd->add_flag("--no-verify", a->no_verify, "Do not hash every succeeded result");
  cmd->callback([a] {
    int rc = run_sweep(*a);
    if (rc != 0) throw CLI::RuntimeError(rc);
  });
}

}  // namespace quire::app
