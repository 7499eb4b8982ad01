// The web page's routes (GET /, /docs, /ui/{asset}): static files embedded in the binary
// (web/assets.hpp), open like /livez — no API key, no readiness gate: the page itself asks for the
// key and shows why the lane is not ready.
#pragma once

#include <string>

#include "http/api.hpp"

namespace quire::http {

// True for the route templates this serves.
bool is_web_route(const std::string& route_template);

// The asset at req.path with its headers (Content-Security-Policy on pages, ETag; 304 when
// If-None-Match names the current one); 404 route_not_found for an unknown /ui/ name.
response web_response(const request& req, const std::string& correlation_id);

}  // namespace quire::http
