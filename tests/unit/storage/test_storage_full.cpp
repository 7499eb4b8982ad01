// A full data root: uploads are refused before anything is written (ensure_room), and a write that
// still runs out of space fails with storage_full and leaves no temp file. The ENOSPC cases need a
// small filesystem: a tmpfs mounted for the test (root only; elsewhere they are skipped with a
// warning, and CI runs as root).
#include <catch2/catch.hpp>
#include <sys/mount.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "storage/artifact_store.hpp"
#include "storage/job_id.hpp"

using namespace quire::storage;
namespace fs = std::filesystem;

namespace {

// A 2 MiB tmpfs, unmounted (and removed) at the end; mounted() is false where mounting is refused.
struct small_fs {
  fs::path path;
  bool ok = false;
  small_fs() {
    char tmpl[] = "/tmp/quire-full.XXXXXX";
    path = mkdtemp(tmpl);
    ok = ::mount("tmpfs", path.c_str(), "tmpfs", 0, "size=2m") == 0;
  }
  ~small_fs() {
    if (ok) ::umount2(path.c_str(), MNT_DETACH);
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  bool mounted() const { return ok; }
};

std::size_t entries(const fs::path& dir) {
  return static_cast<std::size_t>(std::distance(fs::directory_iterator(dir), fs::directory_iterator()));
}

}  // namespace

TEST_CASE("ensure_room: refuses what would leave less than the reserve, with free space in the message") {
  char tmpl[] = "/tmp/quire-room.XXXXXX";
  fs::path dir = mkdtemp(tmpl);
  auto a = artifact_store::open(dir / "lane", "eval");
  REQUIRE(a);
  auto sp = a->space();
  REQUIRE(sp);
  CHECK(sp->total_bytes >= sp->free_bytes);
  CHECK(sp->free_bytes > 0);
  CHECK(a->ensure_room(1024, 0));
  auto over = a->ensure_room(1024, sp->free_bytes);  // 1 KiB more than the whole free space
  REQUIRE_FALSE(over);
  CHECK(over.err().code == errc::storage_full);
  CHECK(over.err().message.find("bytes free") != std::string::npos);
  auto huge = a->ensure_room(sp->free_bytes + (1u << 30), 0);
  REQUIRE_FALSE(huge);
  CHECK(huge.err().code == errc::storage_full);
  CHECK(to_string(errc::storage_full) == "storage_full");
  fs::remove_all(dir);
}

TEST_CASE("ENOSPC during a write is storage_full; the temp file is gone and the target absent") {
  small_fs t;
  if (!t.mounted()) {
    WARN("skipped: cannot mount a tmpfs here (needs root); the ENOSPC path is not exercised");
    return;
  }
  auto a = artifact_store::open(t.path / "lane", "eval");
  REQUIRE(a);
  const auto id = new_job_id();
  const std::string big(3u << 20, 'x');  // more than the whole filesystem
  auto w = a->write_file(id, "input.pdf", big);
  REQUIRE_FALSE(w);
  CHECK(w.err().code == errc::storage_full);
  CHECK_FALSE(a->exists(id, "input.pdf"));
  CHECK(entries(t.path / "lane" / "tmp") == 0);

  // Streamed: the failing append leaves the temp file behind only until the writer is dropped.
  {
    auto s = a->begin_write(id, "result.md");
    REQUIRE(s);
    status last = ok_v;
    for (int i = 0; i < 64 && last; ++i) last = s->append(std::string(64u << 10, 'y'));
    REQUIRE_FALSE(last);
    CHECK(last.err().code == errc::storage_full);
    CHECK_FALSE(s->commit());  // a failed writer cannot be committed
  }
  CHECK(entries(t.path / "lane" / "tmp") == 0);
  CHECK_FALSE(a->exists(id, "result.md"));

  // Space comes back: the same write now succeeds.
  auto small = a->write_file(id, "input.pdf", std::string(4096, 'z'));
  REQUIRE(small);
  CHECK(small->bytes == 4096);
  CHECK(a->ensure_room(4096, 0));
}
