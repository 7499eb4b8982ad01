// quire::notify — Standard Webhooks signing (https://www.standardwebhooks.com/, spec v1).
//
// A secret is "whsec_" + base64(key bytes); the signature of one request is
//   webhook-signature: v1,<base64(HMAC-SHA256(key, "<webhook-id>.<webhook-timestamp>.<body>"))>
// with webhook-timestamp in integer Unix seconds. Receivers recompute it over the raw body.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace quire::notify {

// The key bytes of a "whsec_<base64>" secret; nullopt when malformed or shorter than 24 bytes
// (the spec asks for 24 to 64).
std::optional<std::string> decode_secret(std::string_view secret);

// "v1,<base64 HMAC-SHA256>" of id.timestamp.body under `key` (decoded bytes).
std::string sign(std::string_view key, std::string_view webhook_id, std::int64_t timestamp, std::string_view body);

std::string base64_encode(std::string_view bytes);
std::optional<std::string> base64_decode(std::string_view text);  // standard alphabet, padded

}  // namespace quire::notify
