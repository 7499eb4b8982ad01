// Migrations runner: embedded SQL files, applied in order under an advisory lock, each in its own
// transaction with its checksum recorded. See migrator.hpp for the contract.
#include "storage/detail/migrator_impl.hpp"

#include <fmt/core.h>
#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <pqxx/pqxx>

#include "storage/detail/connect_options.hpp"
#include "storage/detail/internal.hpp"

namespace quire::storage {
namespace detail {
struct embedded_file { const char* name; const char* sql; };
extern const embedded_file embedded_migration_files[];
extern const int embedded_migration_count;
}  // namespace detail

namespace {

using detail::make_error;

// Arbitrary but fixed: every quire binary serialises its migrators on this advisory lock key.
constexpr long long migration_lock_key = 0x717569726531LL;  // "quire1"

constexpr const char* create_history_sql = R"(
CREATE TABLE IF NOT EXISTS quire_schema_migrations (
  version    integer PRIMARY KEY,
  name       text NOT NULL,
  checksum   text NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now()
))";

struct applied_row {
  int version;
  std::string name;
  std::string checksum;
};

error db_error(const std::exception& e) {
  if (dynamic_cast<const pqxx::broken_connection*>(&e) != nullptr)
    return make_error(errc::database_unreachable, e.what());
  return make_error(errc::internal, fmt::format("database error: {}", e.what()));
}

std::vector<applied_row> read_history(pqxx::connection& c) {
  pqxx::read_transaction t(c);
  std::vector<applied_row> rows;
  auto exists = t.exec1("SELECT to_regclass('quire_schema_migrations') IS NOT NULL");
  if (!exists[0].as<bool>()) return rows;
  for (const auto& r : t.exec("SELECT version, name, checksum FROM quire_schema_migrations ORDER BY version"))
    rows.push_back({r[0].as<int>(), r[1].as<std::string>(), r[2].as<std::string>()});
  return rows;
}

struct verdict {
  std::vector<const migration*> pending;
  std::vector<std::string> ahead;       // applied, unknown to the binary
  std::vector<std::string> mismatched;  // applied, checksum (or name) differs
};

verdict compare(const std::vector<applied_row>& applied, const std::vector<migration>& ms) {
  verdict v;
  std::map<int, const applied_row*> by_version;
  for (const auto& a : applied) by_version[a.version] = &a;
  std::map<int, const migration*> known;
  for (const auto& m : ms) known[m.version] = &m;
  for (const auto& a : applied) {
    auto it = known.find(a.version);
    if (it == known.end())
      v.ahead.push_back(a.name);
    else if (it->second->checksum != a.checksum || it->second->name != a.name)
      v.mismatched.push_back(fmt::format("{} (recorded checksum {} as {}, binary has {} as {})", it->second->name,
                                         a.checksum.substr(0, 12), a.name, it->second->checksum.substr(0, 12),
                                         it->second->name));
  }
  for (const auto& m : ms)
    if (!by_version.count(m.version)) v.pending.push_back(&m);
  return v;
}

// The history problems that forbid migrating (pending files alone do not).
std::optional<error> history_error(const verdict& v) {
  if (!v.ahead.empty())
    return make_error(errc::database_ahead,
                      fmt::format("database is ahead of this binary: applied migration(s) unknown to it: {}",
                                  fmt::join(v.ahead, ", ")));
  if (!v.mismatched.empty())
    return make_error(errc::schema_version_mismatch,
                      fmt::format("applied migration(s) changed since they were applied: {}",
                                  fmt::join(v.mismatched, "; ")));
  return std::nullopt;
}

std::optional<error> validate_list(const std::vector<migration>& ms) {
  for (std::size_t i = 1; i < ms.size(); ++i)
    if (ms[i].version <= ms[i - 1].version)
      return make_error(errc::internal, fmt::format("migrations {} and {} are out of order or share a version",
                                                    ms[i - 1].name, ms[i].name));
  return std::nullopt;
}

int highest(const std::vector<applied_row>& rows) {
  int v = 0;
  for (const auto& r : rows) v = std::max(v, r.version);
  return v;
}

}  // namespace

const std::vector<migration>& embedded_migrations() {
  static const std::vector<migration> list = [] {
    std::vector<migration> out;
    for (int i = 0; i < detail::embedded_migration_count; ++i) {
      const auto& f = detail::embedded_migration_files[i];
      migration m;
      m.name = f.name;
      m.version = std::stoi(m.name.substr(0, 4));
      m.sql = f.sql;
      m.checksum = detail::sha256_hex(m.sql);
      out.push_back(std::move(m));
    }
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.version < b.version; });
    return out;
  }();
  return list;
}

status check_schema(pqxx::connection& c, const std::vector<migration>& ms) {
  try {
    auto v = compare(read_history(c), ms);
    if (auto e = history_error(v)) return *e;
    if (!v.pending.empty()) {
      std::vector<std::string> names;
      for (const auto* m : v.pending) names.push_back(m->name);
      return make_error(errc::schema_version_mismatch,
                        fmt::format("pending migration(s): {} (run `quire migrate`)", fmt::join(names, ", ")));
    }
    return ok_v;
  } catch (const std::exception& e) {
    return db_error(e);
  }
}

