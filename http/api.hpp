// quire::http — the v1 REST API, independent of the socket layer.
//
// This is the http module's public header. `api` turns a parsed `request` into a `response`:
// routing by the table in routes.hpp, the error envelope, X-Correlation-ID, API-key auth,
// readiness gating, backpressure, request metrics. server.hpp puts it behind RESTinio; tests
// drive it directly.
// Error codes and their statuses are listed in docs/api.md and must stay stable.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "actors/service.hpp"

namespace quire::http {

namespace detail {
struct api_state;
struct exchange;
}  // namespace detail

struct request {
  std::string method;                          // "GET", "POST", …
  std::string path;                            // without the query string
  std::map<std::string, std::string> query;    // decoded
  bool query_malformed = false;                // the query string could not be decoded (400)
  std::vector<std::string> repeated_query;     // names given more than once (422: which one counts?)
  std::map<std::string, std::string> headers;  // names lowercased
  std::string body;
  bool admitted = false;                       // api::admit() accepted it (its upload slot is held)
  std::string peer;                            // the client's address (the access log), "" when unknown
  // When the server had read it (set on the I/O thread): request durations count from here, so
  // the wait for a handler thread is part of them. Unset: from when the api starts on it.
  std::optional<std::chrono::steady_clock::time_point> received_at;
  std::string header(const std::string& lower_name) const;
};

struct response {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

// One stable error code → HTTP status and whether a client may retry.
struct error_kind {
  const char* code;
  int status;
  bool retryable;
};
const std::vector<error_kind>& error_kinds();

class api {
 public:
  using respond_fn = std::function<void(response)>;

  api(actors::service& svc, const actors::service_config& cfg);
  ~api();
  response handle(const request& req);
  // handle() for a server that can answer later: `respond` runs exactly once with the response.
  // A submit without wait_seconds is answered from the submit batcher's thread once its batch has
  // committed, so the calling (handler) thread is free meanwhile; everything else is answered
  // before handle_async returns.
  void handle_async(const request& req, respond_fn respond);

  // Admission before a request waits for a handler thread (server.cpp calls this on its I/O thread,
  // with only the request line and headers: no body copy). An upload (routes.hpp: POST /v1/convert/jobs, the docling convert routes) takes
  // one of QUIRE_MAX_CONCURRENT_UPLOADS slots from here until handle() returns, because each one
  // queued holds its whole body in memory; beyond the bound it is refused at once. nullopt:
  // admitted (pass the request to handle() with `admitted = true`); else the 503 to send.
  std::optional<response> admit(request& head);
  // Gives back what admit() took, for an admitted request that will never reach handle().
  void release(const request& head);
  // A refusal decided outside handle() (the handler backlog is full, or the request waited in it
  // too long): the envelope, X-Correlation-ID and request metrics, exactly as handle() would.
  response refuse(const request& head, const std::string& code, const std::string& message,
                  const nlohmann::json& details = nlohmann::json::object());
  int uploads_in_flight() const;

 private:
  void run(const request& req, respond_fn respond, bool may_defer);
  response dispatch(detail::exchange& ex);
  std::unique_ptr<detail::api_state> state_;
};

// Envelope for an error: {"api_version":"v1","error":{code,message,retryable,details,correlation_id}}.
response error_response(const std::string& code, const std::string& message, const std::string& correlation_id,
                        const nlohmann::json& details = nlohmann::json::object());

// Constant-time comparison of a presented key against each configured key; returns the matching
// key's id (a short non-secret fingerprint) or "" when none matches.
std::string match_api_key(const std::vector<std::string>& keys, const std::string& presented);

// A job id as the service issues them: 26 characters of [a-z2-7] (RFC 4648 base32, lowercase).
bool well_formed_job_id(std::string_view id);

// The embedded OpenAPI document (docs/openapi.yaml converted to JSON at build time).
const char* openapi_json();

}  // namespace quire::http
