// The data root: marker, layout, verified reads, and durability under fault injection — a write
// interrupted at each step (in-process, and by SIGKILL of a forked writer) leaves either the old
// file or the new one, never a torn one; leftovers are temp files that reconcile_tmp() removes.
#include <catch2/catch.hpp>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <condition_variable>
#include <future>
#include <mutex>
#include <thread>

#include "storage/artifact_store.hpp"
#include "storage/detail/internal.hpp"
#include "storage/job_id.hpp"

using namespace quire::storage;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {
struct temp_dir {
  fs::path path;
  temp_dir() {
    char tmpl[] = "/tmp/quire-artifacts.XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~temp_dir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::size_t count_entries(const fs::path& dir) {
  return static_cast<std::size_t>(std::distance(fs::directory_iterator(dir), fs::directory_iterator()));
}

const write_step steps[] = {write_step::create_temp, write_step::write_data, write_step::fsync_file,
                            write_step::rename, write_step::fsync_dir};
}  // namespace

TEST_CASE("first open initialises the root: marker, jobs/, inputs/, tmp/, reopening keeps the marker") {
  temp_dir d;
  const auto root = d.path / "lane";
  auto a = artifact_store::open(root, "prod");
  REQUIRE(a);
  CHECK(fs::is_directory(root / "jobs"));
  CHECK(fs::is_directory(root / "inputs"));
  CHECK(fs::is_directory(root / "tmp"));
  auto marker = nlohmann::json::parse(slurp(root / ".quire-root.json"));
  CHECK(marker["profile"] == "prod");
  CHECK(marker["root_id"] == a->marker().root_id);
  CHECK(a->marker().root_id.size() == 16);
  CHECK(a->marker().created_at.size() == 20);
  auto b = artifact_store::open(root, "prod", false);
  REQUIRE(b);
  CHECK(b->marker().root_id == a->marker().root_id);
  CHECK(count_entries(root / "tmp") == 0);  // no probe or temp left behind
}

TEST_CASE("opening fails closed: missing, other profile, corrupt marker") {
  temp_dir d;
  auto missing = artifact_store::open(d.path / "nope", "prod", false);
  REQUIRE_FALSE(missing);
  CHECK(missing.err().code == errc::data_root_missing);

  auto uninit = artifact_store::open(d.path, "prod", false);  // exists, never initialised
  REQUIRE_FALSE(uninit);
  CHECK(uninit.err().code == errc::data_root_missing);

  REQUIRE(artifact_store::open(d.path / "p", "prod"));
  auto other = artifact_store::open(d.path / "p", "eval");
  REQUIRE_FALSE(other);
  CHECK(other.err().code == errc::data_root_profile_mismatch);

  REQUIRE(artifact_store::open(d.path / "c", "prod"));
  std::ofstream(d.path / "c" / ".quire-root.json") << "{ not json";
  auto corrupt = artifact_store::open(d.path / "c", "prod");
  REQUIRE_FALSE(corrupt);
  CHECK(corrupt.err().code == errc::data_root_corrupt);

  std::ofstream(d.path / "file") << "x";
  auto not_dir = artifact_store::open(d.path / "file", "prod");
  REQUIRE_FALSE(not_dir);
  CHECK(not_dir.err().code == errc::data_root_missing);
}

TEST_CASE("jobs are sharded by id, names are confined to the job directory") {
  temp_dir d;
  auto s = artifact_store::open(d.path, "prod");
  REQUIRE(s);
  const auto id = new_job_id();
  CHECK(s->job_dir(id) == d.path / "jobs" / id.substr(0, 2) / id);
  auto w = s->write_file(id, "assets/img-p1-1.png", "png");
  REQUIRE(w);
  CHECK(slurp(s->file_path(id, "assets/img-p1-1.png")) == "png");
  for (const char* bad : {"../escape", "/abs", "a/../../b", "", "a//b", "dir/", "sp ace"})
    CHECK(s->write_file(id, bad, "x").err().code == errc::invalid_argument);
  CHECK(s->write_file("not-an-id", "input.pdf", "x").err().code == errc::invalid_argument);
}

TEST_CASE("reads are verified by size and sha256") {
  temp_dir d;
  auto s = artifact_store::open(d.path, "prod");
  REQUIRE(s);
  const auto id = new_job_id();
  auto info = s->write_file(id, "result.md", "# hello\n");
  REQUIRE(info);
  CHECK(info->bytes == 8);
  CHECK(info->sha256 == detail::sha256_hex("# hello\n"));
  auto ok = s->read_verified(id, "result.md", info->sha256, info->bytes);
  REQUIRE(ok);
  CHECK(*ok == "# hello\n");
  CHECK(s->verify(id, "result.md", info->sha256)->bytes == 8);

  std::ofstream(s->file_path(id, "result.md"), std::ios::trunc) << "# hellO\n";  // bit rot
  CHECK(s->read_verified(id, "result.md", info->sha256).err().code == errc::artifact_corrupt);
  std::ofstream(s->file_path(id, "result.md"), std::ios::trunc) << "# hello";  // truncated
  CHECK(s->read_verified(id, "result.md", "", info->bytes).err().code == errc::artifact_corrupt);
  fs::remove(s->file_path(id, "result.md"));
  CHECK(s->read_verified(id, "result.md", info->sha256).err().code == errc::artifact_missing);
  CHECK(s->read_verified(new_job_id(), "result.md", info->sha256).err().code == errc::artifact_missing);

  REQUIRE(s->write_manifest(id, {{"job_id", id}, {"files", {"result.md"}}}));
  auto m = s->read_manifest(id);
  REQUIRE(m);
  CHECK((*m)["job_id"] == id);
}

TEST_CASE("streamed writes commit atomically, an abandoned writer leaves nothing") {
  temp_dir d;
  auto s = artifact_store::open(d.path, "prod");
  REQUIRE(s);
  const auto id = new_job_id();
  {
    auto w = s->begin_write(id, "result.md");
    REQUIRE(w);
    REQUIRE(w->append(std::string_view("# partial\n")));
    CHECK_FALSE(fs::exists(s->file_path(id, "result.md")));  // invisible until commit
    CHECK(count_entries(d.path / "tmp") == 1);
  }  // destroyed without commit: an aborted write
  CHECK(count_entries(d.path / "tmp") == 0);
  CHECK_FALSE(fs::exists(s->file_path(id, "result.md")));

  auto w = s->begin_write(id, "result.md");
  REQUIRE(w);
  std::string big(3 << 20, 'x');
  REQUIRE(w->append(std::string_view(big.data(), big.size() / 2)));
  REQUIRE(w->append(std::string_view(big.data() + big.size() / 2, big.size() - big.size() / 2)));
  auto info = w->commit();
  REQUIRE(info);
  CHECK(info->bytes == static_cast<std::int64_t>(big.size()));
  CHECK(info->sha256 == detail::sha256_hex(big));
  CHECK(slurp(s->file_path(id, "result.md")) == big);
  CHECK(count_entries(d.path / "tmp") == 0);
  CHECK_FALSE(w->commit());  // a writer commits once
}

TEST_CASE("an input is written in place: never replaced, removed when abandoned, left by a crash") {
  temp_dir d;
  auto s = artifact_store::open(d.path, "prod");
  REQUIRE(s);
  const auto id = new_job_id();
  const auto at = d.path / "inputs" / id.substr(0, 2) / (id + ".pdf");
  {
    auto w = s->begin_write(id, artifact_store::input_name);
    REQUIRE(w);
    REQUIRE(w->append(std::string_view("%PDF-1.7\n")));
    // At its name while written (its job row, committed later, is what publishes it); no temp.
    CHECK(fs::exists(at));
    CHECK(count_entries(d.path / "tmp") == 0);
  }  // destroyed without commit: an aborted upload leaves nothing
  CHECK_FALSE(fs::exists(at));

  for (auto d_mode : {durability::synced, durability::deferred}) {
    const auto job = new_job_id();
    auto w = s->begin_write(job, artifact_store::input_name);
    REQUIRE(w);
    std::string big(1 << 20, 'p');
    REQUIRE(w->append(std::string_view(big)));
    auto info = w->commit(d_mode);
    REQUIRE(info);
    CHECK(info->sha256 == detail::sha256_hex(big));
    CHECK(s->verify(job, artifact_store::input_name, info->sha256, info->bytes));
    CHECK(s->sync_deferred(*info));
    // An input is never replaced: a second writer for the same job is refused, the first stays.
    auto again = s->begin_write(job, artifact_store::input_name);
    REQUIRE_FALSE(again);
    CHECK(again.err().code == errc::io_error);
    CHECK(slurp(s->file_path(job, artifact_store::input_name)) == big);
  }

  // A crash mid-write (the hook stops the writer as if the process died): the torn input stays
  // at its name, with no row; reconciliation removes such orphans after its grace period.
  const auto torn = new_job_id();
  int chunks = 0;
  s->set_fault_hook_for_testing([&](write_step step) { return step == write_step::write_data && ++chunks == 2; });
  {
    auto w = s->begin_write(torn, artifact_store::input_name);
    REQUIRE(w);
    REQUIRE(w->append(std::string_view("%PDF-1.7 first half\n")));
    CHECK_FALSE(w->append(std::string_view("second half\n")));
  }
  s->set_fault_hook_for_testing(nullptr);
  CHECK(slurp(s->file_path(torn, artifact_store::input_name)) == "%PDF-1.7 first half\n");
  CHECK(s->verify(torn, artifact_store::input_name, detail::sha256_hex("%PDF-1.7 whole\n")).err().code ==
        errc::artifact_corrupt);
}

TEST_CASE("fault injection: a write interrupted at any step leaves the old or the new file") {
  temp_dir d;
  auto s = artifact_store::open(d.path, "prod");
  REQUIRE(s);
  const auto id = new_job_id();
  const std::string old_text = "old result\n", new_text = std::string(100000, 'n');
  for (auto step : steps) {
    INFO("interrupted at " << to_string(step));
    s->set_fault_hook_for_testing(nullptr);
    REQUIRE(s->write_file(id, "result.md", old_text));
    int seen = 0;
    s->set_fault_hook_for_testing([&](write_step at) {
      // write_data is hit once per append: interrupt after the first chunk to tear a write.
      if (at == write_step::write_data && step == write_step::write_data) return ++seen == 2;
      return at == step;
    });
    auto w = s->begin_write(id, "result.md");
    bool failed = !w;
    if (w) {
      failed |= !w->append(std::string_view(new_text.data(), 50000));
      if (!failed) failed |= !w->append(std::string_view(new_text.data() + 50000, 50000));
      if (!failed) failed |= !w->commit();
    }
    CHECK(failed);
    const auto now = slurp(s->file_path(id, "result.md"));
    if (step == write_step::fsync_dir)
      CHECK(now == new_text);  // renamed: the new file is in place (fsync of the dir is what was cut)
    else
      CHECK(now == old_text);
    s->set_fault_hook_for_testing(nullptr);
    // Whatever the crash left in tmp/ is debris that reconciliation clears.
    CHECK(s->reconcile_tmp(0s).value() <= 1);
    CHECK(count_entries(d.path / "tmp") == 0);
  }
}

TEST_CASE("fault injection: a writer SIGKILLed at each step leaves the old or the new file") {
  temp_dir d;
  auto s = artifact_store::open(d.path, "prod");
  REQUIRE(s);
  const auto id = new_job_id();
  const std::string old_text = "old result", new_text = std::string(1 << 20, 'N');
  for (auto step : steps) {
    INFO("killed at " << to_string(step));
    REQUIRE(s->write_file(id, "result.md", old_text));
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      auto child = *s;
      int chunks = 0;
      child.set_fault_hook_for_testing([&](write_step at) {
        if (at == step && (at != write_step::write_data || ++chunks == 3)) raise(SIGKILL);
        return false;
      });
      auto w = child.begin_write(id, "result.md");
      for (int i = 0; i < 4 && w; ++i)
        (void)w->append(std::string_view(new_text.data() + i * (new_text.size() / 4), new_text.size() / 4));
      if (w) (void)w->commit();
      _exit(0);  // not reached: every step kills
    }
    int st = 0;
    REQUIRE(waitpid(pid, &st, 0) == pid);
    REQUIRE(WIFSIGNALED(st));
    const auto now = slurp(s->file_path(id, "result.md"));
    CHECK((now == old_text || now == new_text));
    if (step == write_step::fsync_dir) CHECK(now == new_text);
    else CHECK(now == old_text);
    CHECK(s->verify(id, "result.md", detail::sha256_hex(now)));
    s->reconcile_tmp(0s);
    CHECK(count_entries(d.path / "tmp") == 0);
  }
}