status check_schema(const std::string& url, const std::vector<migration>& ms) {
  try {
    pqxx::connection c(detail::with_connect_options(url, detail::kConnectTimeoutSeconds));
    return check_schema(c, ms);
  } catch (const std::exception& e) {
    return make_error(errc::database_unreachable, e.what());
  }
}

status check_schema(const std::string& url) { return check_schema(url, embedded_migrations()); }

result<migrate_report> migrate(const std::string& url, const std::vector<migration>& ms) {
  if (auto e = validate_list(ms)) return *e;
  std::unique_ptr<pqxx::connection> c;
  try {
    c = std::make_unique<pqxx::connection>(detail::with_connect_options(url, detail::kConnectTimeoutSeconds));
  } catch (const std::exception& e) {
    return make_error(errc::database_unreachable, e.what());
  }
  try {
    // Session-level lock: held across the per-file transactions; released explicitly below or,
    // if this process dies, by the server when the connection goes away.
    {
      pqxx::nontransaction n(*c);
      n.exec(fmt::format("SELECT pg_advisory_lock({})", migration_lock_key));
    }
    auto unlock = [&] {
      try {
        pqxx::nontransaction n(*c);
        n.exec(fmt::format("SELECT pg_advisory_unlock({})", migration_lock_key));
      } catch (...) {  // the connection is gone: so is the lock
      }
    };
    try {
      {
        pqxx::work w(*c);
        w.exec(create_history_sql);
        w.commit();
      }
      auto history = read_history(*c);
      auto v = compare(history, ms);
      if (auto e = history_error(v)) {
        unlock();
        return *e;
      }
      migrate_report report;
      report.schema_version = highest(history);
      for (const auto* m : v.pending) {
        pqxx::work w(*c);
        try {
          w.exec(m->sql);
        } catch (const pqxx::sql_error& e) {
          unlock();
          return make_error(errc::internal, fmt::format("migration {} failed: {}", m->name, e.what()));
        }
        w.exec_params("INSERT INTO quire_schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                      m->version, m->name, m->checksum);
        w.commit();
        report.applied.push_back(m->name);
        report.schema_version = std::max(report.schema_version, m->version);
      }
      unlock();
      return report;
    } catch (...) {
      unlock();
      throw;
    }
  } catch (const std::exception& e) {
    return db_error(e);
  }
}

result<migrate_report> migrate(const std::string& url) { return migrate(url, embedded_migrations()); }

status check_deployment(pqxx::connection& c, const std::string& profile) {
  try {
    pqxx::read_transaction t(c);
    auto exists = t.exec1("SELECT to_regclass('quire_deployment') IS NOT NULL");
    if (!exists[0].as<bool>())
      return make_error(errc::schema_version_mismatch, "no quire_deployment table (run `quire migrate`)");
    auto r = t.exec("SELECT profile FROM quire_deployment");
    if (r.empty())
      return make_error(errc::database_unbound,
                        fmt::format("database not bound to a profile yet (expected {})", profile));
    auto bound = r[0][0].as<std::string>();
    if (bound != profile)
      return make_error(errc::database_profile_mismatch,
                        fmt::format("database belongs to profile '{}', this service is '{}'", bound, profile));
    return ok_v;
  } catch (const std::exception& e) {
    return db_error(e);
  }
}

status bind_deployment(pqxx::connection& c, const std::string& profile) {
  try {
    pqxx::work w(c);
    auto exists = w.exec1("SELECT to_regclass('quire_deployment') IS NOT NULL");
    if (!exists[0].as<bool>())
      return make_error(errc::schema_version_mismatch, "no quire_deployment table (run `quire migrate`)");
    w.exec_params("INSERT INTO quire_deployment (profile) VALUES ($1) ON CONFLICT DO NOTHING", profile);
    w.commit();
  } catch (const pqxx::check_violation& e) {
    return make_error(errc::invalid_argument, fmt::format("invalid profile name '{}'", profile));
  } catch (const std::exception& e) {
    return db_error(e);
  }
  return check_deployment(c, profile);
}

status check_deployment(const std::string& url, const std::string& profile) {
  try {
    pqxx::connection c(detail::with_connect_options(url, detail::kConnectTimeoutSeconds));
    return check_deployment(c, profile);
  } catch (const std::exception& e) {
    return make_error(errc::database_unreachable, e.what());
  }
}

status bind_deployment(const std::string& url, const std::string& profile) {
  try {
    pqxx::connection c(detail::with_connect_options(url, detail::kConnectTimeoutSeconds));
    return bind_deployment(c, profile);
  } catch (const std::exception& e) {
    return make_error(errc::database_unreachable, e.what());
  }
}

}  // namespace quire::storage
