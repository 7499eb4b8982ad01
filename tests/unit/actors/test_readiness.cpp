#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "actors/detail/readiness_checks.hpp"
#include "storage/data_root.hpp"

using namespace quire::actors;
namespace fs = std::filesystem;

namespace {
std::vector<std::string> codes(const std::vector<failing_check>& f) {
  std::vector<std::string> out;
  for (auto& x : f) out.emplace_back(to_string(x.code));
  return out;
}

struct temp_dir {
  fs::path path;
  temp_dir() {
    char t[] = "/tmp/quire-ready-XXXXXX";
    path = mkdtemp(t);
  }
  ~temp_dir() { fs::remove_all(path); }
};
}  // namespace

TEST_CASE("revision checks") {
  std::vector<failing_check> f;
  check_revision("abc123", "", f);
  check_revision("abc123", "abc123", f);
  CHECK(f.empty());
  check_revision("unknown", "", f);
  check_revision("abc123", "def456", f);
  CHECK(codes(f) == std::vector<std::string>{"unknown_service_revision", "stale_revision"});
}

TEST_CASE("a fresh data root is initialised with a marker, and a foreign marker is refused") {
  temp_dir d;
  service_config c;
  c.profile = "eval";
  c.data_root = d.path.string();
  std::vector<failing_check> f;
  check_data_root(c, f);
  CHECK(f.empty());
  auto marker = quire::storage::read_root_marker(d.path);
  REQUIRE(marker);
  REQUIRE(marker->has_value());
  CHECK((*marker)->profile == "eval");
  CHECK(fs::is_directory(d.path / "jobs"));

  c.profile = "prod";
  check_data_root(c, f);
  CHECK(codes(f) == std::vector<std::string>{"data_root_profile_mismatch"});
}

TEST_CASE("missing and unwritable data roots") {
  service_config c;
  std::vector<failing_check> f;
  check_data_root(c, f);  // unset
  c.data_root = "/nonexistent/quire/root";
  check_data_root(c, f);
  c.data_root = "/proc/self";  // exists, but nothing can be created under it, even by root
  check_data_root(c, f);
  CHECK(codes(f) == std::vector<std::string>{"data_root_missing", "data_root_missing", "data_root_not_writable"});
}

TEST_CASE("prod and eval roots that resolve to one path collide") {
  temp_dir d;
  fs::create_directory(d.path / "real");
  fs::create_directory_symlink(d.path / "real", d.path / "alias");
  service_config c;
  c.profile = "eval";
  c.data_root = (d.path / "real").string();
  c.prod_data_root = (d.path / "alias").string();
  c.eval_data_root = (d.path / "real/../real").string();
  std::vector<failing_check> f;
  check_data_root(c, f);
  CHECK(codes(f) == std::vector<std::string>{"data_root_collision"});
}

TEST_CASE("a lane pointed at the other lane's root is a profile mismatch") {
  temp_dir d;
  fs::create_directory(d.path / "prod");
  fs::create_directory(d.path / "eval");
  service_config c;
  c.profile = "prod";
  c.data_root = (d.path / "eval").string();
  c.prod_data_root = (d.path / "prod").string();
  c.eval_data_root = (d.path / "eval").string();
  std::vector<failing_check> f;
  check_data_root(c, f);
  CHECK(codes(f) == std::vector<std::string>{"profile_mismatch"});
  f.clear();
  c.data_root = (d.path / "prod").string();
  check_data_root(c, f);
  CHECK(f.empty());
}

TEST_CASE("gpu and converter checks") {
  service_config c;
  c.profile = "eval";
  std::vector<failing_check> f;
  check_gpu(c, 0, f);  // eval: cpu_only
  CHECK(f.empty());
  c.profile = "prod";
  check_gpu(c, 0, f);
  check_gpu(c, 1, f);
  check_converters(0, 0, f);
  check_converters(2, 0, f);
  check_converters(2, 1, f);
  CHECK(codes(f) == std::vector<std::string>{"gpu_unavailable", "converters_not_ready", "converters_not_ready"});
  auto s = make_snapshot(f, 42);
  CHECK_FALSE(s.ready);
  CHECK(make_snapshot({}, 1).ready);
}

TEST_CASE("gpu_unavailable says why, and the prod CPU override is a warning") {
  service_config c;
  c.profile = "prod";
  std::vector<failing_check> f;
  check_gpu(c, 0, f, "no CUDA driver");
  REQUIRE(f.size() == 1);
  CHECK(f[0].message.find("no CUDA driver") != std::string::npos);
  CHECK(config_warnings(c).empty());
  c.acceleration_policy = quire::convert::acceleration_policy::gpu_prefer;
  f.clear();
  check_gpu(c, 0, f);
  CHECK(f.empty());
  auto w = config_warnings(c);
  REQUIRE(w.size() == 1);
  CHECK(w[0].rfind("acceleration_override:", 0) == 0);
  c.profile = "eval";  // eval may run on the CPU: nothing to warn about
  CHECK(config_warnings(c).empty());
}

TEST_CASE("the readiness log reports the first check and changes of state, reasons or warnings only") {
  readiness_snapshot never;  // before the first check
  auto ready = make_snapshot({}, 1000);
  CHECK(readiness_changed(never, ready));
  auto first = readiness_change_fields(never, ready);
  CHECK(first["ready"] == true);
  CHECK(first["reasons"].empty());

  auto again = make_snapshot({}, 2000);
  CHECK_FALSE(readiness_changed(ready, again));  // a check that changes nothing logs nothing

  auto full = make_snapshot({{reason::data_root_full, "12 bytes free"}}, 3000);
  CHECK(readiness_changed(again, full));
  auto f = readiness_change_fields(again, full);
  CHECK(f["ready"] == false);
  REQUIRE(f["reasons"].size() == 1);
  CHECK(f["reasons"][0]["code"] == "data_root_full");
  CHECK(f["reasons"][0]["message"] == "12 bytes free");
  CHECK(f["added"] == quire::log::fields::array({"data_root_full"}));
  CHECK(f["cleared"].empty());

  // Only the message changed (fewer bytes free): same reasons, not logged again.
  CHECK_FALSE(readiness_changed(full, make_snapshot({{reason::data_root_full, "3 bytes free"}}, 4000)));

  // Still not ready, but for another set of reasons: logged, with what appeared and what cleared.
  auto both = make_snapshot({{reason::database_unreachable, "down"}, {reason::data_root_full, "x"}}, 5000);
  CHECK(readiness_changed(full, both));
  auto draining = make_snapshot({{reason::draining, "SIGTERM"}}, 6000);
  auto d = readiness_change_fields(both, draining);
  CHECK(d["added"] == quire::log::fields::array({"draining"}));
  CHECK(d["cleared"] == quire::log::fields::array({"data_root_full", "database_unreachable"}));

  auto warned = make_snapshot({}, 7000);
  warned.warnings = {"GPU 0 failed its self-test"};
  CHECK(readiness_changed(again, warned));
  CHECK(readiness_change_fields(again, warned)["warnings"][0] == "GPU 0 failed its self-test");
}
