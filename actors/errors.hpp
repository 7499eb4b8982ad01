// quire::actors — the actors module's own error codes (domain "actors", base/error.hpp). Most of
// what the module answers is the HTTP API's api_error (service.hpp) or a storage error passed on;
// these are the failures that start here. Add new codes at the end; never rename (the names reach
// logs and, for worker_unavailable and io_error, job failures and `quire convert`'s report).
#pragma once

#include <string_view>

#include "base/expected.hpp"

namespace quire::actors {

enum class errc {
  worker_unavailable,  // a conversion worker could not be started or did not become ready
  startup_failed,      // the runtime (the actor system and its actors) could not start
  io_error,            // a worker's input could not be staged or its output collected (a job failure code)
};

constexpr std::string_view to_string(errc code) {
  switch (code) {
    case errc::worker_unavailable: return "worker_unavailable";
    case errc::startup_failed: return "startup_failed";
    case errc::io_error: return "io_error";
  }
  return "startup_failed";
}

}  // namespace quire::actors

QUIRE_ERROR_DOMAIN(actors, "actors")  // errc as the "actors" error domain (base/error.hpp)
