// Retention and reconciliation with controlled timestamps (the database clock is pinned; no
// sleeping for days) over a real data root: inputs after 24 h, results after 7 days, tombstones
// after 30 days, pinned jobs never; concurrent sweepers; orphans and missing artifacts.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <thread>

#include "api/result_formats.hpp"
#include "pg_fixture.hpp"
#include "storage/artifact_store.hpp"
#include "storage/maintenance.hpp"

using namespace quire::storage;
using namespace quire::storage::testing;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {
const time_point t0 = time_point{} + std::chrono::hours(24 * 365 * 56);
constexpr auto day = std::chrono::hours(24);

struct temp_root {
  fs::path path;
  temp_root() {
    char tmpl[] = "/tmp/quire-root.XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~temp_root() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

// The accept path as the service does it: input file durable first, then the row.
job_record accept(job_store& s, const artifact_store& files, const std::string& pdf, bool pinned = false) {
  auto r = request(pdf);
  r.pinned = pinned;
  auto info = files.write_file(r.id, "input.pdf", pdf);
  REQUIRE(info);
  REQUIRE(info->sha256 == r.input_sha256);
  return submit_ok(s, r);
}

// Claim that exact job and finish it with its results on disk, published as the converter does
// (actors/job_run.cpp): every result format's file (result.md, document.json, chunks.json,
// result.txt) renamed from a staging directory into the job's, then the manifest.
void finish_ok(job_store& s, const artifact_store& files, const std::string& id) {
  auto c = s.claim("w", 1000, std::chrono::minutes(5));
  REQUIRE(c);
  for (auto& cj : *c) {
    if (cj.job.id != id) {
      REQUIRE(s.release(cj.lease, "test"));
      continue;
    }
    const fs::path staging = files.root() / "tmp" / ("work-" + id);
    fs::create_directories(staging);
    file_info result;
    for (const auto& f : quire::api::result_formats) {
      const std::string name(f.file);
      std::ofstream(staging / name) << f.name << " result of " << id << "\n";
      auto info = files.adopt(id, name, staging / name);
      REQUIRE(info);
      if (f.name == "markdown") result = *info;
    }
    fs::remove_all(staging);
    REQUIRE(files.write_manifest(id, {{"job_id", id}, {"result_sha256", result.sha256}}));
    REQUIRE(s.complete(cj.lease, {result.bytes, result.sha256, 1}));
  }
}

// Whether every result format's file of the job is there (all), or none is (!all).
bool result_files_exist(const artifact_store& files, const std::string& id, bool all) {
  for (const auto& f : quire::api::result_formats)
    if (files.exists(id, f.file) != all) return false;
  return true;
}
}  // namespace

TEST_CASE("retention: inputs after 24 h, results after 7 days, tombstones after 30 days, pinned never") {
  migrated_db db;
  temp_root root;
  auto files = artifact_store::open(root.path, "prod");
  REQUIRE(files);
  auto s = open_store(db.url());
  REQUIRE(s->set_clock_for_testing(t0));
  auto done = accept(*s, *files, "done");
  auto pinned = accept(*s, *files, "pinned", true);
  auto canceled = accept(*s, *files, "canceled");
  auto waiting = accept(*s, *files, "waiting");
  finish_ok(*s, *files, done.id);
  finish_ok(*s, *files, pinned.id);
  REQUIRE(s->cancel(canceled.id, "client"));
  const retention_policy policy;  // the defaults: 24 h / 7 d / 30 d

  REQUIRE(s->set_clock_for_testing(t0 + 23h));
  auto r0 = run_retention(*s, *files, policy);
  REQUIRE(r0);
  CHECK(r0->inputs_deleted == 0);
  CHECK(files->exists(done.id, "input.pdf"));

  REQUIRE(s->set_clock_for_testing(t0 + 24h + 1s));
  auto r1 = run_retention(*s, *files, policy);
  REQUIRE(r1);
  CHECK(r1->inputs_deleted == 2);  // done + canceled; not pinned, not the queued one
  CHECK_FALSE(files->exists(done.id, "input.pdf"));
  CHECK_FALSE(files->exists(canceled.id, "input.pdf"));
  CHECK(result_files_exist(*files, done.id, true));  // results stay 7 days, every format of them
  CHECK(files->exists(pinned.id, "input.pdf"));
  CHECK(files->exists(waiting.id, "input.pdf"));
  CHECK(s->get(done.id)->input_deleted);
  CHECK(s->get(done.id)->status == job_status::succeeded);

  REQUIRE(s->set_clock_for_testing(t0 + 7 * day + 1s));
  auto r2 = run_retention(*s, *files, policy);
  REQUIRE(r2);
  CHECK(r2->jobs_expired == 2);
  CHECK(r2->file_errors.empty());
  auto tomb = s->get(done.id);
  REQUIRE(tomb);
  CHECK(tomb->status == job_status::expired);
  CHECK(tomb->expired_from == job_status::succeeded);
  CHECK_FALSE(fs::exists(files->job_dir(done.id)));
  CHECK(result_files_exist(*files, done.id, false));
  CHECK_FALSE(fs::exists(files->job_dir(canceled.id)));
  CHECK(s->get(pinned.id)->status == job_status::succeeded);
  CHECK(result_files_exist(*files, pinned.id, true));
  CHECK(files->read_verified(pinned.id, "result.md", *s->get(pinned.id)->result_sha256));
  CHECK(s->get(waiting.id)->status == job_status::queued);

  REQUIRE(s->set_clock_for_testing(t0 + 30 * day + 1s));
  auto r3 = run_retention(*s, *files, policy);
  REQUIRE(r3);
  CHECK(r3->tombstones_deleted == 2);
  CHECK(s->get(done.id).err().code == errc::job_not_found);
  CHECK(s->get(pinned.id)->status == job_status::succeeded);
  CHECK(s->get(waiting.id)->status == job_status::queued);  // never finished: never swept
  CHECK(files->exists(waiting.id, "input.pdf"));
}

TEST_CASE("retention runs in bounded batches and concurrent sweepers expire each job once") {
  migrated_db db;
  temp_root root;
  auto files = artifact_store::open(root.path, "prod");
  REQUIRE(files);
  auto s = open_store(db.url());
  REQUIRE(s->set_clock_for_testing(t0));
  constexpr int n = 120;
  for (int i = 0; i < n; ++i) {
    auto j = accept(*s, *files, "doc" + std::to_string(i));
    REQUIRE(s->cancel(j.id, "bulk"));
  }
  REQUIRE(s->set_clock_for_testing(t0 + 8 * day));
  auto one = s->sweep(retention_policy{}, 10);
  REQUIRE(one);
  CHECK(one->inputs_to_delete.size() == 10);
  CHECK(one->jobs_expired.size() == 10);
  CHECK(one->more);
  for (auto& id : one->jobs_expired) REQUIRE(files->remove_job(id));

  std::vector<std::int64_t> expired(3, 0);
  std::vector<std::string> errors(3);
  std::vector<std::thread> ts;
  for (int k = 0; k < 3; ++k)
    ts.emplace_back([&, k] {
      auto st = job_store::open(options_for(db.url()));
      if (!st || !(*st)->set_clock_for_testing(t0 + 8 * day)) {
        errors[k] = "open";
        return;
      }
      auto r = run_retention(**st, *files, retention_policy{}, 7);
      if (!r) errors[k] = r.err().message;
      else expired[k] = r->jobs_expired;
    });
  for (auto& t : ts) t.join();
  for (auto& e : errors) CHECK(e.empty());
  CHECK(expired[0] + expired[1] + expired[2] == n - 10);
  auto c = s->counts();
  CHECK(c->by_status[job_status::expired] == n);
  CHECK(files->list_jobs()->empty());
}

TEST_CASE("reconcile: orphans after the grace period, tombstone dirs, missing and corrupt results") {
  migrated_db db;
  temp_root root;
  auto files = artifact_store::open(root.path, "prod");
  REQUIRE(files);
  auto s = open_store(db.url());
  auto good = accept(*s, *files, "good");
  finish_ok(*s, *files, good.id);
  auto lost = accept(*s, *files, "lost");
  finish_ok(*s, *files, lost.id);
  auto bent = accept(*s, *files, "bent");
  finish_ok(*s, *files, bent.id);
  REQUIRE(fs::remove(files->file_path(lost.id, "result.md")));
  REQUIRE(files->write_file(bent.id, "result.md", "tampered"));

  // A crash between writing the input and committing the row: an old orphan and a young one.
  const auto old_orphan = new_job_id(), young_orphan = new_job_id();
  REQUIRE(files->write_file(old_orphan, "input.pdf", "x"));
  REQUIRE(files->write_file(young_orphan, "input.pdf", "y"));
  fs::last_write_time(files->file_path(old_orphan, "input.pdf"), fs::file_time_type::clock::now() - 2h);
  // A crashed write left a temp file; an interrupted sweep left the dir of an expired row.
  std::ofstream(root.path / "tmp" / "dead.tmp") << "partial";
  fs::last_write_time(root.path / "tmp" / "dead.tmp", fs::file_time_type::clock::now() - 2h);
  REQUIRE(s->set_clock_for_testing(std::chrono::system_clock::now() - 8 * day));
  auto gone = accept(*s, *files, "gone");
  REQUIRE(s->cancel(gone.id, "x"));
  REQUIRE(s->set_clock_for_testing(std::chrono::system_clock::now() - 2 * day));
  auto stale = accept(*s, *files, "stale");  // past input_ttl, not past result_ttl
  REQUIRE(s->cancel(stale.id, "x"));
  REQUIRE(s->set_clock_for_testing(std::nullopt));
  auto swept = s->sweep(retention_policy{}, 100);  // rows only: the files stay, as after a crash
  REQUIRE(swept);
  REQUIRE(swept->jobs_expired == std::vector<std::string>{gone.id});
  REQUIRE(swept->inputs_to_delete.size() == 2);
  REQUIRE(files->exists(gone.id, "input.pdf"));  // canceled while queued: an input, no job dir
  REQUIRE(files->exists(stale.id, "input.pdf"));
  // Their files are as old as their rows say (reconcile looks only at files older than the grace).
  fs::last_write_time(files->file_path(gone.id, "input.pdf"), fs::file_time_type::clock::now() - 8 * day);
  fs::last_write_time(files->file_path(stale.id, "input.pdf"), fs::file_time_type::clock::now() - 2 * day);

  auto rep = reconcile(*s, *files, {});
  REQUIRE(rep);
  CHECK(rep->orphan_dirs_removed == 1);
  CHECK(rep->tombstone_dirs_removed == 1);
  CHECK(rep->temp_files_removed == 1);
  CHECK(rep->stale_inputs_removed == 1);
  CHECK_FALSE(files->exists(stale.id, "input.pdf"));
  CHECK(files->exists(good.id, "input.pdf"));  // finished just now: its input is still kept
  CHECK_FALSE(files->exists(old_orphan, "input.pdf"));
  CHECK(files->exists(young_orphan, "input.pdf"));  // may be an upload in flight
  CHECK_FALSE(files->exists(gone.id, "input.pdf"));
  REQUIRE(rep->artifact_missing.size() == 2);
  std::string all = rep->artifact_missing[0] + rep->artifact_missing[1];
  CHECK(all.find(lost.id) != std::string::npos);
  CHECK(all.find(bent.id) != std::string::npos);
  CHECK(all.find(good.id) == std::string::npos);

  // Served reads fail closed rather than returning bad bytes as success.
  auto j = s->get(lost.id);
  CHECK(files->read_verified(lost.id, "result.md", *j->result_sha256).err().code == errc::artifact_missing);
  auto b = s->get(bent.id);
  CHECK(files->read_verified(bent.id, "result.md", *b->result_sha256, *b->result_bytes).err().code ==
        errc::artifact_corrupt);
  CHECK(files->read_verified(good.id, "result.md", *s->get(good.id)->result_sha256));
}

TEST_CASE("reconcile: results verified a bounded number per run, each run going on where the last stopped") {
  migrated_db db;
  temp_root root;
  auto files = artifact_store::open(root.path, "prod");
  REQUIRE(files);
  auto s = open_store(db.url());
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) {
    auto j = accept(*s, *files, "doc " + std::to_string(i));
    finish_ok(*s, *files, j.id);
    ids.push_back(j.id);
  }
  std::sort(ids.begin(), ids.end());  // verification goes in id order
  REQUIRE(files->write_file(ids[3], "result.md", "tampered"));

  reconcile_options o;
  o.verify_limit = 2;
  auto first = reconcile(*s, *files, o);
  REQUIRE(first);
  CHECK(first->results_verified == 2);
  CHECK(first->artifact_missing.empty());
  CHECK(first->verify_next_after == ids[1]);

  o.verify_after = first->verify_next_after;
  auto second = reconcile(*s, *files, o);
  REQUIRE(second);
  CHECK(second->results_verified == 2);
  REQUIRE(second->artifact_missing.size() == 1);  // the tampered one came up in this run
  CHECK(second->artifact_missing[0].find(ids[3]) == 0);
  CHECK(second->verify_next_after == ids[3]);

  o.verify_after = second->verify_next_after;
  auto third = reconcile(*s, *files, o);
  REQUIRE(third);
  CHECK(third->results_verified == 1);
  CHECK(third->verify_next_after.empty());  // reached the end: the next run starts over

  o.verify_limit = 0;  // none: the cursor stays where it was
  o.verify_after = ids[2];
  auto none = reconcile(*s, *files, o);
  REQUIRE(none);
  CHECK(none->results_verified == 0);
  CHECK(none->verify_next_after == ids[2]);

  o.verify_limit = -1;  // all (quire sweep): from the start to the end
  o.verify_after.clear();
  auto all = reconcile(*s, *files, o);
  REQUIRE(all);
  CHECK(all->results_verified == 5);
  CHECK(all->artifact_missing.size() == 1);
  CHECK(all->verify_next_after.empty());
}

TEST_CASE("reconcile: files younger than the grace period cost no database lookups") {
  migrated_db db;
  temp_root root;
  auto files = artifact_store::open(root.path, "prod");
  REQUIRE(files);
  auto s = open_store(db.url());
  for (int i = 0; i < 20; ++i) accept(*s, *files, "fresh " + std::to_string(i));  // a fresh backlog
  s.reset();  // its backend's statistics are flushed when it exits
  auto scans = [&] {
    pqxx::connection watcher(db.url());
    pqxx::nontransaction q(watcher);
    return q.exec1("SELECT seq_scan + idx_scan FROM pg_stat_user_tables WHERE relname = 'jobs'")[0].as<std::int64_t>();
  };
  auto before = scans();
  for (int i = 0; i < 50; ++i) {  // settled: nothing from the submits is still to arrive
    std::this_thread::sleep_for(100ms);
    const auto now = scans();
    if (now == before) break;
    before = now;
  }
  auto r = open_store(db.url());
  reconcile_options o;
  o.verify_limit = 0;
  auto rep = reconcile(*r, *files, o);
  REQUIRE(rep);
  CHECK(rep->orphan_dirs_removed == 0);
  REQUIRE(files->list_jobs()->size() == 20);
  r.reset();
  std::this_thread::sleep_for(1s);  // let a lookup's statistics arrive, were there any
  CHECK(scans() == before);
}