TEST_CASE("removal is idempotent and goes through tmp/ (never a half-deleted job dir)") {
  temp_dir d;
  auto s = artifact_store::open(d.path, "prod");
  REQUIRE(s);
  const auto id = new_job_id();
  REQUIRE(s->write_file(id, "input.pdf", "i"));
  REQUIRE(s->write_file(id, "result.md", "r"));
  REQUIRE(s->write_file(id, "assets/a.png", "a"));
  REQUIRE(s->remove_file(id, "input.pdf"));
  REQUIRE(s->remove_file(id, "input.pdf"));  // already gone: fine
  CHECK_FALSE(s->exists(id, "input.pdf"));
  auto dirs = s->list_jobs();
  REQUIRE(dirs);
  REQUIRE(dirs->size() == 1);
  CHECK((*dirs)[0].job_id == id);
  REQUIRE(s->remove_job(id));
  REQUIRE(s->remove_job(id));
  CHECK_FALSE(fs::exists(s->job_dir(id)));
  CHECK(count_entries(d.path / "tmp") == 0);
  CHECK(s->list_jobs()->empty());
}

TEST_CASE("an upload lives in inputs/<shard>/<id>.pdf: accepting a job makes no job directory") {
  temp_dir d;
  auto s = artifact_store::open(d.path, "prod");
  REQUIRE(s);
  const auto id = new_job_id();
  REQUIRE(s->write_file(id, artifact_store::input_name, "%PDF-1.7 in", durability::deferred));
  const auto at = d.path / "inputs" / id.substr(0, 2) / (id + ".pdf");
  CHECK(s->file_path(id, artifact_store::input_name) == at);
  CHECK(slurp(at) == "%PDF-1.7 in");
  CHECK_FALSE(fs::exists(s->job_dir(id)));
  // A job with only an input is listed (reconciliation must see uploads whose row never came).
  auto listed = s->list_jobs();
  REQUIRE(listed);
  REQUIRE(listed->size() == 1);
  CHECK((*listed)[0].job_id == id);
  // Its results make the job dir; the job is still listed once.
  REQUIRE(s->write_file(id, "result.md", "# r"));
  CHECK(fs::is_directory(s->job_dir(id)));
  CHECK(s->list_jobs()->size() == 1);
  // remove_job takes both.
  REQUIRE(s->remove_job(id));
  CHECK_FALSE(fs::exists(at));
  CHECK_FALSE(fs::exists(s->job_dir(id)));
  CHECK(s->list_jobs()->empty());
}

