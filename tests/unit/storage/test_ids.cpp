// Job ids (opaque, URL-safe, unguessable), base32 and sha256 helpers.
#include <catch2/catch.hpp>

#include <set>

#include "storage/detail/internal.hpp"
#include "storage/job_id.hpp"

using namespace quire::storage;

TEST_CASE("job ids are 26 chars of lowercase base32, valid and unique") {
  std::set<std::string> seen;
  for (int i = 0; i < 20000; ++i) {
    auto id = new_job_id();
    REQUIRE(id.size() == 26);
    REQUIRE(is_valid_job_id(id));
    seen.insert(id);
  }
  CHECK(seen.size() == 20000);
  // Every alphabet character shows up at the first position eventually: the bits are random.
  std::set<char> first;
  for (const auto& id : seen) first.insert(id[0]);
  CHECK(first.size() == 32);
}

TEST_CASE("malformed ids are rejected") {
  CHECK_FALSE(is_valid_job_id(""));
  CHECK_FALSE(is_valid_job_id("abc"));
  CHECK_FALSE(is_valid_job_id("ABCDEFGHIJKLMNOPQRSTUVWXYZ"));
  CHECK_FALSE(is_valid_job_id("abcdefghijklmnopqrstuvwx01"));  // 0 and 1 are not base32
  CHECK_FALSE(is_valid_job_id("../../../../etc/passwd/xxxx"));
  CHECK(is_valid_job_id("abcdefghijklmnopqrstuvwx27"));
}

TEST_CASE("base32 matches RFC 4648 test vectors (lowercase, unpadded)") {
  using detail::base32_lower;
  CHECK(base32_lower("") == "");
  CHECK(base32_lower("f") == "my");
  CHECK(base32_lower("fo") == "mzxq");
  CHECK(base32_lower("foo") == "mzxw6");
  CHECK(base32_lower("foob") == "mzxw6yq");
  CHECK(base32_lower("fooba") == "mzxw6ytb");
  CHECK(base32_lower("foobar") == "mzxw6ytboi");
}

TEST_CASE("sha256 matches known digests, streamed or not") {
  CHECK(detail::sha256_hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(detail::sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  detail::sha256_hasher h;
  h.update("a", 1);
  h.update("bc", 2);
  CHECK(h.hex_digest() == detail::sha256_hex("abc"));
}
