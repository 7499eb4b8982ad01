// Migrations against a real PostgreSQL: fresh database, re-run no-op, concurrent migrators,
// tampered checksum, database ahead of the binary, a failing file, and the deployment binding.
#include <thread>

#include "pg_fixture.hpp"

using namespace quire::storage;
using namespace quire::storage::testing;

namespace {
std::vector<migration> with_extra(std::string name, std::string sql) {
  auto ms = embedded_migrations();
  migration m;
  m.version = std::stoi(name.substr(0, 4));
  m.name = std::move(name);
  m.sql = std::move(sql);
  m.checksum = sha_of(m.sql);
  ms.push_back(m);
  return ms;
}

long count_rows(const std::string& url, const std::string& sql) {
  pqxx::connection c(url);
  pqxx::read_transaction t(c);
  return t.exec1(sql)[0].as<long>();
}
}  // namespace

TEST_CASE("embedded migrations are numbered, ordered and checksummed") {
  const auto& ms = embedded_migrations();
  REQUIRE(ms.size() >= 2);
  for (std::size_t i = 0; i < ms.size(); ++i) {
    CHECK(ms[i].checksum == sha_of(ms[i].sql));
    CHECK(ms[i].name.substr(0, 4) == fmt::format("{:04}", ms[i].version));
    if (i > 0) CHECK(ms[i].version > ms[i - 1].version);
  }
  CHECK(ms.front().name == "0001_jobs.sql");
}

TEST_CASE("a fresh database is migrated once, a re-run is a no-op") {
  scratch_db db;
  auto before = check_schema(db.url());
  REQUIRE_FALSE(before);
  CHECK(before.err().code == errc::schema_version_mismatch);
  CHECK(before.err().message.find("0001_jobs.sql") != std::string::npos);

  auto first = migrate(db.url());
  REQUIRE(first);
  CHECK(first->applied.size() == embedded_migrations().size());
  CHECK(first->schema_version == embedded_migrations().back().version);
  CHECK(check_schema(db.url()));

  auto again = migrate(db.url());
  REQUIRE(again);
  CHECK(again->applied.empty());
  CHECK(again->schema_version == first->schema_version);
  CHECK(count_rows(db.url(), "SELECT count(*) FROM quire_schema_migrations") ==
        static_cast<long>(embedded_migrations().size()));
}

TEST_CASE("concurrent migrators serialise on the advisory lock: each file applied exactly once") {
  scratch_db db;
  constexpr int n = 4;
  std::vector<std::thread> threads;
  std::vector<std::size_t> applied(n, 99);
  std::vector<int> ok(n, 0);
  for (int i = 0; i < n; ++i)
    threads.emplace_back([&, i] {
      auto r = migrate(db.url());
      ok[i] = r ? 1 : 0;
      if (r) applied[i] = r->applied.size();
    });
  for (auto& t : threads) t.join();
  std::size_t total = 0;
  for (int i = 0; i < n; ++i) {
    CHECK(ok[i] == 1);
    total += applied[i];
  }
  // One of them applied everything, the others found nothing to do (no duplicate-object errors).
  CHECK(total == embedded_migrations().size());
  CHECK(check_schema(db.url()));
}

TEST_CASE("a tampered checksum is an error that names the file, and nothing more is applied") {
  scratch_db db;
  REQUIRE(migrate(db.url()));
  {
    pqxx::connection c(db.url());
    pqxx::work w(c);
    w.exec("UPDATE quire_schema_migrations SET checksum = repeat('0', 64) WHERE version = 1");
    w.commit();
  }
  auto chk = check_schema(db.url());
  REQUIRE_FALSE(chk);
  CHECK(chk.err().code == errc::schema_version_mismatch);
  CHECK(chk.err().message.find("0001_jobs.sql") != std::string::npos);

  auto m = migrate(db.url(), with_extra("0900_more.sql", "CREATE TABLE should_not_exist (x int);"));
  REQUIRE_FALSE(m);
  CHECK(m.err().code == errc::schema_version_mismatch);
  CHECK(count_rows(db.url(), "SELECT count(*) FROM pg_tables WHERE tablename = 'should_not_exist'") == 0);
}

