// `quire migrate` as operators and readiness scripts use it: exit codes and reason codes.
#include <sys/wait.h>

#include <array>
#include <cstdio>

#include "pg_fixture.hpp"

using namespace quire::storage;
using namespace quire::storage::testing;

namespace {
struct run_result {
  int code;
  std::string output;
};

run_result run_quire(const std::string& args) {
  const char* env = std::getenv("QUIRE_BIN");
  const std::string bin = env != nullptr && *env != '\0' ? env : QUIRE_BIN_PATH;
  const std::string cmd = "env -u QUIRE_DATABASE_URL -u QUIRE_PROFILE " + bin + " " + args + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  REQUIRE(p != nullptr);
  std::string out;
  std::array<char, 4096> buf{};
  while (auto n = fread(buf.data(), 1, buf.size(), p)) out.append(buf.data(), n);
  int st = pclose(p);
  return {WIFEXITED(st) ? WEXITSTATUS(st) : -1, out};
}
}  // namespace

TEST_CASE("quire migrate: check, apply, re-apply, bind, mismatch, unreachable, usage") {
  scratch_db db;
  const std::string url = "--database-url '" + db.url() + "'";

  auto pending = run_quire("migrate --check " + url);
  CHECK(pending.code == 1);
  CHECK(pending.output.find("schema_version_mismatch") != std::string::npos);
  CHECK(pending.output.find("0001_jobs.sql") != std::string::npos);

  auto apply = run_quire("migrate --profile prod " + url);
  CHECK(apply.code == 0);
  CHECK(apply.output.find("applied 0001_jobs.sql") != std::string::npos);
  CHECK(apply.output.find("bound to profile prod") != std::string::npos);

  auto again = run_quire("migrate " + url);
  CHECK(again.code == 0);
  CHECK(again.output.find("nothing to apply") != std::string::npos);

  CHECK(run_quire("migrate --check --profile prod " + url).code == 0);
  auto other = run_quire("migrate --check --profile eval " + url);
  CHECK(other.code == 1);
  CHECK(other.output.find("database_profile_mismatch") != std::string::npos);

  auto down = run_quire("migrate --check --database-url 'postgresql://quire@127.0.0.1:1/x?connect_timeout=2'");
  CHECK(down.code == 3);
  CHECK(down.output.find("database_unreachable") != std::string::npos);

  CHECK(run_quire("migrate --check").code == 2);  // no URL anywhere
  auto list = run_quire("migrate --list");
  CHECK(list.code == 0);
  CHECK(list.output.find(embedded_migrations().front().checksum) != std::string::npos);
}
