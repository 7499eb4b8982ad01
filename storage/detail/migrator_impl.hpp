// Private: the migrator's checks on an existing connection (job_store reuses its own).
#pragma once

#include <pqxx/pqxx>

#include "storage/migrator.hpp"

namespace quire::storage {
status check_schema(pqxx::connection& c, const std::vector<migration>& ms);
status check_deployment(pqxx::connection& c, const std::string& profile);
status bind_deployment(pqxx::connection& c, const std::string& profile);
}  // namespace quire::storage
