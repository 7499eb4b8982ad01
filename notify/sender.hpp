// quire::notify — one webhook POST with libcurl, bounded and pinned:
//   - the connection goes to `address` (already checked by resolve_destination) through
//     CURLOPT_RESOLVE, so libcurl does no DNS lookup of its own; TLS still verifies the URL's host;
//   - no redirects, no proxy (not even from the environment), http and https only;
//   - the whole exchange is bounded by `timeout`, the response body by `max_response_bytes`.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "notify/destination.hpp"

namespace quire::notify {

struct post_request {
  std::string url;
  resolved_destination to;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;  // application/json
  std::chrono::milliseconds timeout{10000};
  std::size_t max_response_bytes = 64 * 1024;
};

struct post_outcome {
  int http_status = 0;   // 0: no HTTP answer
  std::string error;     // empty when a complete answer arrived
  bool delivered() const { return error.empty() && http_status >= 200 && http_status < 300; }
};

post_outcome post(const post_request& r);

// curl_global_init, once per process, before any thread calls post().
void global_init();

}  // namespace quire::notify