TEST_CASE("reconcile_tmp keeps young temp files (writes in flight) and removes old ones") {
  temp_dir d;
  auto s = artifact_store::open(d.path, "prod");
  REQUIRE(s);
  std::ofstream(d.path / "tmp" / "young.tmp") << "y";
  std::ofstream(d.path / "tmp" / "old.tmp") << "o";
  fs::last_write_time(d.path / "tmp" / "old.tmp", fs::file_time_type::clock::now() - 2h);
  CHECK(s->reconcile_tmp(1h).value() == 1);
  CHECK(fs::exists(d.path / "tmp" / "young.tmp"));
  CHECK_FALSE(fs::exists(d.path / "tmp" / "old.tmp"));
}

namespace {
// Writes `text` as `name` of a new job with durability::deferred; the hook (if any) sees the steps.
file_info write_deferred(const artifact_store& s, const std::string& id, const std::string& text) {
  auto w = s.begin_write(id, "input.pdf");
  REQUIRE(w);
  REQUIRE(w->append(std::string_view(text)));
  auto info = w->commit(durability::deferred);
  REQUIRE(info);
  return *info;
}
}  // namespace

TEST_CASE("deferred writes: in place at commit without fsync, durable after one filesystem sync") {
  temp_dir d;
  auto s = artifact_store::open(d.path, "prod");
  REQUIRE(s);
  std::vector<write_step> seen;
  s->set_fault_hook_for_testing([&](write_step at) {
    seen.push_back(at);
    return false;
  });
  const auto id = new_job_id();
  const auto info = write_deferred(*s, id, "%PDF-1.7 deferred\n");
  // An input: created at its name (no temp, no rename), no fsync.
  CHECK(seen == std::vector<write_step>{write_step::create_temp, write_step::write_data});
  CHECK(slurp(s->file_path(id, "input.pdf")) == "%PDF-1.7 deferred\n");
  CHECK(info.sha256 == detail::sha256_hex("%PDF-1.7 deferred\n"));
  CHECK(count_entries(d.path / "tmp") == 0);

  const auto before = s->deferred_syncs_run();
  seen.clear();
  CHECK(s->sync_deferred(info));
  CHECK(seen == std::vector<write_step>{write_step::sync_filesystem});
  CHECK(s->deferred_syncs_run() == before + 1);
}

