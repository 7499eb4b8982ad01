// Test support for the `pg` label: every test case gets its own freshly created database on the
// server scripts/test started (QUIRE_TEST_DATABASE_URL, superuser), dropped again at the end,
// so cases are isolated and can run in any order.
#pragma once

#include <catch2/catch.hpp>
#include <fmt/core.h>

#include <cstdlib>
#include <pqxx/pqxx>
#include <string>

#include "storage/detail/internal.hpp"
#include "storage/job_store.hpp"
#include "storage/migrator.hpp"

namespace quire::storage::testing {

inline std::string admin_url() {
  const char* u = std::getenv("QUIRE_TEST_DATABASE_URL");
  if (u == nullptr || *u == '\0')
    FAIL("QUIRE_TEST_DATABASE_URL is not set: run the pg tests through scripts/test --only pg");
  return u;
}

// postgresql://user@host:port/db?params → same URL with another database name.
inline std::string with_database(const std::string& url, const std::string& db) {
  auto scheme = url.find("://");
  auto slash = url.find('/', scheme == std::string::npos ? 0 : scheme + 3);
  auto query = url.find('?');
  std::string base = slash == std::string::npos ? url.substr(0, query) : url.substr(0, slash);
  std::string rest = query == std::string::npos ? "" : url.substr(query);
  return base + "/" + db + rest;
}

class scratch_db {
 public:
  scratch_db() : admin_(admin_url()) {
    name_ = "quire_test_" + detail::base32_lower(detail::random_bytes(8));
    pqxx::connection c(admin_);
    pqxx::nontransaction n(c);
    n.exec("CREATE DATABASE " + name_);
    url_ = with_database(admin_, name_);
  }
  ~scratch_db() {
    try {
      pqxx::connection c(admin_);
      pqxx::nontransaction n(c);
      n.exec("DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)");
    } catch (...) {
    }
  }
  scratch_db(const scratch_db&) = delete;
  scratch_db& operator=(const scratch_db&) = delete;
  const std::string& url() const { return url_; }
  const std::string& name() const { return name_; }

 private:
  std::string admin_, name_, url_;
};

// A scratch database with the embedded schema applied and bound to `profile`.
class migrated_db : public scratch_db {
 public:
  explicit migrated_db(const std::string& profile = "prod") {
    auto m = migrate(url());
    if (!m) FAIL("migrate failed: " << m.err().message);
    auto b = bind_deployment(url(), profile);
    if (!b) FAIL("bind failed: " << b.err().message);
  }
};

inline store_options options_for(const std::string& url, const std::string& profile = "prod") {
  store_options o;
  o.database_url = url;
  o.profile = profile;
  o.backoff_base = std::chrono::seconds(10);
  o.backoff_max = std::chrono::minutes(5);
  return o;
}

inline std::unique_ptr<job_store> open_store(const std::string& url, const std::string& profile = "prod") {
  auto s = job_store::open(options_for(url, profile));
  if (!s) FAIL("open failed: " << s.err().message);
  return std::move(*s);
}

inline submit_request request(std::string payload = "pdf", int priority = 0, int max_attempts = 3) {
  submit_request r;
  r.id = new_job_id();
  r.api_key_id = "key-a";
  r.spec = {{"ocr", "auto"}};
  r.source_filename = "in.pdf";
  r.input_bytes = static_cast<std::int64_t>(payload.size());
  r.input_sha256 = detail::sha256_hex(payload);
  r.priority = priority;
  r.max_attempts = max_attempts;
  return r;
}

inline job_record submit_ok(job_store& s, const submit_request& r) {
  auto res = s.submit(r);
  if (!res) FAIL("submit failed: " << res.err().message);
  return res->job;
}

inline std::string sha_of(const std::string& s) { return detail::sha256_hex(s); }

}  // namespace quire::storage::testing
