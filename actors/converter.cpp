// The converter actor: supervises its worker process (restarts it when it died while idle) and
// runs the jobs the coordinator gives it, one at a time (job_run.cpp). A blocking actor: it waits
// on the worker for a whole job, and reads its mailbox between the worker's progress events, so a
// cancel or a hand-back reaches it while the job runs.
#include "actors/detail/converter.hpp"

#include <chrono>

#include "actors/detail/actor_messages.hpp"
#include "actors/detail/runtime_actors.hpp"
#include "actors/metrics.hpp"
#include "actors/worker_process.hpp"

namespace quire::actors {

using steady = std::chrono::steady_clock;

void set_live(converter_ctx& c, bool live) {
  live = live && !c.device_failed;
  if (live == c.live) return;
  c.live = live;
  c.links->live_changed(live);
}

void converter_ctx::device_lost(const std::string& note) {
  device_failed = true;
  set_live(*this, false);
  links->device_failed(note);
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

// What confines the worker that just started (app/worker_sandbox.hpp): a layer missing (an old
// kernel, a container's seccomp profile refusing Landlock) is a warning and a 0 in
// quire_worker_sandbox{layer}, never silent.
static void report_sandbox(const converter_ctx& c) {
  const auto& sb = c.worker->sandbox();
  auto& m = service_metrics();
  const bool seccomp = sb.is_object() && sb.value("seccomp", false);
  const bool filesystem = sb.is_object() && sb.value("filesystem", false);
  const bool no_new_privs = sb.is_object() && sb.value("no_new_privs", false);
  m.set("quire_worker_sandbox", {{"layer", "seccomp"}}, seccomp ? 1 : 0);
  m.set("quire_worker_sandbox", {{"layer", "landlock"}}, filesystem ? 1 : 0);
  m.set("quire_worker_sandbox", {{"layer", "no_new_privs"}}, no_new_privs ? 1 : 0);
  log::fields f{{"converter", c.index}, {"pid", c.worker->pid()}, {"sandbox", sb}};
  if (seccomp && filesystem && no_new_privs) log::debug("worker.sandbox", f);
  else log::warn("worker.sandbox_degraded", f);
}

bool ensure_worker(converter_ctx& c) {
  if (c.device_failed) return false;
  // A worker started while the data root was unavailable has no scratch directory (it cannot be
  // given a job then): once the root is there it is restarted confined to one.
  const bool confined = c.worker && !c.worker->scratch().empty();
  if (c.worker && c.worker->running() && (confined || !c.files)) return true;
  if (c.worker && c.worker->running()) c.worker->stop();
  if (!c.worker) c.worker = std::make_unique<worker_process>(c.worker_argv, c.cfg().worker_memory_bytes, c.cfg().worker_nice);
  // Its output is built in memory before it is written, so no file it writes can be larger than its
  // address space.
  if (c.files) c.worker->set_isolation({(c.files->root() / "tmp").string(), c.cfg().worker_memory_bytes, 256});
  const auto started = c.worker->start();
  const bool ok = started.ok();
  if (!ok) log::error("worker.start_failed", {{"converter", c.index}, {"accel", c.accel}, {"message", started.err().message}});
  if (ok) report_sandbox(c);
  set_live(c, ok);
  return ok;
}

namespace {

class mailbox_links final : public converter_links {
 public:
  mailbox_links(caf::blocking_actor* self, converter_ctx& c, caf::actor supervisor, caf::actor coordinator)
      : self_(self), c_(c), supervisor_(std::move(supervisor)), coordinator_(std::move(coordinator)) {}
  void live_changed(bool live) override {
    tell(self_, supervisor_, live_atom::value, c_.index, c_.device >= 0, live);
    tell(self_, coordinator_, live_atom::value, c_.index, live);
  }
  void device_failed(const std::string& note) override { tell(self_, supervisor_, device_atom::value, note); }
  void recheck_readiness() override { tell(self_, supervisor_, recheck_atom::value); }
  void job_changed() override { tell(self_, coordinator_, changed_atom::value); }
  void poll() override {
    for (bool more = true; more && !exiting;)
      self_->receive(
          [&](cancel_atom, const std::string& id) {
            mailbox_acquire(self_);
            if (id == c_.running_job) c_.cancel_received = true;
          },
          [&](hand_back_atom) {
            mailbox_acquire(self_);
            c_.hand_back = true;
          },
          [&](caf::exit_msg&) {  // the runtime stops: what still runs is handed back
            mailbox_acquire(self_);
            c_.hand_back = true;
            exiting = true;
          },
          caf::after(std::chrono::seconds(0)) >> [&] { more = false; });
  }
  bool exiting = false;

 private:
  caf::blocking_actor* self_;
  converter_ctx& c_;
  caf::actor supervisor_, coordinator_;
};

// Opens what the converter needs on first use (the database or the data root may appear later).
void open_resources(converter_ctx& c) {
  nice_this_thread(c.cfg(), c.thread_niced);  // also the worker's PDEATHSIG parent thread
  if (!c.store) c.store = open_store(*c.ctx).value_or(nullptr);
  if (!c.files) c.files = c.root->files().value_or(nullptr);
}

// Once a second while idle: restart a worker that died (unless its device failed).
void idle_check(converter_ctx& c) {
  open_resources(c);
  if (c.device_failed) return;  // a dead device is not restarted: readiness reports it until a restart
  if (c.worker && c.worker->running() && !c.worker->check_alive()) {
    log::warn("worker.exited", {{"converter", c.index}, {"while", "idle"}, {"exit", c.worker->last_exit()}});
    service_metrics().add("quire_worker_crashes_total", {{"cause", "idle"}});
    set_live(c, false);
  }
  ensure_worker(c);
}

}  // namespace

void converter_actor(caf::blocking_actor* self, std::shared_ptr<converter_ctx> c, caf::actor supervisor,
                     caf::actor coordinator) {
  mailbox_links links(self, *c, std::move(supervisor), coordinator);
  c->links = &links;
  idle_check(*c);
  while (!links.exiting) {
    self->receive(
        [&](run_atom, const quire_claimed_ptr& job) {
          mailbox_acquire(self);
          open_resources(*c);
          c->running_job = job->job.id;
          c->cancel_received = false;
          if (c->store && c->files) run_claimed_job(*c, *job);
          else if (c->store) c->store->release(job->lease, "data_root_unavailable");
          // no database: the lease expires and the job is rescued
          c->running_job.clear();
          tell(self, coordinator, done_atom::value, c->index);
        },
        [&](cancel_atom, const std::string&) { mailbox_acquire(self); },  // for a job already finished
        [&](hand_back_atom) {
          mailbox_acquire(self);
          c->hand_back = true;
        },
        [&](caf::exit_msg&) {
          mailbox_acquire(self);
          links.exiting = true;
        },
        caf::after(std::chrono::seconds(1)) >> [&] { idle_check(*c); });
  }
  if (c->worker) c->worker->stop();
  c->links = nullptr;
}

}  // namespace quire::actors
