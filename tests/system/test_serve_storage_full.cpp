// A full data root (issue 7), end to end: the real `quire serve` on a small tmpfs data root. An
// upload that does not fit is refused with 507 storage_full before anything is written (no row, no
// file); below the reserve the lane reports data_root_full (not ready) and refuses submissions
// with storage_full while job reads go on; jobs accepted earlier still finish (the reserve is their
// headroom); a job running when the root fills completely is handed back unspent and succeeds once
// space returns; when space comes back the lane is ready again and accepts. Needs root to mount the tmpfs: elsewhere it exits 77 (skip).
#include <catch2/catch.hpp>

#include <sys/mount.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include "lane.hpp"
#include "storage/job_store.hpp"

using namespace quire::systest;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

constexpr std::uint64_t kMiB = 1u << 20;
constexpr std::uint64_t kReserve = kMiB;  // = QUIRE_MAX_UPLOAD_BYTES below

std::uint64_t free_bytes(const std::string& dir) {
  struct statvfs v {};
  REQUIRE(::statvfs(dir.c_str(), &v) == 0);
  return static_cast<std::uint64_t>(v.f_bavail) * v.f_frsize;
}

// Grows (or shrinks) `filler` until the filesystem has about `target` bytes free.
void fill_to(const std::string& root, const std::string& filler, std::uint64_t target) {
  const auto now = free_bytes(root);
  const auto size = fs::exists(filler) ? fs::file_size(filler) : 0;
  const auto want = now > target ? size + (now - target) : size - std::min<std::uint64_t>(size, target - now);
  std::ofstream(filler, std::ios::trunc | std::ios::binary) << std::string(want, 'f');
}

// Everything under jobs/ and inputs/, and the temp files under tmp/ (a converter's work-* staging
// excluded).
std::vector<std::string> root_files(const std::string& root) {
  std::vector<std::string> out;
  for (const char* area : {"/jobs", "/inputs"})
    for (const auto& e : fs::recursive_directory_iterator(root + area))
      if (e.is_regular_file()) out.push_back(e.path().string());
  for (const auto& e : fs::directory_iterator(root + "/tmp"))
    if (e.path().filename().string().rfind("work-", 0) != 0) out.push_back(e.path().string());
  return out;
}

std::int64_t job_rows(const std::string& db) {
  auto s = quire::storage::job_store::open({.database_url = db, .profile = "eval"});
  REQUIRE(s);
  auto page = (*s)->list({}, 200, std::nullopt);
  REQUIRE(page);
  return static_cast<std::int64_t>(page->jobs.size());
}

// The job's status once it is terminal (polled in the database), or the last one seen after 60 s.
std::string final_status(const std::string& db, const std::string& id) {
  auto s = quire::storage::job_store::open({.database_url = db, .profile = "eval"});
  REQUIRE(s);
  std::string last;
  for (int i = 0; i < 600; ++i) {
    auto j = (*s)->get(id);
    REQUIRE(j);
    last = std::string(quire::storage::to_string(j->status));
    if (quire::storage::is_terminal(j->status)) break;
    std::this_thread::sleep_for(100ms);
  }
  return last;
}

auto failing(const std::string& code) {
  return [code](const nlohmann::json& j) {
    for (const auto& r : j["reasons"])
      if (r.value("code", "") == code) return true;
    return false;
  };
}

struct tmpfs_root {
  std::string path;
  explicit tmpfs_root(const std::string& dir) : path(dir) {
    if (::mount("tmpfs", path.c_str(), "tmpfs", 0, "size=8m") != 0) {
      std::perror("mount tmpfs");
      std::fprintf(stderr, "SKIP: cannot mount a tmpfs data root here (needs root); storage-full test not run\n");
      std::_Exit(77);
    }
  }
  ~tmpfs_root() { ::umount2(path.c_str(), MNT_DETACH); }
};

}  // namespace