TEST_CASE("deferred writes of concurrent callers share filesystem syncs") {
  temp_dir d;
  auto s = artifact_store::open(d.path, "prod");
  REQUIRE(s);
  constexpr int kThreads = 16;
  std::atomic<int> arrived{0};
  std::atomic<bool> first{true};
  // Hold the first sync until every caller has written and is about to sync: they then all take
  // their tickets while it runs and must be covered together by the next one.
  s->set_fault_hook_for_testing([&](write_step at) {
    if (at == write_step::sync_filesystem && first.exchange(false)) {
      for (int i = 0; i < 500 && arrived.load() < kThreads; ++i) std::this_thread::sleep_for(2ms);
      std::this_thread::sleep_for(50ms);
    }
    return false;
  });
  std::vector<std::string> ids(kThreads);
  std::vector<int> ok(kThreads, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      ids[t] = new_job_id();
      auto w = s->begin_write(ids[t], "input.pdf");
      if (!w || !w->append(std::string_view("pdf " + std::to_string(t)))) return;
      auto info = w->commit(durability::deferred);
      if (!info) return;
      arrived.fetch_add(1);
      ok[t] = s->sync_deferred(*info) ? 1 : 0;
    });
  for (auto& t : threads) t.join();
  for (int t = 0; t < kThreads; ++t) {
    INFO("caller " << t);
    CHECK(ok[t] == 1);
    CHECK(slurp(s->file_path(ids[t], "input.pdf")) == "pdf " + std::to_string(t));
  }
  // The first sync and one more for everybody who arrived while it ran (at most a straggler's).
  CHECK(s->deferred_syncs_run() <= 3);
}

