// `quire worker` — the crash-isolated conversion process that `quire serve` spawns (internal).
//
// Reads one job per line from fd 3 and writes events to fd 4 (protocol: actors/worker_process.hpp);
// exits 0 when fd 3 closes. Writes result.md and assets/ into the job's output_dir; the parent
// publishes them durably. Interrupts are ignored: the parent alone decides when a worker ends.
//
// For the service's crash tests only, QUIRE_WORKER_TEST_HOOKS=1 makes a PDF containing one of
// these comments misbehave on purpose: %QUIRE_TEST_SEGFAULT, %QUIRE_TEST_ABORT, %QUIRE_TEST_HANG,
// %QUIRE_TEST_OOM, %QUIRE_TEST_SLOW (4 s before converting). Without the variable they are inert.
// With it, --test-device-fails makes this worker's device report as failed on its first job (the
// service's died-while-running path, testable without a GPU); without the variable it is refused.
//
// Device binding: `--device N` makes this a GPU converter's worker. It builds its analyzer once with
// gpu::select_cuda_analyzer for device N (self-test included) and exits before "ready" when the
// device does not work. Jobs asking for gpu_required/gpu_prefer analyze on that device with no CPU
// fallback: if the device fails mid-job (analyze() throws, e.g. a CUDA error) the job ends with
// code "device_failed" and the service retries it elsewhere. Without --device the worker analyzes
// on the CPU reference; a gpu_prefer job then carries the engine's "GPU unavailable" warning and a
// gpu_required one is refused (gpu_not_available).
#include <CLI/CLI.hpp>
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <new>
#include <optional>
#include <sstream>
#include <nlohmann/json.hpp>
#include <thread>
#include <vector>

#include "actors/config.hpp"
#include "api/job_spec.hpp"
#include "api/result_formats.hpp"
#include "actors/worker_wire.hpp"
#include "app/commands.hpp"
#include "app/worker_sandbox.hpp"
#include "convert/convert.hpp"
#include "convert/plain.hpp"
#include "convert/serialize.hpp"
#include "gpu/page_analysis.hpp"

