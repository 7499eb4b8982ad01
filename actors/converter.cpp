// A converter's worker supervision and liveness (the per-job work is in job_run.cpp).
#include "actors/converter.hpp"

#include <chrono>

#include "actors/metrics.hpp"
#include "actors/worker_process.hpp"

namespace quire::actors {

using steady = std::chrono::steady_clock;

void set_live(converter_ctx& c, bool live) {
  live = live && !c.device_failed;
  c.usable.store(live);
  if (live == c.counted_live) return;
  c.counted_live = live;
  c.st->live_converters.fetch_add(live ? 1 : -1);
  if (c.device >= 0) c.st->live_gpu_converters.fetch_add(live ? 1 : -1);
  service_metrics().set("quire_converters_live", {}, c.st->live_converters.load());
  service_metrics().set("quire_gpu_converters_live", {}, c.st->live_gpu_converters.load());
}

void converter_ctx::device_lost(std::string note) {
  st->add_device_note(std::move(note));
  device_failed = true;
  set_live(*this, false);
}

storage::status sync_data_root(const storage::artifact_store& fs, std::uint64_t oldest_ticket,
                               std::uint64_t newest_ticket, const char* what) {
  if (newest_ticket == 0) return storage::ok_v;  // nothing deferred (per_file sync, or no write)
  const auto started = steady::now();
  auto synced = fs.sync_deferred(oldest_ticket, newest_ticket);
  service_metrics().observe("quire_data_sync_seconds", {{"for", what}},
                            std::chrono::duration<double>(steady::now() - started).count());
  return synced;
}

bool ensure_worker(converter_ctx& c) {
  if (c.device_failed) return false;
  if (c.worker && c.worker->running()) return true;
  if (!c.worker) c.worker = std::make_unique<worker_process>(c.worker_argv, c.st->cfg.worker_memory_bytes, c.st->cfg.worker_nice);
  std::string err;
  bool ok = c.worker->start(err);
  if (!ok) log::error("worker.start_failed", {{"converter", c.index}, {"accel", c.accel}, {"message", err}});
  set_live(c, ok);
  return ok;
}

}  // namespace quire::actors
