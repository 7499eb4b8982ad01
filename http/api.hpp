// quire::http — the v1 REST API, independent of the socket layer.
//
// This is the http module's public header. `api` turns a parsed `request` into a `response`:
// routing by template, the error envelope, X-Correlation-ID, API-key auth, readiness gating,
// backpressure, request metrics. server.hpp puts it behind RESTinio; tests drive it directly.
// Error codes and their statuses are listed in docs/api.md and must stay stable.
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "actors/service.hpp"

namespace quire::http {

struct request {
  std::string method;                          // "GET", "POST", …
  std::string path;                            // without the query string
  std::map<std::string, std::string> query;    // decoded
  std::map<std::string, std::string> headers;  // names lowercased
  std::string body;
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

// The routes served, as (method, template) — the OpenAPI coverage test walks these.
std::vector<std::pair<std::string, std::string>> route_table();

class api {
 public:
  api(actors::service& svc, const actors::service_config& cfg);
  response handle(const request& req);

 private:
  struct context;
  response dispatch(const request& req, context& ctx);
  actors::service& svc_;
  const actors::service_config& cfg_;
  std::atomic<int> uploads_in_flight_{0};
};

// Envelope for an error: {"api_version":"v1","error":{code,message,retryable,details,correlation_id}}.
response error_response(const std::string& code, const std::string& message, const std::string& correlation_id,
                        const nlohmann::json& details = nlohmann::json::object());

// Constant-time comparison of a presented key against each configured key; returns the matching
// key's id (a short non-secret fingerprint) or "" when none matches.
std::string match_api_key(const std::vector<std::string>& keys, const std::string& presented);

// The embedded OpenAPI document (docs/openapi.yaml converted to JSON at build time).
const char* openapi_json();

}  // namespace quire::http
