// quire::http — the RESTinio listener in front of `api` (api.hpp).
//
// Accepts connections on QUIRE_LISTEN; a small I/O thread set parses HTTP, and every request is
// handled on a separate pool of handler threads (QUIRE_HTTP_THREADS), because job routes block on
// the database, fsync and long polls. Health, readiness and metrics are answered on the I/O threads.
// Everything is bounded: URL, headers and body sizes (the body a little over QUIRE_MAX_UPLOAD_BYTES
// so an oversized upload still gets a 413), the time to read a request (QUIRE_IDLE_TIMEOUT_SECONDS,
// against slow clients), uploads in flight (api::admit), the handler backlog (4 × threads) and the
// time a request may wait in it (QUIRE_REQUEST_TIMEOUT_SECONDS); over a bound: 503 overloaded.
// Connections are capped in total (QUIRE_MAX_CONNECTIONS) and per client address
// (QUIRE_MAX_CONNECTIONS_PER_PEER): over a cap a connection is closed at accept. The probes are
// also served on a listener of their own (QUIRE_PROBE_LISTEN), which a connection flood on
// QUIRE_LISTEN cannot fill.
#pragma once

#include <memory>
#include <string>

#include "http/api.hpp"

namespace quire::http {

class server {
 public:
  virtual ~server() = default;
  // Stops accepting, finishes in-flight requests, joins every thread. Idempotent.
  virtual void stop() = 0;
};

// Binds and starts serving; throws std::runtime_error when the address cannot be bound.
std::unique_ptr<server> start_server(api& handler, const actors::service_config& cfg);

}  // namespace quire::http
