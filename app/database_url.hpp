// The database URL of the storage commands (`quire migrate`, `quire sweep`).
#pragma once

#include <optional>
#include <string>

namespace quire::app {

// QUIRE_DATABASE_URL, or the file QUIRE_DATABASE_URL_FILE names (actors::secret_setting); "" when
// neither is set. An unreadable file is reported on stderr under `command`'s name, and the answer
// is nullopt: the command ends.
std::optional<std::string> database_url_from_env(const char* command);

}  // namespace quire::app
