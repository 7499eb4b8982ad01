// The options every PostgreSQL connection of the storage is opened with (detail/connect_options.hpp).
#include "storage/detail/connect_options.hpp"

namespace quire::storage::detail {

std::string with_connect_options(const std::string& url, int seconds) {
  if (url.find("connect_timeout") != std::string::npos) return url;
  const std::string opts[] = {"connect_timeout=" + std::to_string(seconds), "keepalives=1", "keepalives_idle=30",
                              "keepalives_interval=10", "keepalives_count=3"};
  const bool is_uri = url.rfind("postgresql://", 0) == 0 || url.rfind("postgres://", 0) == 0;
  std::string out = url;
  for (const auto& o : opts) {
    if (is_uri) out += (out.find('?') == std::string::npos ? "?" : "&") + o;
    else out += (out.empty() ? "" : " ") + o;
  }
  return out;
}

}  // namespace quire::storage::detail
