// `quire serve` — the REST service. Configuration comes from QUIRE_* environment variables
// (docs/configuration.md), each of which can also be given as a flag (QUIRE_LISTEN: --listen;
// `quire serve --help` lists them with their defaults). Exit codes: 0 after a clean drain, 1 when it cannot start (bad address),
// 2 on invalid configuration.
//
// Signals: the first SIGTERM (or SIGINT) starts the drain — /readyz answers `draining` at once,
// nothing new is claimed or accepted, running jobs get QUIRE_SHUTDOWN_GRACE_SECONDS to finish and
// are then handed back (lease released, job queued again) so another replica or the next start
// picks them up. A second signal skips the rest of the grace period; nothing accepted is lost
// either way (the database holds every accepted job).
#include <CLI/CLI.hpp>
#include <signal.h>
#include <unistd.h>

#include <cctype>
#include <climits>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>

#include "actors/runtime.hpp"
#include "app/commands.hpp"
#include "convert/convert.hpp"
#include "http/server.hpp"
#include "log/log.hpp"

namespace quire::app {
namespace {

std::string self_exe() {
  std::error_code ec;
  auto p = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::string("quire") : p.string();
}

// The value of each setting given as a flag or in its environment variable (CLI11 reads the
// variable when the flag is absent); load_config parses them as it would the environment.
using setting_values = std::map<std::string, std::string>;

int run_serve(const setting_values& given) {
  // Block the shutdown signals before any thread exists, so every thread inherits the mask and
  // only sigtimedwait() below sees them.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  ::signal(SIGPIPE, SIG_IGN);  // a worker dying mid-write must not kill the service

  std::vector<actors::config_error> errors;
  const auto env = actors::process_env();
  auto cfg = actors::load_config(
      [&](const std::string& name) -> std::optional<std::string> {
        if (auto it = given.find(name); it != given.end()) return it->second;
        return env(name);  // test hooks, which have no flag
      },
      errors);
  cfg.ocr_languages = convert::installed_ocr_languages();
  // The workers read their log settings from the environment they inherit: pass on the ones a
  // flag may have given (before any thread exists).
  ::setenv("QUIRE_LOG_LEVEL", std::string(log::to_string(cfg.log.min_level)).c_str(), 1);
  ::setenv("QUIRE_LOG_FORMAT", std::string(log::to_string(cfg.log.output)).c_str(), 1);
  // The log starts first (with whatever log settings parsed, else the defaults) so that even a
  // configuration error is a log line; stopped last, after every thread that logs (declared first,
  // destroyed last), which writes out what is still queued.
  log::start(cfg.log, log::delivery::async);
  struct log_stopper {
    ~log_stopper() { log::stop(); }
  } stop_log_last;
  for (const auto& e : errors) log::error("config.invalid", {{"variable", e.variable}, {"message", e.message}});
  if (!errors.empty()) return 2;

  std::string revision = quire::build::revision();
  std::vector<std::string> worker_argv{cfg.worker_binary.empty() ? self_exe() : cfg.worker_binary, "worker"};
  auto started = actors::runtime::start(cfg, revision, worker_argv);
  if (!started) {
    log::critical("serve.start_failed", {{"message", started.err().message}});
    return 1;
  }
  auto rt = std::move(*started);
  http::api api(rt->jobs(), cfg);
  std::unique_ptr<http::server> server;
  try {
    server = http::start_server(api, cfg);
  } catch (const std::exception& e) {
    log::critical("serve.start_failed", {{"message", e.what()}});
    rt->shutdown();
    return 1;
  }
  log::info("serve.started", {{"revision", revision},
                              {"profile", cfg.profile},
                              {"listen", cfg.listen_host + ":" + std::to_string(cfg.listen_port)},
                              {"cpu_converters", cfg.cpu_converters},
                              {"log_level", std::string(log::to_string(cfg.log.min_level))}});

  int sig = 0;
  while ((sig = sigwaitinfo(&set, nullptr)) < 0) {
  }
  log::info("serve.draining", {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"},
                               {"grace_seconds", cfg.shutdown_grace.count()},
                               {"running_jobs", rt->running_jobs()}});
  rt->begin_drain();
  const auto deadline = std::chrono::steady_clock::now() + cfg.shutdown_grace;
  bool hurry = false;
  while (rt->running_jobs() > 0 && std::chrono::steady_clock::now() < deadline) {
    timespec slice{0, 100 * 1000 * 1000};
    if (sigtimedwait(&set, nullptr, &slice) > 0) {
      hurry = true;
      break;
    }
  }
  if (rt->running_jobs() > 0) {
    log::warn("serve.handing_back", {{"why", hurry ? "second signal" : "grace over"}, {"running_jobs", rt->running_jobs()}});
    rt->hand_back();
    if (!rt->wait_idle(std::chrono::seconds(10)))
      log::warn("serve.jobs_not_stopped", {{"message", "some jobs did not stop; their leases will expire and be rescued"}});
  }
  server->stop();
  rt->shutdown();
  log::info("serve.stopped");
  return 0;
}

}  // namespace

void add_serve_command(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "serve",
      "Run the REST service. Each setting comes from its flag, else its QUIRE_* environment variable, "
      "else its default (docs/configuration.md has the full meaning of each).");
  auto formatter = std::make_shared<CLI::Formatter>();
  formatter->column_width(44);
  cmd->formatter(formatter);
  auto values = std::make_shared<std::map<std::string, std::string>>();
  std::vector<std::pair<std::string, CLI::Option*>> options;
  for (const auto& s : actors::documented_settings()) {
    // QUIRE_MAX_UPLOAD_BYTES → --max-upload-bytes
    std::string flag = std::string(s.variable).substr(6);
    for (auto& c : flag) c = c == '_' ? '-' : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::string& slot = (*values)[s.variable];
    const std::string help = std::string(s.meaning) + " [default: " + (*s.fallback ? s.fallback : "unset") + "]";
    auto* opt = cmd->add_option("--" + flag, slot, help)->envname(s.variable)->type_name("VALUE");
    options.emplace_back(s.variable, opt);
  }
  cmd->callback([values, options] {
    setting_values given;
    for (const auto& [name, opt] : options)
      if (opt->count() > 0) given[name] = (*values)[name];
    int rc = run_serve(given);
    if (rc != 0) throw CLI::RuntimeError(rc);
  });
}

}  // namespace quire::app
