// Private to quire_storage_pg: the options every PostgreSQL connection the storage opens is made with.
#pragma once

#include <string>

namespace quire::storage::detail {

// `url` (a postgres:// URL or a key=value string) with connect_timeout and TCP keepalives added
// unless the URL already sets connect_timeout: a connection attempt to a host that does not answer
// fails in `seconds`, and a peer that vanished is noticed in about a minute instead of hours.
std::string with_connect_options(const std::string& url, int seconds);
// For connections made outside job_store (migrator, work listener): store_options' default.
inline constexpr int kConnectTimeoutSeconds = 5;

}  // namespace quire::storage::detail
