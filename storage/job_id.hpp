// quire::storage job ids: made before anything is written (the input file is named after the id),
// checked before any path or row is looked up by one. Part of quire_storage_files: no PostgreSQL.
#pragma once

#include <string>
#include <string_view>

namespace quire::storage {

// 16 random bytes (OpenSSL RAND_bytes) in lowercase RFC 4648 base32 without padding: 26 chars of
// [a-z2-7]. Opaque, URL-safe, unguessable. The caller makes the id before writing the input file.
std::string new_job_id();
bool is_valid_job_id(std::string_view id);

}  // namespace quire::storage
