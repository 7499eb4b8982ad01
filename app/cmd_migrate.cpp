// `quire migrate [--check] [--database-url URL] [--profile P]` — apply or check the database
// schema (the migrations embedded in this binary), and bind the database to a profile.
//   migrate          applies pending migrations under an advisory lock (safe to run from several
//                    replicas at once); with a profile, binds an unbound database to it.
//   migrate --check  changes nothing; exit 0 only when the schema matches this binary exactly
//                    (and, with a profile, the database belongs to it). Readiness uses the same
//                    check (schema_version_mismatch).
// URL: --database-url, else QUIRE_DATABASE_URL. Profile: --profile, else QUIRE_PROFILE (optional).
// Exit codes: 0 ok, 1 schema/profile problem (the reason code is printed), 2 usage, 3 database
// unreachable. `quire sweep` (cmd_sweep.cpp) is registered from here too.
#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include <cstdlib>
#include <optional>
#include <vector>

#include "actors/config.hpp"
#include "app/commands.hpp"
#include "app/database_url.hpp"
#include "storage/migrator.hpp"

namespace quire::app {

std::optional<std::string> database_url_from_env(const char* command) {
  std::vector<actors::config_error> errors;
  auto url = actors::secret_setting(actors::process_env(), "QUIRE_DATABASE_URL", errors);
  for (const auto& e : errors) fmt::print(stderr, "{}: {}: {}\n", command, e.variable, e.message);
  if (!errors.empty()) return std::nullopt;
  return url.value_or("");
}

void add_sweep_command(CLI::App& app);  // cmd_sweep.cpp

namespace {

struct migrate_args {
  std::string url;
  std::string profile;
  bool check = false;
  bool list = false;
};

std::string env_or(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::string(v) : fallback;
}

int fail(const storage::error& e) {
  fmt::print(stderr, "quire migrate: {}: {}\n", storage::to_string(e.code), e.message);
  return e.code == storage::errc::database_unreachable ? 3 : 1;
}

int run_migrate(migrate_args a) {
  if (a.list) {
    for (const auto& m : storage::embedded_migrations()) fmt::print("{}  {}\n", m.checksum, m.name);
    return 0;
  }
  if (a.url.empty()) {
    auto url = database_url_from_env("quire migrate");
    if (!url) return 2;
    a.url = *url;
  }
  a.profile = a.profile.empty() ? env_or("QUIRE_PROFILE", "") : a.profile;
  if (a.url.empty()) {
    fmt::print(stderr, "quire migrate: no database: set QUIRE_DATABASE_URL or pass --database-url\n");
    return 2;
  }
  if (a.check) {
    if (auto s = storage::check_schema(a.url); !s) return fail(s.err());
    if (!a.profile.empty())
      if (auto s = storage::check_deployment(a.url, a.profile); !s) return fail(s.err());
    fmt::print("schema up to date ({} migrations){}\n", storage::embedded_migrations().size(),
               a.profile.empty() ? "" : fmt::format(", database bound to profile {}", a.profile));
    return 0;
  }
  auto r = storage::migrate(a.url);
  if (!r) return fail(r.err());
  for (const auto& name : r->applied) fmt::print("applied {}\n", name);
  if (r->applied.empty()) fmt::print("nothing to apply (schema version {})\n", r->schema_version);
  if (!a.profile.empty()) {
    if (auto s = storage::bind_deployment(a.url, a.profile); !s) return fail(s.err());
    fmt::print("database bound to profile {}\n", a.profile);
  }
  return 0;
}

}  // namespace

void add_storage_commands(CLI::App& app) {
  auto args = std::make_shared<migrate_args>();
  auto* cmd = app.add_subcommand("migrate", "Apply (or --check) the database schema migrations");
  cmd->add_flag("--check", args->check, "Change nothing; exit 1 if anything is pending or mismatched");
  cmd->add_option("--database-url", args->url, "PostgreSQL URL (default: $QUIRE_DATABASE_URL)");
  cmd->add_option("--profile", args->profile, "Bind/check the database's profile (default: $QUIRE_PROFILE)");
  cmd->add_flag("--list", args->list, "Print the migrations embedded in this binary and exit");
  cmd->callback([args] {
    int rc = run_migrate(*args);
    if (rc != 0) throw CLI::RuntimeError(rc);
  });
  add_sweep_command(app);
}

}  // namespace quire::app