TEST_CASE("a database ahead of the binary is an error naming the unknown file") {
  scratch_db db;
  REQUIRE(migrate(db.url(), with_extra("0900_future.sql", "CREATE TABLE future_thing (x int);")));
  auto chk = check_schema(db.url());  // this binary does not know 0900
  REQUIRE_FALSE(chk);
  CHECK(chk.err().code == errc::database_ahead);
  CHECK(chk.err().message.find("0900_future.sql") != std::string::npos);
  auto m = migrate(db.url());
  REQUIRE_FALSE(m);
  CHECK(m.err().code == errc::database_ahead);
}

TEST_CASE("a failing migration is rolled back whole and not recorded") {
  scratch_db db;
  REQUIRE(migrate(db.url()));
  auto bad = with_extra("0900_broken.sql", "CREATE TABLE half_done (x int); SELECT no_such_function();");
  auto m = migrate(db.url(), bad);
  REQUIRE_FALSE(m);
  CHECK(m.err().message.find("0900_broken.sql") != std::string::npos);
  CHECK(count_rows(db.url(), "SELECT count(*) FROM pg_tables WHERE tablename = 'half_done'") == 0);
  CHECK(count_rows(db.url(), "SELECT count(*) FROM quire_schema_migrations WHERE version = 900") == 0);
  CHECK(check_schema(db.url()));
}

TEST_CASE("the deployment record binds the database to one profile") {
  scratch_db db;
  REQUIRE(migrate(db.url()));
  auto unbound = check_deployment(db.url(), "prod");
  REQUIRE_FALSE(unbound);
  CHECK(unbound.err().code == errc::database_unbound);

  REQUIRE(bind_deployment(db.url(), "prod"));
  CHECK(bind_deployment(db.url(), "prod"));  // idempotent
  CHECK(check_deployment(db.url(), "prod"));
  auto other = check_deployment(db.url(), "eval");
  REQUIRE_FALSE(other);
  CHECK(other.err().code == errc::database_profile_mismatch);
  auto rebind = bind_deployment(db.url(), "eval");
  REQUIRE_FALSE(rebind);
  CHECK(rebind.err().code == errc::database_profile_mismatch);

  auto store = open_store(db.url(), "eval");
  auto s = store->check_deployment();
  REQUIRE_FALSE(s);
  CHECK(s.err().code == errc::database_profile_mismatch);
  CHECK(store->check_schema());
}

TEST_CASE("an unreachable database is reported as such") {
  auto r = check_schema("postgresql://quire@127.0.0.1:1/none?connect_timeout=2");
  REQUIRE_FALSE(r);
  CHECK(r.err().code == errc::database_unreachable);
  auto s = job_store::open(options_for("postgresql://quire@127.0.0.1:1/none?connect_timeout=2"));
  REQUIRE_FALSE(s);
  CHECK(s.err().code == errc::database_unreachable);
}

TEST_CASE("a store opened before migration reports schema_version_mismatch, then works once migrated") {
  scratch_db db;
  auto s = open_store(db.url());  // statements are prepared lazily: opening succeeds
  auto chk = s->check_schema();
  REQUIRE_FALSE(chk);
  CHECK(chk.err().code == errc::schema_version_mismatch);
  auto early = s->get(new_job_id());
  REQUIRE_FALSE(early);
  CHECK(early.err().code == errc::schema_version_mismatch);
  CHECK(s->submit(request()).err().code == errc::schema_version_mismatch);
  REQUIRE(migrate(db.url()));
  CHECK(s->check_schema());
  auto job = s->submit(request());
  REQUIRE(job);
  CHECK(s->get(job->job.id)->status == job_status::queued);
}
