// The service behind the v1 routes; see detail/job_service.hpp. Durability order on submit: the input is
// written in place to the data root's inputs/<shard>/<id>.pdf (artifact_store::begin_write) and
// made durable (fsync'ed, or one syncfs per batch), then the row is committed, then 202 is answered.
#include "actors/detail/job_service.hpp"

#include <algorithm>
#include <future>

#include "actors/detail/job_log.hpp"
#include "actors/detail/readiness_checks.hpp"
#include "actors/metrics.hpp"
#include "api/result_formats.hpp"

namespace quire::actors {
namespace {

using json = nlohmann::json;
using storage::errc;

// Submit batches in flight at once. Measured on the 2-core bench VM (bench/README.md, 64
// clients): 2 and 4 connections accept alike, 8 is slower (smaller batches, more PostgreSQL CPU
// per job). Never more than the handler threads.
storage::batcher_options submit_batching(const service_config& cfg) {
  storage::batcher_options b;
  b.connections = std::max(1, std::min(cfg.http_threads, 4));
  return b;
}

}  // namespace

storage::result<store_pool::lease> store_pool::borrow() {
  std::unique_lock l(mu_);
  cv_.wait(l, [&] { return !idle_.empty() || out_ < size_; });
  if (!idle_.empty()) {
    auto s = std::move(idle_.back());
    idle_.pop_back();
    ++out_;
    return lease(*this, std::move(s));
  }
  ++out_;
  l.unlock();
  auto opened = storage::job_store::open(opts_);
  if (!opened) {
    std::lock_guard g(mu_);
    --out_;
    cv_.notify_one();
    return opened.err();
  }
  return lease(*this, std::move(*opened));
}

void store_pool::put_back(std::unique_ptr<storage::job_store> s) {
  if (!s) return;  // a failed open already gave its slot back
  std::lock_guard l(mu_);
  --out_;
  idle_.push_back(std::move(s));
  cv_.notify_one();
}

api_error to_api_error(const storage::error& e) {
  switch (e.code.as<errc>().value_or(errc::internal)) {
    case errc::job_not_found: return {"job_not_found", e.message};
    case errc::job_expired: return {"job_expired", e.message};
    case errc::idempotency_conflict: return {"idempotency_conflict", e.message};
    case errc::artifact_missing: return {"artifact_missing", e.message};
    case errc::artifact_corrupt: return {"artifact_corrupt", e.message};
    case errc::invalid_argument: return {"validation_error", e.message};
    case errc::storage_full: return {"storage_full", e.message};
    default: break;
  }
  // Database and internal failures carry libpq/SQL text (statements, role names, hosts): that goes
  // to the service log, the client gets a stable code and a plain sentence.
  log::error("storage.error", {{"code", std::string(to_string(e.code))}, {"message", e.message}});
  if (e.code == errc::database_unreachable)
    return {"database_unavailable", "the database is unavailable or busy; retry later"};
  return {"internal_error", "internal error (" + std::string(to_string(e.code)) + "); details are in the service log"};
}

namespace {
// The stores behind HTTP requests: their statements are index lookups and single-row writes, so
// a call that has not answered after the lock wait it may legitimately spend (lock_timeout) plus
// a little is a server that stopped answering: 503 database_unavailable then, not a held request.
storage::store_options request_store_options(storage::store_options o) {
  o.call_timeout = o.lock_timeout + std::chrono::seconds(2);
  return o;
}
}  // namespace

job_service::job_service(const runtime_context& ctx, data_root& root, published& pub, actor_links& links)
    : ctx_(ctx),
      root_(root),
      pub_(pub),
      links_(links),
      pool_(request_store_options(ctx.store_opts), ctx.cfg.http_threads),
      batcher_(request_store_options(ctx.store_opts), [&] {
        auto b = submit_batching(ctx.cfg);
        b.before_commit = [this](const auto& tickets) { return before_batch(tickets); };
        return b;
      }()) {}

readiness_snapshot job_service::readiness() const {
  auto snap = pub_.status()->readiness;
  return pub_.draining.load() ? as_draining(std::move(snap)) : snap;
}

service_info job_service::info() const {
  const auto status = pub_.status();
  service_info i;
  i.revision = ctx_.revision;
  i.instance = ctx_.instance;
  i.gpu_report = ctx_.gpu_report;
  i.device_notes = status->device_notes;
  i.gpu_converters = ctx_.gpu_converters;
  i.live_converters = status->live_converters;
  i.live_gpu_converters = status->live_gpu_converters;
  return i;
}

std::int64_t job_service::queued_jobs() const { return pub_.queued.load(); }
int job_service::working_gpu_converters() const { return pub_.status()->live_gpu_converters; }

storage::status job_service::before_batch(const std::vector<std::uint64_t>& tickets) {
  service_metrics().observe("quire_submit_batch_size", {}, static_cast<double>(tickets.size()));
  if (!ctx_.cfg.grouped_sync) return storage::ok_v;  // every input was fsync'ed when written
  auto fs = files();
  if (!fs) return storage::error{errc::io_error, fs.err().message};
  // One sync covering the newest input; a sync failure after the oldest one fails the batch.
  const auto [oldest, newest] = std::minmax_element(tickets.begin(), tickets.end());
  return sync_data_root(**fs, *oldest, *newest, "submit");
}

api_result<const storage::artifact_store*> job_service::files() {
  auto fs = root_.files();
  if (!fs) return api_error{"internal_error", "data root: " + fs.err().message};
  return *fs;
}

template <class T>
static api_result<T> fail_with(const api_error& e) {
  return e;
}

api_result<submitted> job_service::submit(const submission& s) {
  std::promise<api_result<submitted>> answer;
  auto got = answer.get_future();
  submit_async(s, [&answer](api_result<submitted> r) { answer.set_value(std::move(r)); });
  return got.get();
}

void job_service::submit_async(const submission& s, std::function<void(api_result<submitted>)> done) {
  auto opened = files();
  if (!opened) return done(fail_with<submitted>(opened.err()));
  const storage::artifact_store* fs = *opened;
  // A full data root refuses the upload before anything is written; readiness is re-evaluated at
  // once so the lane reports data_root_full instead of taking more traffic.
  const auto reserve = data_root_reserve_bytes(ctx_.cfg);
  if (auto room = fs->ensure_room(s.pdf.size(), reserve); !room) return done(storage_refused(*fs, room.err()));
  // One key's share of the lane (QUIRE_MAX_JOBS_PER_KEY): counted before anything is written. Two
  // submits of one key racing may both pass at cap - 1; the cap is a fairness bound, not a ledger.
  if (ctx_.cfg.max_jobs_per_key > 0 && !s.api_key_id.empty()) {
    auto store = pool_.borrow();
    if (!store) return done(fail_with<submitted>(to_api_error(store.err())));
    auto active = (*store)->active_jobs_of(s.api_key_id);
    if (!active) return done(fail_with<submitted>(to_api_error(active.err())));
    if (*active >= ctx_.cfg.max_jobs_per_key) {
      api_error quota{"key_quota_exceeded", "this API key has " + std::to_string(*active) +
                                                " jobs queued or running, the most one key may have; retry when some finish"};
      quota.details = {{"max_jobs_per_key", ctx_.cfg.max_jobs_per_key}, {"active_jobs", *active}};
      return done(fail_with<submitted>(quota));
    }
  }
  const std::string id = storage::new_job_id();
  // Any failed step leaves nothing: the writer removes a partial input, and whatever else of the
  // job exists is removed here (no row refers to it).
  auto write_failed = [&](const storage::error& e) {
    fs->remove_job(id);
    return e.code == errc::storage_full ? storage_refused(*fs, e) : fail_with<submitted>(to_api_error(e));
  };
  auto writer = fs->begin_write(id, "input.pdf");
  if (!writer) return done(write_failed(writer.err()));
  if (auto a = writer->append(std::string_view(s.pdf)); !a) return done(write_failed(a.err()));
  // Grouped: no fsync here; the batcher's before_commit (before_batch) runs one syncfs of the data
  // root for the whole batch, so the input is durable before its row commits (202 = durable).
  auto info = writer->commit(ctx_.cfg.grouped_sync ? storage::durability::deferred : storage::durability::synced);
  if (!info) return done(write_failed(info.err()));

  storage::submit_request req;
  req.id = id;
  req.api_key_id = s.api_key_id;
  if (!s.idempotency_key.empty()) req.idempotency_key = s.idempotency_key;
  req.spec = s.job_spec;
  req.source_filename = s.filename;
  req.input_bytes = info->bytes;
  req.input_sha256 = info->sha256;
  req.priority = s.job_spec["execution"].value("priority", 0);
  req.max_attempts = ctx_.cfg.max_attempts;
  req.pinned = s.job_spec["retention"].value("pin", false);

  // Group commit: this request shares its transaction (and WAL flush) with the submits that
  // arrived while the previous batch was committing; `done` runs when ours has committed.
  batcher_.submit_async(
      std::move(req),
      [this, fs, id, cid = s.correlation_id, done = std::move(done)](storage::result<storage::submit_result> res) {
        if (res && !res->replayed)  // a new job: the first job.transition line (from null)
          log::info("job.transition", {{"job_id", res->job.id}, {"from", nullptr}, {"to", "queued"},
                                       {"attempt", res->job.attempt}, {"correlation_id", cid}});
        done(finish_submit(fs, id, std::move(res)));
      },
      info->deferred_ticket);
}

api_result<submitted> job_service::finish_submit(const storage::artifact_store* fs, const std::string& id,
                                             storage::result<storage::submit_result> res) {
  if (!res) {
    // A COMMIT whose answer was lost (a server restart at that moment) may have been applied:
    // then a row refers to this input, and the client's retry with its Idempotency-Key replays
    // that job. Keep the input; if nothing was committed the sweeper's reconciliation removes the
    // row-less input after its orphan grace. Any other error committed nothing.
    if (!res.err().outcome_unknown) fs->remove_job(id);
    // A sync of the batch's inputs that hit ENOSPC: the same answer as a full root before writing.
    if (res.err().code == errc::storage_full) return storage_refused(*fs, res.err());
    return fail_with<submitted>(to_api_error(res.err()));
  }
  if (res->replayed) fs->remove_job(id);  // the original job owns its own input
  else {
    service_metrics().add("quire_jobs_submitted_total", {});
    pub_.queued.fetch_add(1);
    links_.work_submitted();
  }
  return submitted{std::move(res->job), res->replayed};
}

api_result<submitted> job_service::storage_refused(const storage::artifact_store& fs, const storage::error& e) {
  links_.recheck_readiness();
  auto err = to_api_error(e);
  if (auto sp = fs.space(); sp)
    err.details = {{"free_bytes", sp->free_bytes}, {"reserve_bytes", data_root_reserve_bytes(ctx_.cfg)}};
  return fail_with<submitted>(err);
}

api_result<storage::job_record> job_service::load(const std::string& id, const std::string& key, bool expired_is_error) {
  if (!storage::is_valid_job_id(id)) return fail_with<storage::job_record>({"job_not_found", "no job " + id});
  auto store = pool_.borrow();
  if (!store) return fail_with<storage::job_record>(to_api_error(store.err()));
  auto j = (*store)->get(id);
  if (!j) return fail_with<storage::job_record>(to_api_error(j.err()));
  // Jobs are visible only to the key that submitted them (when keys are in use).
  if (!key.empty() && j->api_key_id != key) return fail_with<storage::job_record>({"job_not_found", "no job " + id});
  if (expired_is_error && j->status == storage::job_status::expired)
    return fail_with<storage::job_record>({"job_expired", "job " + id + " has expired; its files were removed",
                                           {{"expired_from", j->expired_from ? std::string(storage::to_string(*j->expired_from)) : ""}}});
  return std::move(*j);
}

api_result<storage::job_record> job_service::get_job(const std::string& id, const std::string& key) {
  return load(id, key, true);
}

api_result<storage::job_record> job_service::wait_job(const std::string& id, const std::string& key,
                                                      std::chrono::milliseconds wait) {
  const auto deadline = std::chrono::steady_clock::now() + wait;
  for (;;) {
    const std::uint64_t seen = pub_.changes.seen();
    auto j = load(id, key, true);
    if (!j) return j;
    // A draining process answers long polls at once, so they cannot hold up the shutdown.
    if (storage::is_terminal(j->status) || std::chrono::steady_clock::now() >= deadline || pub_.draining.load())
      return j;
    // Woken by any state change in this process; the 250 ms cap covers jobs run by other replicas.
    pub_.changes.wait(seen, std::min(deadline, std::chrono::steady_clock::now() + std::chrono::milliseconds(250)));
  }
}

api_result<job_page> job_service::list_jobs(const list_query& q, const std::string& key) {
  storage::job_filter f;
  if (q.status) f.statuses.push_back(*storage::parse_job_status(*q.status));
  if (!key.empty()) f.api_key_id = key;
  auto store = pool_.borrow();
  if (!store) return fail_with<job_page>(to_api_error(store.err()));
  auto page = (*store)->list(f, q.limit, q.cursor.empty() ? std::nullopt : std::optional<std::string>(q.cursor));
  if (!page) {
    if (page.err().code == errc::invalid_argument) return fail_with<job_page>({"validation_error", "cursor: " + page.err().message, {{"field", "cursor"}}});
    return fail_with<job_page>(to_api_error(page.err()));
  }
  job_page out;
  out.jobs = std::move(page->jobs);
  out.next_cursor = page->next_cursor.value_or("");
  return out;
}

api_result<storage::job_record> job_service::cancel_job(const std::string& id, const std::string& key) {
  auto j = load(id, key, true);
  if (!j) return j;
  auto store = pool_.borrow();
  if (!store) return fail_with<storage::job_record>(to_api_error(store.err()));
  auto r = (*store)->cancel(id, "client");
  if (!r) {
    if (r.err().code == errc::illegal_transition) {
      const std::string& cur = r.err().state;  // the job's status, by name
      return fail_with<storage::job_record>({"job_not_cancelable", "job is already " + cur, {{"status", cur}}});
    }
    return fail_with<storage::job_record>(to_api_error(r.err()));
  }
  log_transition(id, j->status, r->status, r->attempt, {{"reason", "client"}});
  // The converter running it here stops at its next tick; elsewhere, at its next heartbeat.
  links_.job_canceled(id, j->status == storage::job_status::running);
  return std::move(*r);
}

api_result<job_service::finished_result> job_service::result_of(const storage::job_record& job) {
  const auto status = std::string(storage::to_string(job.status));
  if (job.status == storage::job_status::queued || job.status == storage::job_status::running)
    return fail_with<finished_result>({"job_not_finished", "job is " + status, {{"status", status}}});
  if (job.status != storage::job_status::succeeded) {
    json details = {{"status", status}};
    if (job.error) details["error"] = {{"code", job.error->code}, {"message", job.error->message}};
    return fail_with<finished_result>({"job_not_succeeded", "job is " + status, details});
  }
  finished_result out;
  auto fs = files();
  if (!fs) return fail_with<finished_result>(fs.err());
  out.fs = *fs;
  if (auto manifest = out.fs->read_manifest(job.id); manifest && manifest->is_object()) out.manifest = std::move(*manifest);
  // Every format the job asked for: result.md as the row records it (the truth), the others as
  // the manifest does (publishing fails without it); one the manifest lacks is left out here and
  // answered artifact_missing when asked for.
  for (const auto& name : api::formats_of(job.spec)) {
    const auto* f = api::find_result_format(name);
    if (name == "markdown") {
      out.formats.push_back({{"format", name}, {"name", std::string(f->file)}, {"media_type", std::string(f->media_type)},
                             {"size_bytes", job.result_bytes.value_or(-1)}, {"sha256", job.result_sha256.value_or("")}});
      continue;
    }
    for (const auto& e : out.manifest.value("formats", json::array()))
      if (e.value("format", "") == name) out.formats.push_back(e);
  }
  return out;
}

api_result<job_result> job_service::get_result(const std::string& id, const std::string& key, bool with_markdown) {
  auto j = load(id, key, true);
  if (!j) return fail_with<job_result>(j.err());
  auto r = result_of(*j);
  if (!r) return fail_with<job_result>(r.err());
  const auto* fs = r->fs;
  job_result out;
  const auto sha = j->result_sha256.value_or("");
  const auto bytes = j->result_bytes.value_or(-1);
  if (with_markdown) {
    auto md = fs->read_verified(id, "result.md", sha, bytes);
    if (!md) return fail_with<job_result>(to_api_error(md.err()));
    out.markdown = std::move(*md);
  } else if (auto v = fs->verify(id, "result.md", sha, bytes); !v) {
    return fail_with<job_result>(to_api_error(v.err()));
  }
  out.manifest = std::move(r->manifest);
  out.formats = std::move(r->formats);
  out.job = std::move(*j);
  return out;
}

api_result<artifact> job_service::get_artifact(const std::string& id, const std::string& key, const std::string& name) {
  auto r = get_result(id, key, false);
  if (!r) return fail_with<artifact>(r.err());
  for (const auto& a : r->manifest.value("assets", json::array())) {
    if (a.value("name", "") != name) continue;
    auto fs = files();
    if (!fs) return fail_with<artifact>(fs.err());
    auto bytes = (*fs)->read_verified(id, "assets/" + name, a.value("sha256", ""), a.value("size_bytes", -1));
    if (!bytes) return fail_with<artifact>(to_api_error(bytes.err()));
    return artifact{a.value("media_type", "application/octet-stream"), std::move(*bytes)};
  }
  return fail_with<artifact>({"artifact_not_found", "job " + id + " has no artifact " + name});
}

namespace {
json format_names() {
  json names = json::array();
  for (const auto& f : api::result_formats) names.push_back(std::string(f.name));
  return names;
}

// The entry of `format` in result_of's formats; nullptr when the manifest lacks it.
const json* format_entry(const json& formats, const std::string& format) {
  for (const auto& e : formats)
    if (e.value("format", "") == format) return &e;
  return nullptr;
}
}  // namespace

api_result<result_file> job_service::get_result_format(const std::string& id, const std::string& key,
                                                       const std::string& format) {
  if (!api::find_result_format(format))
    return fail_with<result_file>({"format_unknown", "there is no result format '" + format.substr(0, 64) + "'",
                                   {{"format", format.substr(0, 64)}, {"formats", format_names()}}});
  auto j = load(id, key, true);
  if (!j) return fail_with<result_file>(j.err());
  // Said before the job has finished too: a format not asked for at submit will never be there.
  const auto asked = api::formats_of(j->spec);
  if (std::find(asked.begin(), asked.end(), format) == asked.end())
    return fail_with<result_file>({"format_not_available",
                                   "job " + id + " was not submitted with '" + format + "' in conversion.formats",
                                   {{"format", format}, {"formats", asked}}});
  auto r = result_of(*j);
  if (!r) return fail_with<result_file>(r.err());
  const json* e = format_entry(r->formats, format);
  if (!e)
    return fail_with<result_file>({"artifact_missing", "the " + format + " result of job " + id + " is not recorded"});
  const auto name = e->value("name", "");
  auto bytes = r->fs->read_verified(id, name, e->value("sha256", ""), e->value("size_bytes", std::int64_t{-1}));
  if (!bytes) return fail_with<result_file>(to_api_error(bytes.err()));
  return result_file{name, e->value("media_type", ""), std::move(*bytes), e->value("sha256", "")};
}

api_result<result_files> job_service::get_result_files(const std::string& id, const std::string& key,
                                                       std::uint64_t max_bytes) {
  auto j = load(id, key, true);
  if (!j) return fail_with<result_files>(j.err());
  auto r = result_of(*j);
  if (!r) return fail_with<result_files>(r.err());
  // What goes in: every format (result.md first), then every asset; their recorded sizes bound
  // the memory this takes before anything is read.
  struct wanted {
    std::string name, media_type, sha256;
    std::int64_t bytes;
  };
  std::vector<wanted> list;
  for (const auto& format : api::formats_of(j->spec)) {
    const json* e = format_entry(r->formats, format);
    if (!e)
      return fail_with<result_files>({"artifact_missing", "the " + format + " result of job " + id + " is not recorded"});
    list.push_back({e->value("name", ""), e->value("media_type", ""), e->value("sha256", ""),
                    e->value("size_bytes", std::int64_t{0})});
  }
  for (const auto& a : r->manifest.value("assets", json::array()))
    list.push_back({"assets/" + a.value("name", ""), a.value("media_type", "application/octet-stream"),
                    a.value("sha256", ""), a.value("size_bytes", std::int64_t{0})});
  std::uint64_t total = 0;
  for (const auto& w : list) total += static_cast<std::uint64_t>(std::max<std::int64_t>(w.bytes, 0));
  if (total > max_bytes)
    return fail_with<result_files>({"bundle_too_large",
                                    "the result's files add up to " + std::to_string(total) +
                                        " bytes, more than a bundle may hold; fetch them one by one",
                                    {{"size_bytes", total}, {"max_bundle_bytes", max_bytes}}});
  result_files out;
  out.files.reserve(list.size());
  for (auto& w : list) {
    auto bytes = r->fs->read_verified(id, w.name, w.sha256, w.bytes);
    if (!bytes) return fail_with<result_files>(to_api_error(bytes.err()));
    out.files.push_back({std::move(w.name), std::move(w.media_type), std::move(*bytes), std::move(w.sha256)});
  }
  return out;
}

}  // namespace quire::actors