TEST_CASE("a full data root: 507 storage_full before anything is written, data_root_full, recovery") {
  lane l("full", {{"QUIRE_MAX_UPLOAD_BYTES", std::to_string(kReserve)}, {"QUIRE_CPU_CONVERTERS", "1"}});
  tmpfs_root mounted(l.root);
  l.svc.start();
  REQUIRE(l.svc.wait_ready(60s));
  const int port = l.svc.port();
  const std::string filler = l.root + "/filler";  // outside jobs/ and tmp/: the operator's mess

  // Accepted before the root fills: one quick job, one that is still running while it is full.
  auto quick = submit(port, sample_pdf());
  REQUIRE(quick.status == 202);
  auto slow = submit(port, sample_pdf("QUIRE_TEST_SLOW"));
  REQUIRE(slow.status == 202);
  const auto before_rows = job_rows(l.db);
  REQUIRE(before_rows == 2);

  // (1) More free space than the reserve, but not enough for this upload plus the reserve.
  std::string big = sample_pdf();
  big += "\n%" + std::string(800 * 1024, 'x') + "\n";  // ~800 KiB, under QUIRE_MAX_UPLOAD_BYTES
  REQUIRE(big.size() < kReserve);
  fill_to(l.root, filler, kReserve + 400 * 1024);
  const auto files_before = root_files(l.root);
  auto refused = submit(port, big);
  INFO(refused.body);
  CHECK(refused.status == 507);
  CHECK(refused.json()["error"]["code"] == "storage_full");
  CHECK(refused.json()["error"]["retryable"] == true);
  CHECK(refused.json()["error"]["details"].value("reserve_bytes", 0) == kReserve);
  CHECK(refused.headers.count("retry-after") == 1);
  CHECK(job_rows(l.db) == before_rows);  // no row
  // No new or partial file: the same files as before (the slow job may have published its
  // result meanwhile, so only files that are not the jobs' own results count).
  for (const auto& f : root_files(l.root)) {
    if (std::find(files_before.begin(), files_before.end(), f) != files_before.end()) continue;
    const auto name = fs::path(f).filename().string();
    INFO(f);
    CHECK((name == "result.md" || name == "manifest.json"));
  }

  // (2) Under the reserve: the lane says data_root_full (not ready: no new traffic) and refuses
  // new jobs with storage_full; reads still work, so clients can follow and fetch their jobs.
  fill_to(l.root, filler, kReserve / 2);
  REQUIRE(l.svc.wait_readyz(failing("data_root_full"), 30s));
  auto refused_small = submit(port, sample_pdf());
  CHECK(refused_small.status == 507);
  CHECK(refused_small.json()["error"]["code"] == "storage_full");
  CHECK(job_rows(l.db) == before_rows);
  // Jobs accepted earlier finish while the root stays full: the reserve is room for their results.
  CHECK(final_status(l.db, job_id_of(quick)) == "succeeded");
  CHECK(final_status(l.db, job_id_of(slow)) == "succeeded");
  CHECK(l.svc.wait_job(job_id_of(slow), {"succeeded", "failed"}, 10s).value("status", "") == "succeeded");
  CHECK(http(port, "GET", "/v1/convert/jobs/" + job_id_of(quick) + "/result?inline=true").status == 200);
  CHECK(free_bytes(l.root) < kReserve);

  // (3) Space comes back: ready again, and the upload refused before is accepted and converted.
  fs::remove(filler);
  REQUIRE(l.svc.wait_ready(30s));
  auto accepted = submit(port, big);
  REQUIRE(accepted.status == 202);
  CHECK(l.svc.wait_job(job_id_of(accepted), {"succeeded", "failed"}, 60s).value("status", "") == "succeeded");
  CHECK(job_rows(l.db) == before_rows + 1);
  l.svc.signal(SIGTERM);
  CHECK(l.svc.wait_exit(30s) == 0);
}

TEST_CASE("a job running when the data root fills up is handed back unspent and succeeds later") {
  lane l("fullrun", {{"QUIRE_MAX_UPLOAD_BYTES", std::to_string(kReserve)}, {"QUIRE_CPU_CONVERTERS", "1"}});
  tmpfs_root mounted(l.root);
  l.svc.start();
  REQUIRE(l.svc.wait_ready(60s));
  const int port = l.svc.port();
  const std::string filler = l.root + "/filler";

  // The worker sleeps 4 s before converting; the root fills completely meanwhile, so neither its
  // output (staged under tmp/) nor the result can be written.
  auto slow = submit(port, sample_pdf("QUIRE_TEST_SLOW"));
  REQUIRE(slow.status == 202);
  const auto id = job_id_of(slow);
  std::this_thread::sleep_for(1s);
  fill_to(l.root, filler, 0);

  // Handed back with storage_full recorded and no attempt spent (a disk says nothing about the
  // document), instead of failing an accepted job.
  auto store = quire::storage::job_store::open({.database_url = l.db, .profile = "eval"});
  REQUIRE(store);
  bool deferred = false;
  for (int i = 0; i < 300 && !deferred; ++i) {
    auto j = (*store)->get(id);
    REQUIRE(j);
    REQUIRE_FALSE(quire::storage::is_terminal(j->status));
    deferred = j->status == quire::storage::job_status::queued && j->error && j->error->code == "storage_full";
    if (!deferred) std::this_thread::sleep_for(100ms);
  }
  REQUIRE(deferred);
  CHECK((*store)->get(id)->attempt == 0);

  // Space comes back: the job runs again (after the deferral) and succeeds on its first counted attempt.
  fs::remove(filler);
  auto done = l.svc.wait_job(id, {"succeeded", "failed"}, 90s);
  CHECK(done.value("status", "") == "succeeded");
  CHECK((*store)->get(id)->attempt == 1);
}
