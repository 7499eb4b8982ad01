// Job operations behind the v1 routes; see job_api.hpp. Durability order on submit: the input is
// written and renamed into the job dir first and made durable (fsync'ed, or one syncfs per batch),
// then the row is committed, then 202 is answered.
#include "actors/job_api.hpp"

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <future>

#include "actors/job_log.hpp"
#include "actors/metrics.hpp"
#include "actors/result_formats.hpp"

namespace quire::actors {
namespace {

using json = nlohmann::json;
using storage::errc;

std::string iso(const storage::time_point& t) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[40];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms % 1000));
  return buf;
}

json opt_time(const std::optional<storage::time_point>& t) { return t ? json(iso(*t)) : json(nullptr); }

// Submit batches in flight at once. Measured on the 2-core bench VM (bench/README.md, 64
// clients): 2 and 4 connections accept alike, 8 is slower (smaller batches, more PostgreSQL CPU
// per job). Never more than the handler threads.
storage::batcher_options submit_batching(const service_config& cfg) {
  storage::batcher_options b;
  b.connections = std::max(1, std::min(cfg.http_threads, 4));
  return b;
}

}  // namespace

store_pool::lease store_pool::borrow(storage::error& err) {
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
    err = opened.err();
    std::lock_guard g(mu_);
    --out_;
    cv_.notify_one();
    return lease(*this, nullptr);
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

namespace {
// The document of job_json; `spec` is the record's job spec, copied or moved by the caller.
json job_document(const storage::job_record& j, json spec) {
  const std::string self = "/v1/convert/jobs/" + j.id;
  json error = nullptr;
  if (j.error) error = {{"code", j.error->code}, {"message", j.error->message}, {"retryable", j.error->retryable}};
  json links = {{"self", self}, {"cancel", self + "/cancel"}};
  if (j.status == storage::job_status::succeeded) {
    links["result"] = self + "/result";
    // One link per format the job asked for ("markdown", "json", "chunks", "text"), and the bundle.
    for (const auto& f : formats_of(j.spec)) links[f] = self + "/result/" + f;
    links["bundle"] = self + "/result/bundle";
  }
  json doc = {{"job_id", j.id},
          {"status", std::string(storage::to_string(j.status))},
          {"progress", {{"pages_done", j.pages_done}, {"pages_total", j.pages_total ? json(*j.pages_total) : json(nullptr)}}},
          {"attempts", j.attempt},
          {"max_attempts", j.max_attempts},
          {"priority", j.priority},
          {"job_spec", std::move(spec)},
          {"source_filename", j.source_filename},
          {"input_bytes", j.input_bytes},
          {"error", error},
          {"created_at", iso(j.created_at)},
          {"started_at", opt_time(j.started_at)},
          {"finished_at", opt_time(j.finished_at)},
          {"expires_at", opt_time(j.expires_at)},
          {"pinned", j.pinned},
          {"links", links}};
  // The delivery state of notify.url's events, where the record has it (GET of one job).
  if (!j.webhooks.is_null()) doc["webhooks"] = j.webhooks;
  return doc;
}
}  // namespace

json job_json(const storage::job_record& j) { return job_document(j, j.spec); }
json job_json(storage::job_record&& j) { return job_document(j, std::move(j.spec)); }

api_error to_api_error(const storage::error& e) {
  switch (e.code) {
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
  log::error("storage.error", {{"code", std::string(storage::to_string(e.code))}, {"message", e.message}});
  if (e.code == errc::database_unreachable)
    return {"database_unavailable", "the database is unavailable or busy; retry later"};
  return {"internal_error", "internal error (" + std::string(storage::to_string(e.code)) + "); details are in the service log"};
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

job_api::job_api(const runtime_context& ctx, data_root& root, published& pub, actor_links& links)
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

storage::status job_api::before_batch(const std::vector<std::uint64_t>& tickets) {
  service_metrics().observe("quire_submit_batch_size", {}, static_cast<double>(tickets.size()));
  if (!ctx_.cfg.grouped_sync) return storage::ok_v;  // every input was fsync'ed when written
  api_error err;
  auto* fs = files(err);
  if (!fs) return storage::error{errc::io_error, err.message, std::nullopt};
  // One sync covering the newest input; a sync failure after the oldest one fails the batch.
  const auto [oldest, newest] = std::minmax_element(tickets.begin(), tickets.end());
  return sync_data_root(*fs, *oldest, *newest, "submit");
}

const storage::artifact_store* job_api::files(api_error& err) {
  std::string why;
  const auto* fs = root_.files(&why);
  if (!fs) err = {"internal_error", "data root: " + why};
  return fs;
}

template <class T>
static api_result<T> fail_with(const api_error& e) {
  return {std::nullopt, e};
}

api_result<submitted> job_api::submit(const submission& s) {
  std::promise<api_result<submitted>> answer;
  auto got = answer.get_future();
  submit_async(s, [&answer](api_result<submitted> r) { answer.set_value(std::move(r)); });
  return got.get();
}

void job_api::submit_async(const submission& s, std::function<void(api_result<submitted>)> done) {
  api_error err;
  auto* fs = files(err);
  if (!fs) return done(fail_with<submitted>(err));
  // A full data root refuses the upload before anything is written; readiness is re-evaluated at
  // once so the lane reports data_root_full instead of taking more traffic.
  const auto reserve = data_root_reserve_bytes(ctx_.cfg);
  if (auto room = fs->ensure_room(s.pdf.size(), reserve); !room) return done(storage_refused(*fs, room.err()));
  // One key's share of the lane (QUIRE_MAX_JOBS_PER_KEY): counted before anything is written. Two
  // submits of one key racing may both pass at cap - 1; the cap is a fairness bound, not a ledger.
  if (ctx_.cfg.max_jobs_per_key > 0 && !s.api_key_id.empty()) {
    storage::error db_err{errc::internal, "", {}};
    auto store = pool_.borrow(db_err);
    if (!store) return done(fail_with<submitted>(to_api_error(db_err)));
    auto active = store->active_jobs_of(s.api_key_id);
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

api_result<submitted> job_api::finish_submit(const storage::artifact_store* fs, const std::string& id,
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
  return api_result<submitted>::ok({job_json(std::move(res->job)), res->replayed});
}

api_result<submitted> job_api::storage_refused(const storage::artifact_store& fs, const storage::error& e) {
  links_.recheck_readiness();
  auto err = to_api_error(e);
  if (auto sp = fs.space(); sp)
    err.details = {{"free_bytes", sp->free_bytes}, {"reserve_bytes", data_root_reserve_bytes(ctx_.cfg)}};
  return fail_with<submitted>(err);
}

api_result<storage::job_record> job_api::load(const std::string& id, const std::string& key, bool expired_is_error) {
  if (!storage::is_valid_job_id(id)) return fail_with<storage::job_record>({"job_not_found", "no job " + id});
  storage::error db_err{errc::internal, "", {}};
  auto store = pool_.borrow(db_err);
  if (!store) return fail_with<storage::job_record>(to_api_error(db_err));
  auto j = store->get(id);
  if (!j) return fail_with<storage::job_record>(to_api_error(j.err()));
  // Jobs are visible only to the key that submitted them (when keys are in use).
  if (!key.empty() && j->api_key_id != key) return fail_with<storage::job_record>({"job_not_found", "no job " + id});
  if (expired_is_error && j->status == storage::job_status::expired)
    return fail_with<storage::job_record>({"job_expired", "job " + id + " has expired; its files were removed",
                                           {{"expired_from", j->expired_from ? std::string(storage::to_string(*j->expired_from)) : ""}}});
  return api_result<storage::job_record>::ok(std::move(*j));
}

api_result<json> job_api::get_job(const std::string& id, const std::string& key) {
  auto j = load(id, key, true);
  if (!j) return fail_with<json>(*j.error);
  return api_result<json>::ok(job_json(*j.value));
}

api_result<json> job_api::wait_job(const std::string& id, const std::string& key, std::chrono::milliseconds wait) {
  const auto deadline = std::chrono::steady_clock::now() + wait;
  for (;;) {
    const std::uint64_t seen = pub_.changes.seen();
    auto j = load(id, key, true);
    if (!j) return fail_with<json>(*j.error);
    // A draining process answers long polls at once, so they cannot hold up the shutdown.
    if (storage::is_terminal(j.value->status) || std::chrono::steady_clock::now() >= deadline || pub_.draining.load())
      return api_result<json>::ok(job_json(*j.value));
    // Woken by any state change in this process; the 250 ms cap covers jobs run by other replicas.
    pub_.changes.wait(seen, std::min(deadline, std::chrono::steady_clock::now() + std::chrono::milliseconds(250)));
  }
}

api_result<job_page> job_api::list_jobs(const list_query& q, const std::string& key) {
  storage::job_filter f;
  if (q.status) f.statuses.push_back(*storage::parse_job_status(*q.status));
  if (!key.empty()) f.api_key_id = key;
  storage::error db_err{errc::internal, "", {}};
  auto store = pool_.borrow(db_err);
  if (!store) return fail_with<job_page>(to_api_error(db_err));
  auto page = store->list(f, q.limit, q.cursor.empty() ? std::nullopt : std::optional<std::string>(q.cursor));
  if (!page) {
    if (page.err().code == errc::invalid_argument) return fail_with<job_page>({"validation_error", "cursor: " + page.err().message, {{"field", "cursor"}}});
    return fail_with<job_page>(to_api_error(page.err()));
  }
  job_page out;
  for (const auto& j : page->jobs) out.jobs.push_back(job_json(j));
  out.next_cursor = page->next_cursor.value_or("");
  return api_result<job_page>::ok(std::move(out));
}

api_result<json> job_api::cancel_job(const std::string& id, const std::string& key) {
  auto j = load(id, key, true);
  if (!j) return fail_with<json>(*j.error);
  storage::error db_err{errc::internal, "", {}};
  auto store = pool_.borrow(db_err);
  if (!store) return fail_with<json>(to_api_error(db_err));
  auto r = store->cancel(id, "client");
  if (!r) {
    if (r.err().code == errc::illegal_transition) {
      std::string cur = r.err().current_status ? std::string(storage::to_string(*r.err().current_status)) : "";
      return fail_with<json>({"job_not_cancelable", "job is already " + cur, {{"status", cur}}});
    }
    return fail_with<json>(to_api_error(r.err()));
  }
  log_transition(id, j.value->status, r->status, r->attempt, {{"reason", "client"}});
  // The converter running it here stops at its next tick; elsewhere, at its next heartbeat.
  links_.job_canceled(id, j.value->status == storage::job_status::running);
  return api_result<json>::ok(job_json(*r));
}

api_result<job_api::finished_result> job_api::result_of(const storage::job_record& job) {
  const auto status = std::string(storage::to_string(job.status));
  if (job.status == storage::job_status::queued || job.status == storage::job_status::running)
    return fail_with<finished_result>({"job_not_finished", "job is " + status, {{"status", status}}});
  if (job.status != storage::job_status::succeeded) {
    json details = {{"status", status}};
    if (job.error) details["error"] = {{"code", job.error->code}, {"message", job.error->message}};
    return fail_with<finished_result>({"job_not_succeeded", "job is " + status, details});
  }
  api_error err;
  finished_result out;
  out.fs = files(err);
  if (!out.fs) return fail_with<finished_result>(err);
  auto manifest = out.fs->read_manifest(job.id);
  json m = manifest ? *manifest : json::object();
  const auto sha = job.result_sha256.value_or("");
  const auto bytes = job.result_bytes.value_or(-1);
  // Every format the job asked for: result.md as the row records it (the truth), the others as
  // the manifest does (publishing fails without it); one the manifest lacks is left out here and
  // answered artifact_missing when asked for.
  json formats = json::array();
  for (const auto& name : formats_of(job.spec)) {
    const auto* f = find_result_format(name);
    if (name == "markdown") {
      formats.push_back({{"format", name}, {"name", std::string(f->file)}, {"media_type", std::string(f->media_type)},
                         {"size_bytes", bytes}, {"sha256", sha}});
      continue;
    }
    for (const auto& e : m.value("formats", json::array()))
      if (e.value("format", "") == name) formats.push_back(e);
  }
  out.metadata = {{"job_id", job.id},
                  {"media_type", "text/markdown"},
                  {"size_bytes", bytes},
                  {"sha256", sha},
                  // The pages in this result; the document may have more (document_page_count).
                  {"page_count", job.pages_total ? json(*job.pages_total) : m.value("page_count", json(nullptr))},
                  {"document_page_count", m.value("page_count", json(nullptr))},
                  {"warnings", m.value("warnings", json::array())},
                  {"formats", std::move(formats)},
                  {"assets", m.value("assets", json::array())},
                  {"acceleration_used", m.value("acceleration_used", "cpu")},
                  {"expires_at", opt_time(job.expires_at)}};
  return api_result<finished_result>::ok(std::move(out));
}

api_result<result_view> job_api::get_result(const std::string& id, const std::string& key, bool with_markdown) {
  auto j = load(id, key, true);
  if (!j) return fail_with<result_view>(*j.error);
  auto r = result_of(*j.value);
  if (!r) return fail_with<result_view>(*r.error);
  const auto* fs = r.value->fs;
  result_view out;
  const auto sha = j.value->result_sha256.value_or("");
  const auto bytes = j.value->result_bytes.value_or(-1);
  if (with_markdown) {
    auto md = fs->read_verified(id, "result.md", sha, bytes);
    if (!md) return fail_with<result_view>(to_api_error(md.err()));
    out.markdown = std::move(*md);
  } else if (auto v = fs->verify(id, "result.md", sha, bytes); !v) {
    return fail_with<result_view>(to_api_error(v.err()));
  }
  out.metadata = std::move(r.value->metadata);
  return api_result<result_view>::ok(std::move(out));
}

api_result<result_view> job_api::get_artifact(const std::string& id, const std::string& key, const std::string& name) {
  auto r = get_result(id, key, false);
  if (!r) return r;
  for (const auto& a : r.value->metadata["assets"]) {
    if (a.value("name", "") != name) continue;
    api_error err;
    auto* fs = files(err);
    if (!fs) return fail_with<result_view>(err);
    auto bytes = fs->read_verified(id, "assets/" + name, a.value("sha256", ""), a.value("size_bytes", -1));
    if (!bytes) return fail_with<result_view>(to_api_error(bytes.err()));
    result_view out;
    out.metadata = {{"media_type", a.value("media_type", "application/octet-stream")}};
    out.markdown = std::move(*bytes);
    return api_result<result_view>::ok(std::move(out));
  }
  return fail_with<result_view>({"artifact_not_found", "job " + id + " has no artifact " + name});
}

namespace {
json format_names() {
  json names = json::array();
  for (const auto& f : result_formats) names.push_back(std::string(f.name));
  return names;
}

// The metadata entry of `format` (get_result's "formats"); nullptr when the manifest lacks it.
const json* format_entry(const json& metadata, const std::string& format) {
  for (const auto& e : metadata["formats"])
    if (e.value("format", "") == format) return &e;
  return nullptr;
}
}  // namespace

api_result<result_view> job_api::get_result_format(const std::string& id, const std::string& key,
                                                   const std::string& format) {
  if (!find_result_format(format))
    return fail_with<result_view>({"format_unknown", "there is no result format '" + format.substr(0, 64) + "'",
                                   {{"format", format.substr(0, 64)}, {"formats", format_names()}}});
  auto j = load(id, key, true);
  if (!j) return fail_with<result_view>(*j.error);
  // Said before the job has finished too: a format not asked for at submit will never be there.
  const auto asked = formats_of(j.value->spec);
  if (std::find(asked.begin(), asked.end(), format) == asked.end())
    return fail_with<result_view>({"format_not_available",
                                   "job " + id + " was not submitted with '" + format + "' in conversion.formats",
                                   {{"format", format}, {"formats", asked}}});
  auto r = result_of(*j.value);
  if (!r) return fail_with<result_view>(*r.error);
  const json* e = format_entry(r.value->metadata, format);
  if (!e)
    return fail_with<result_view>({"artifact_missing", "the " + format + " result of job " + id + " is not recorded"});
  const auto name = e->value("name", "");
  auto bytes = r.value->fs->read_verified(id, name, e->value("sha256", ""), e->value("size_bytes", std::int64_t{-1}));
  if (!bytes) return fail_with<result_view>(to_api_error(bytes.err()));
  result_view out;
  out.metadata = *e;
  out.markdown = std::move(*bytes);
  return api_result<result_view>::ok(std::move(out));
}

api_result<result_files> job_api::get_result_files(const std::string& id, const std::string& key,
                                                   std::uint64_t max_bytes) {
  auto j = load(id, key, true);
  if (!j) return fail_with<result_files>(*j.error);
  auto r = result_of(*j.value);
  if (!r) return fail_with<result_files>(*r.error);
  const json& meta = r.value->metadata;
  // What goes in: every format (result.md first), then every asset; their recorded sizes bound
  // the memory this takes before anything is read.
  struct wanted {
    std::string name, media_type, sha256;
    std::int64_t bytes;
  };
  std::vector<wanted> list;
  for (const auto& format : formats_of(j.value->spec)) {
    const json* e = format_entry(meta, format);
    if (!e)
      return fail_with<result_files>({"artifact_missing", "the " + format + " result of job " + id + " is not recorded"});
    list.push_back({e->value("name", ""), e->value("media_type", ""), e->value("sha256", ""),
                    e->value("size_bytes", std::int64_t{0})});
  }
  for (const auto& a : meta["assets"])
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
    auto bytes = r.value->fs->read_verified(id, w.name, w.sha256, w.bytes);
    if (!bytes) return fail_with<result_files>(to_api_error(bytes.err()));
    out.files.push_back({std::move(w.name), std::move(w.media_type), std::move(*bytes)});
  }
  out.metadata = std::move(r.value->metadata);
  return api_result<result_files>::ok(std::move(out));
}

}  // namespace quire::actors