TEST_CASE("a failed filesystem sync fails every deferred write made before it, later ones recover") {
  temp_dir d;
  auto s = artifact_store::open(d.path, "prod");
  REQUIRE(s);
  const auto older = write_deferred(*s, new_job_id(), "written before the failure");
  const auto covered = write_deferred(*s, new_job_id(), "covered by the failing sync");
  s->set_fault_hook_for_testing([](write_step at) { return at == write_step::sync_filesystem; });
  auto failed = s->sync_deferred(covered);
  REQUIRE_FALSE(failed);
  CHECK(failed.err().code == errc::io_error);
  CHECK(failed.err().message.find("syncfs") != std::string::npos);
  s->set_fault_hook_for_testing(nullptr);
  // Its own sync succeeds, but the failure may have been this write's data: never acknowledged.
  auto stale = s->sync_deferred(older);
  REQUIRE_FALSE(stale);
  CHECK(stale.err().code == errc::io_error);
  const auto later = write_deferred(*s, new_job_id(), "written after the failure");
  CHECK(s->sync_deferred(later));
}

TEST_CASE("a running filesystem sync covers the deferred writes made before it started, not later ones") {
  temp_dir d;
  auto s = artifact_store::open(d.path, "prod");
  REQUIRE(s);
  std::mutex mu;
  std::condition_variable cv;
  int entered = 0, released = 0;  // syncs that reached the hook / were let go
  s->set_fault_hook_for_testing([&](write_step at) {
    if (at != write_step::sync_filesystem) return false;
    std::unique_lock l(mu);
    const int me = ++entered;
    cv.notify_all();
    cv.wait(l, [&] { return released >= me; });
    return false;
  });
  auto wait_entered = [&](int n) {
    std::unique_lock l(mu);
    return cv.wait_for(l, 10s, [&] { return entered >= n; });
  };
  auto release = [&] {
    std::lock_guard l(mu);
    ++released;
    cv.notify_all();
  };
  const auto before = write_deferred(*s, new_job_id(), "before the first sync");
  const auto also_before = write_deferred(*s, new_job_id(), "also before it");
  auto first = std::async(std::launch::async, [&] { return bool(s->sync_deferred(before)); });
  REQUIRE(wait_entered(1));  // the first sync has started (and is held)
  auto sharing = std::async(std::launch::async, [&] { return bool(s->sync_deferred(also_before)); });
  const auto after = write_deferred(*s, new_job_id(), "written while it runs");
  auto next = std::async(std::launch::async, [&] { return bool(s->sync_deferred(after)); });
  release();                 // the first sync ends: it covered `before` and `also_before`
  REQUIRE(wait_entered(2));  // `after` needs a sync of its own, held now
  CHECK(first.get());
  // Answered without waiting for the second sync (held until the release below).
  const bool shared = sharing.wait_for(5s) == std::future_status::ready;
  CHECK(shared);
  CHECK(next.wait_for(50ms) == std::future_status::timeout);
  release();
  CHECK(sharing.get());
  CHECK(next.get());
  CHECK(s->deferred_syncs_run() == 2);
}

