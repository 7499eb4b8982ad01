// The data root's own checks (data_root.hpp): the marker's reader and its one writer, the write
// probe and the free-space check, as artifact_store::open and the readiness checks use them.
#include <catch2/catch.hpp>

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <thread>
#include <vector>

#include "storage/data_root.hpp"

using namespace quire::storage;
namespace fs = std::filesystem;

namespace {
struct temp_dir {
  fs::path path;
  temp_dir() {
    char tmpl[] = "/tmp/quire-dataroot.XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~temp_dir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};
}  // namespace

TEST_CASE("the marker: absent, written once with the layout, read back; a corrupt one is refused") {
  temp_dir d;
  auto none = read_root_marker(d.path);
  REQUIRE(none);
  CHECK_FALSE(none->has_value());

  auto made = initialise_data_root(d.path, "eval");
  REQUIRE(made);
  CHECK(made->profile == "eval");
  CHECK(made->format == 1);
  for (const char* sub : {"jobs", "inputs", "tmp"}) CHECK(fs::is_directory(d.path / sub));
  CHECK(fs::is_empty(d.path / "tmp"));  // the marker's temp file is gone

  // A second initialisation, for any profile, keeps the marker in place and reports it.
  auto again = initialise_data_root(d.path, "prod");
  REQUIRE(again);
  CHECK(again->profile == "eval");
  CHECK(again->root_id == made->root_id);
  auto back = read_root_marker(d.path);
  REQUIRE(back);
  REQUIRE(back->has_value());
  CHECK((*back)->root_id == made->root_id);

  // Valid JSON without the marker's fields is as corrupt as no JSON at all.
  for (const char* text : {"{ not json", R"({"profile":"eval"})"}) {
    std::ofstream(d.path / root_marker_name) << text;
    auto bad = read_root_marker(d.path);
    REQUIRE_FALSE(bad);
    CHECK(bad.err().code == errc::data_root_corrupt);
    CHECK(initialise_data_root(d.path, "eval").err().code == errc::data_root_corrupt);
  }
}

TEST_CASE("processes initialising one root at once agree on the first marker") {
  for (int round = 0; round < 20; ++round) {
    temp_dir d;
    std::vector<std::string> ids(4);
    std::vector<std::thread> threads;
    for (std::size_t i = 0; i < ids.size(); ++i)
      threads.emplace_back([&, i] {
        auto m = initialise_data_root(d.path, "prod");
        if (m) ids[i] = m->root_id;
      });
    for (auto& t : threads) t.join();
    for (const auto& id : ids) CHECK(id == ids[0]);
    CHECK_FALSE(ids[0].empty());
  }
}

TEST_CASE("the write probe: leaves nothing behind, fails as data_root_not_writable where nothing can be made") {
  temp_dir d;
  REQUIRE(probe_writable(d.path));  // makes tmp/ when missing
  CHECK(fs::is_directory(d.path / "tmp"));
  CHECK(fs::is_empty(d.path / "tmp"));
  auto proc = probe_writable("/proc/self");  // exists, but nothing can be created under it, even by root
  REQUIRE_FALSE(proc);
  CHECK(proc.err().code == errc::data_root_not_writable);
}

TEST_CASE("the free-space check: storage_full under the reserve, saying how much is free") {
  temp_dir d;
  auto sp = free_space(d.path);
  REQUIRE(sp);
  CHECK(sp->total_bytes >= sp->free_bytes);
  CHECK(ensure_room(d.path, 0, 0));
  auto under = ensure_room(d.path, 0, sp->free_bytes + (1ull << 30));
  REQUIRE_FALSE(under);
  CHECK(under.err().code == errc::storage_full);
  CHECK(under.err().message.find("bytes free, under the reserve of") != std::string::npos);
  CHECK(free_space(d.path / "nope").err().code == errc::io_error);
}
