// Private helpers of the storage libraries (not part of the public API; nothing outside storage/
// includes it but storage's own tests and benchmarks). Built into quire_storage_files.
#pragma once

#include <openssl/evp.h>

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "storage/error.hpp"

namespace quire::storage::detail {

// Incremental sha256 (OpenSSL EVP), hex output.
class sha256_hasher {
 public:
  sha256_hasher();
  void update(const void* data, std::size_t n);
  std::string hex_digest();  // finalises; call once

 private:
  std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)> ctx_;
};

std::string sha256_hex(std::string_view data);
std::string random_bytes(std::size_t n);      // OpenSSL RAND_bytes; aborts if the CSPRNG fails
std::string base32_lower(std::string_view bytes);  // RFC 4648 alphabet, lowercase, no padding

inline error make_error(errc code, std::string message) { return error{code, std::move(message)}; }

}  // namespace quire::storage::detail