TEST_CASE("prepare_shards makes every shard directory once, and inputs then need no mkdir") {
  temp_dir root;
  auto store = artifact_store::open(root.path, "prod");
  REQUIRE(store);
  REQUIRE(store->prepare_shards());
  for (const char* area : {"inputs", "jobs"}) {
    std::size_t dirs = 0;
    for (const auto& e : fs::directory_iterator(root.path / area)) {
      CHECK(e.is_directory());
      CHECK(e.path().filename().string().size() == 2);
      ++dirs;
    }
    CHECK(dirs == 32 * 32);
  }
  REQUIRE(store->prepare_shards());  // again: nothing to do, no error
  // A job's input lands in its existing shard; the root lists it like any other.
  const auto id = new_job_id();
  REQUIRE(store->write_file(id, "input.pdf", "%PDF-1.7 x"));
  CHECK(fs::exists(root.path / "inputs" / id.substr(0, 2) / (id + ".pdf")));
  auto jobs = store->list_jobs();
  REQUIRE(jobs);
  REQUIRE(jobs->size() == 1);
  CHECK(jobs->front().job_id == id);
}

TEST_CASE("adopt publishes a staged file by rename: same inode, hashed, staged name gone") {
  temp_dir d;
  auto s = artifact_store::open(d.path, "prod");
  REQUIRE(s);
  const auto id = new_job_id();
  const fs::path staging = d.path / "tmp" / "work-adopt";
  fs::create_directories(staging / "assets");
  const std::string md = "# adopted\n", png = std::string(200000, 'p');
  std::ofstream(staging / "result.md", std::ios::binary) << md;
  std::ofstream(staging / "assets" / "img-1.png", std::ios::binary) << png;
  auto inode = [](const fs::path& p) {
    struct stat st {};
    REQUIRE(::stat(p.c_str(), &st) == 0);
    return st.st_ino;
  };

  for (auto dur : {durability::deferred, durability::synced}) {
    INFO((dur == durability::synced ? "synced" : "deferred"));
    if (dur == durability::synced) {
      std::ofstream(staging / "result.md", std::ios::binary) << md;  // staged again (renamed away)
      std::ofstream(staging / "assets" / "img-1.png", std::ios::binary) << png;
    }
    auto a = s->adopt(id, "assets/img-1.png", staging / "assets" / "img-1.png", dur);
    REQUIRE(a);
    CHECK(a->bytes == static_cast<std::int64_t>(png.size()));
    CHECK(a->sha256 == detail::sha256_hex(png));
    CHECK((a->deferred_ticket != 0) == (dur == durability::deferred));
    const auto staged_inode = inode(staging / "result.md");
    auto r = s->adopt(id, "result.md", staging / "result.md", dur);
    REQUIRE(r);
    CHECK(inode(s->file_path(id, "result.md")) == staged_inode);  // moved, not copied
    CHECK(r->sha256 == detail::sha256_hex(md));
    if (dur == durability::deferred) REQUIRE(s->sync_deferred(a->deferred_ticket, r->deferred_ticket));
    CHECK(!fs::exists(staging / "result.md"));
    CHECK(*s->read_verified(id, "result.md", r->sha256, r->bytes) == md);
    CHECK(*s->read_verified(id, "assets/img-1.png", a->sha256, a->bytes) == png);
  }
  // Bad input changes nothing: a missing staged file, an input name, a name outside the job.
  CHECK(s->adopt(id, "result.md", staging / "absent.md").err().code == errc::artifact_missing);
  std::ofstream(staging / "x.md") << "x";
  CHECK(s->adopt(id, "input.pdf", staging / "x.md").err().code == errc::invalid_argument);
  CHECK(s->adopt(id, "../x.md", staging / "x.md").err().code == errc::invalid_argument);
  CHECK(fs::exists(staging / "x.md"));
  CHECK(*s->read_verified(id, "result.md", detail::sha256_hex(md)) == md);
}

TEST_CASE("adopt interrupted at any step leaves the old result or the new one") {
  temp_dir d;
  auto s = artifact_store::open(d.path, "prod");
  REQUIRE(s);
  const auto id = new_job_id();
  const std::string old_text = "old result\n", new_text = std::string(100000, 'n');
  for (auto step : {write_step::fsync_file, write_step::rename, write_step::fsync_dir}) {
    INFO("interrupted at " << to_string(step));
    s->set_fault_hook_for_testing(nullptr);
    REQUIRE(s->write_file(id, "result.md", old_text));
    const fs::path staged = d.path / "tmp" / "staged.md";
    std::ofstream(staged, std::ios::binary) << new_text;
    s->set_fault_hook_for_testing([&](write_step at) { return at == step; });
    CHECK(!s->adopt(id, "result.md", staged));
    CHECK(slurp(s->file_path(id, "result.md")) == (step == write_step::fsync_dir ? new_text : old_text));
    fs::remove(staged);
  }
}