namespace quire::app {
namespace {

using actors::worker_wire::emit;
using actors::worker_wire::kEventsFd;
using actors::worker_wire::kJobsFd;

void test_hooks(const std::vector<char>& pdf) {
  static const bool enabled = [] {
    const char* v = std::getenv("QUIRE_WORKER_TEST_HOOKS");
    return v && std::strcmp(v, "1") == 0;
  }();
  if (!enabled) return;
  std::string_view text(pdf.data(), pdf.size());
  if (text.find("%QUIRE_TEST_SEGFAULT") != std::string_view::npos) ::raise(SIGSEGV);
  if (text.find("%QUIRE_TEST_ABORT") != std::string_view::npos) std::abort();
  if (text.find("%QUIRE_TEST_HANG") != std::string_view::npos)
    for (;;) std::this_thread::sleep_for(std::chrono::seconds(1));
  if (text.find("%QUIRE_TEST_OOM") != std::string_view::npos) {
    std::vector<std::vector<char>> hog;
    for (;;) hog.emplace_back(64 << 20, 'x');  // RLIMIT_AS turns this into bad_alloc
  }
  if (text.find("%QUIRE_TEST_SLOW") != std::string_view::npos) std::this_thread::sleep_for(std::chrono::seconds(4));
}

nlohmann::json fail(const std::string& code, const std::string& message);

bool hooks_enabled() {
  const char* v = std::getenv("QUIRE_WORKER_TEST_HOOKS");
  return v && std::strcmp(v, "1") == 0;
}

// Test hook `%QUIRE_TEST_PROBE port=N read=PATH write=PATH ...` (system tests only): from inside this
// sandboxed worker, try what a hostile PDF would want (the environment, a TCP connection, other
// files, the parent's /proc) and write what happened as JSON into result.md instead of converting.
// serve_sandbox_test asserts every attempt fails; it must fail when the sandbox is taken away.
std::optional<nlohmann::json> probe_hook(const std::vector<char>& pdf, const nlohmann::json& job) {
  if (!hooks_enabled()) return std::nullopt;
  std::string_view text(pdf.data(), pdf.size());
  const auto at = text.find("%QUIRE_TEST_PROBE");
  if (at == std::string_view::npos) return std::nullopt;
  std::string line(text.substr(at, text.find('\n', at) - at));
  nlohmann::json report = {{"env", nlohmann::json::array()}, {"reads", nlohmann::json::object()},
                           {"writes", nlohmann::json::object()}, {"uid", static_cast<long>(::getuid())}};
  for (char** e = environ; *e; ++e) report["env"].push_back(*e);
  auto outcome = [](int rc) { return rc >= 0 ? std::string("ok") : std::string(std::strerror(errno)); };
  std::istringstream words(line);
  std::string word;
  while (words >> word) {
    const auto eq = word.find('=');
    if (eq == std::string::npos) continue;
    const std::string key = word.substr(0, eq), value = word.substr(eq + 1);
    if (key == "port") {
      const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
      int rc = fd;
      if (fd >= 0) {
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(static_cast<std::uint16_t>(std::stoi(value)));
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        rc = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
      }
      report["connect"] = outcome(rc);
      if (fd >= 0) ::close(fd);
    } else if (key == "read") {
      const int fd = ::open(value.c_str(), O_RDONLY | O_CLOEXEC);
      report["reads"][value] = outcome(fd);
      if (fd >= 0) ::close(fd);
    } else if (key == "write") {
      const int fd = ::open(value.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
      report["writes"][value] = outcome(fd);
      if (fd >= 0) ::close(fd);
    }
  }
  const std::string parent_env = "/proc/" + std::to_string(::getppid()) + "/environ";
  const int pfd = ::open(parent_env.c_str(), O_RDONLY | O_CLOEXEC);
  report["reads"]["/proc/<parent>/environ"] = outcome(pfd);
  if (pfd >= 0) ::close(pfd);
  const std::filesystem::path out = job.value("output_dir", "");
  std::ofstream md(out / "result.md", std::ios::binary | std::ios::trunc);
  md << report.dump();
  if (!md.flush()) return fail("io_error", "cannot write the probe report");
  return nlohmann::json{{"event", "done"}, {"ok", true}, {"pages", nlohmann::json::array()}, {"page_count", 1},
                        {"pages_converted", 1}, {"warnings", nlohmann::json::array()}, {"assets", nlohmann::json::array()},
                        {"milliseconds", 0}, {"acceleration_used", "cpu"}};
}

nlohmann::json fail(const std::string& code, const std::string& message) {
  return {{"event", "done"}, {"ok", false}, {"code", code}, {"message", message}};
}

// Forwards to the device analyzer and remembers whether it failed: the engine turns a device failure
// under gpu_required into gpu_not_available, and only this tells the worker it was the device.
class watched_analyzer final : public gpu::page_analyzer {
 public:
  explicit watched_analyzer(gpu::page_analyzer* inner) : inner_(inner) {}
  quire::expected<std::vector<gpu::page_analysis>> analyze(const std::vector<gpu::raster_view>& pages) override {
    auto res = inner_->analyze(pages);
    // A bad raster is the page's problem, not the device's.
    if (!res && res.err().code != gpu::errc::invalid_argument) {
      failed = true;
      what = res.err().message;
    }
    return res;
  }
  std::string name() const override { return inner_->name(); }
  bool failed = false;
  std::string what;

 private:
  gpu::page_analyzer* inner_;
};

struct device_binding {
  int device = -1;                            // -1: a CPU converter's worker
  bool test_fails = false;                    // --test-device-fails (test hooks only)
  std::unique_ptr<gpu::page_analyzer> gpu;     // the device's analyzer (device >= 0)
  std::unique_ptr<gpu::page_analyzer> cpu;     // the CPU reference, made on first use
  std::string failure;                        // set once the device failed: it is not used again
};

gpu::analysis_params analysis_params() {
  gpu::analysis_params p;
  p.dpi = convert::analysis_dpi;  // see convert.hpp: a caller-owned analyzer must use the engine's dpi
  return p;
}

nlohmann::json run_job(convert::engine& engine, device_binding& dev, const nlohmann::json& job) {
  namespace fs = std::filesystem;
  std::ifstream in(job.value("input", ""), std::ios::binary);
  if (!in) return fail("input_missing", "cannot open the job's input.pdf");
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  test_hooks(bytes);
  if (auto probed = probe_hook(bytes, job)) return *probed;

  // The job spec's canonical JSON and the work budget, as the parent wrote them (api/job_spec.hpp).
  const auto spec = api::read_stored_spec(job.value("spec", nlohmann::json::object()), {});
  if (!spec) return fail("invalid_argument", "job spec: " + spec.err().field + ": " + spec.err().message);
  // The job's acceleration policy decides where page-raster analysis runs.
  convert::options opts = api::to_convert_options(*spec, api::read_work_budget(job.value("budget", nlohmann::json::object())),
                                                  job.value("asset_prefix", ""));
  if (dev.test_fails && dev.failure.empty()) dev.failure = "test hook: the device reported a failure";
  std::optional<watched_analyzer> watched;
  if (dev.device >= 0 && opts.acceleration != convert::acceleration_policy::cpu_only) {
    if (!dev.failure.empty()) return fail("device_failed", dev.failure);
    // On its device a job never falls back: a failure must surface so the job moves elsewhere.
    watched.emplace(dev.gpu.get());
    opts.analyzer = &*watched;
    opts.acceleration = convert::acceleration_policy::gpu_required;
  } else {
    if (dev.device < 0 && !dev.failure.empty()) return fail("device_failed", dev.failure);
    if (!dev.cpu) dev.cpu = gpu::make_cpu_analyzer(analysis_params());
    opts.analyzer = dev.cpu.get();
  }
  opts.progress = [](int done, int total) {
    emit({{"event", "progress"}, {"pages_done", done}, {"pages_total", total}});
    return true;
  };
  auto res = engine.convert(std::as_bytes(std::span(bytes)), opts);
  if (watched && watched->failed) {
    dev.failure = "cuda:" + std::to_string(dev.device) + " failed during page analysis: " + watched->what;
    return fail("device_failed", dev.failure);
  }
  if (!res) return fail(std::string(convert::to_string(res.err().code)), res.err().message);

  const fs::path out = job.value("output_dir", "");
  std::error_code ec;
  fs::create_directories(out / "assets", ec);
  nlohmann::json assets = nlohmann::json::array();
  for (const auto& a : res->assets) {
    std::ofstream f(out / "assets" / a.name, std::ios::binary | std::ios::trunc);
    f.write(reinterpret_cast<const char*>(a.bytes.data()), static_cast<std::streamsize>(a.bytes.size()));
    if (!f.flush()) return fail("io_error", "cannot write asset " + a.name);
    assets.push_back({{"name", a.name}, {"media_type", a.media_type}});
  }
  std::ofstream md(out / "result.md", std::ios::binary | std::ios::trunc);
  md.write(res->markdown.data(), static_cast<std::streamsize>(res->markdown.size()));
  if (!md.flush()) return fail("io_error", "cannot write result.md");
  // The other formats asked for, from the same document model, under their artifact names
  // (api/result_formats.hpp): document.json, chunks.json, result.txt.
  for (const auto& format : spec->conversion.formats) {
    const auto* f = api::find_result_format(format);
    if (!f) return fail("invalid_argument", "unknown result format " + format);
    std::string body;
    if (f->name == "markdown") {
      continue;  // result.md, always written
    } else if (f->name == "json") {
      body = convert::document_json(*res);
    } else if (f->name == "chunks") {
      body = convert::chunks_json(convert::make_chunks(res->doc, spec->conversion.chunks), spec->conversion.chunks);
    } else if (f->name == "text") {
      body = convert::document_text(res->doc);
    }
    const std::string name(f->file);
    std::ofstream out_file(out / name, std::ios::binary | std::ios::trunc);
    out_file.write(body.data(), static_cast<std::streamsize>(body.size()));
    if (!out_file.flush()) return fail("io_error", "cannot write " + name);
  }
  // Per-page figures, for `quire convert --format json` over many files (the service keeps only
  // the totals).
  nlohmann::json pages = nlohmann::json::array();
  for (const auto& p : res->pages)
    pages.push_back({{"page", p.number}, {"chars", p.chars}, {"blocks", p.blocks},
                     {"no_text_layer", p.no_text_layer}, {"ocr_used", p.ocr_used},
                     {"text_rotation", p.text_rotation}, {"text_lost", p.text_lost},
                     {"milliseconds", p.milliseconds}, {"page_kind", p.page_kind}});
  return {{"event", "done"},
          {"ok", true},
          {"pages", pages},
          {"page_count", res->page_count},
          {"pages_converted", static_cast<int>(res->pages.size())},
          {"warnings", res->warnings},
          {"assets", assets},
          {"milliseconds", res->milliseconds},
          {"acceleration_used", res->acceleration_used}};
}

int run_worker(device_binding& dev) {
  ::signal(SIGINT, SIG_IGN);
  ::signal(SIGTERM, SIG_IGN);
  if (::fcntl(kJobsFd, F_GETFD) < 0 || ::fcntl(kEventsFd, F_GETFD) < 0) {
    std::fprintf(stderr, "quire worker: internal command, started by `quire serve` (needs fds 3 and 4)\n");
    return 2;
  }
  // Its stderr is the service's: the same event lines, at the settings `quire serve` passed on in
  // the environment (already validated there). Synchronous: no extra thread in a process that runs
  // under RLIMIT_AS, and a line is out before a crash.
  std::vector<actors::config_error> ignored;
  log::start(actors::load_log_settings(actors::process_env(), ignored), log::delivery::sync);
  try {
    if (dev.test_fails) {
      const char* v = std::getenv("QUIRE_WORKER_TEST_HOOKS");
      if (!v || std::strcmp(v, "1") != 0) {
        log::error("worker.refused", {{"pid", ::getpid()}, {"message", "--test-device-fails needs QUIRE_WORKER_TEST_HOOKS=1"}});
        return 2;
      }
    }
    if (dev.device >= 0) {
      const gpu::device_report report = gpu::discover_devices(true);
      auto sel = gpu::select_cuda_analyzer(report, dev.device, analysis_params());
      if (!sel) {
        log::error("worker.device_unusable", {{"pid", ::getpid()}, {"device", dev.device},
                                              {"message", std::string(to_string(sel.err().code)) + ": " + sel.err().message}});
        return 4;
      }
      dev.gpu = std::move(*sel);
    }
    convert::engine engine;
    // Confinement last: the engine and any device are initialised with everything in reach, the
    // first job's bytes never are (worker_sandbox.hpp).
    const char* scratch = std::getenv("QUIRE_WORKER_SCRATCH");
    const auto sandbox = worker_sandbox::apply(scratch ? scratch : "", dev.device >= 0);
    if (!emit({{"event", "ready"}, {"pid", ::getpid()}, {"sandbox", sandbox.to_json()}})) return 1;
    actors::worker_wire::line_reader jobs;
    std::string line;
    while (jobs.next(line)) {
      auto job = nlohmann::json::parse(line, nullptr, false);
      nlohmann::json result = job.is_discarded() ? fail("internal", "malformed job message") : run_job(engine, dev, job);
      if (!emit(result)) return 1;
    }
  } catch (const std::bad_alloc&) {
    ::_exit(3);  // RLIMIT_AS: the parent reports "out of memory"
  }
  return 0;
}

}  // namespace

void add_worker_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("worker", "Internal: the isolated conversion process run by `quire serve`");
  cmd->group("");  // hidden from --help
  auto dev = std::make_shared<device_binding>();
  cmd->add_option("--device", dev->device, "CUDA device this worker analyzes on (a GPU converter's worker)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_flag("--test-device-fails", dev->test_fails, "tests only (QUIRE_WORKER_TEST_HOOKS=1): the device fails");
  cmd->callback([dev] {
    int rc = run_worker(*dev);
    if (rc != 0) throw CLI::RuntimeError(rc);
  });
}

}  // namespace quire::app
