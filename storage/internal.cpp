// sha256, randomness and base32 (OpenSSL), and the job ids made of them.
#include "storage/detail/internal.hpp"

#include <openssl/rand.h>

#include <cstdlib>
#include <stdexcept>

#include "storage/job_id.hpp"

namespace quire::storage::detail {

sha256_hasher::sha256_hasher() : ctx_(EVP_MD_CTX_new(), EVP_MD_CTX_free) {
  if (!ctx_ || EVP_DigestInit_ex(ctx_.get(), EVP_sha256(), nullptr) != 1)
    throw std::runtime_error("sha256 init failed");
}

void sha256_hasher::update(const void* data, std::size_t n) {
  if (n > 0) EVP_DigestUpdate(ctx_.get(), data, n);
}

std::string sha256_hasher::hex_digest() {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx_.get(), md, &len);
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  out.reserve(len * 2);
  for (unsigned i = 0; i < len; ++i) {
    out.push_back(hex[md[i] >> 4]);
    out.push_back(hex[md[i] & 15]);
  }
  return out;
}

std::string sha256_hex(std::string_view data) {
  sha256_hasher h;
  h.update(data.data(), data.size());
  return h.hex_digest();
}

std::string random_bytes(std::size_t n) {
  std::string out(n, '\0');
  // An id generator that silently produced guessable ids would be worse than a crash.
  if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n)) != 1) std::abort();
  return out;
}

std::string base32_lower(std::string_view bytes) {
  static constexpr char alphabet[] = "abcdefghijklmnopqrstuvwxyz234567";
  std::string out;
  unsigned buffer = 0;
  int bits = 0;
  for (unsigned char c : bytes) {
    buffer = (buffer << 8) | c;
    bits += 8;
    while (bits >= 5) {
      out.push_back(alphabet[(buffer >> (bits - 5)) & 31]);
      bits -= 5;
    }
  }
  if (bits > 0) out.push_back(alphabet[(buffer << (5 - bits)) & 31]);
  return out;
}

}  // namespace quire::storage::detail

namespace quire::storage {

std::string new_job_id() { return detail::base32_lower(detail::random_bytes(16)); }

bool is_valid_job_id(std::string_view id) {
  if (id.size() != 26) return false;
  for (char c : id)
    if (!((c >= 'a' && c <= 'z') || (c >= '2' && c <= '7'))) return false;
  return true;
}

}  // namespace quire::storage
