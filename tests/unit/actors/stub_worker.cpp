// A stand-in for `quire worker` in actors_runtime_test: speaks the worker protocol
// (actors/worker_process.hpp) without MuPDF, so the runtime's actors, pipes and publishing run for
// real while the test stays fast and its results are predictable. For each job it reads the input,
// reports two pages of progress and writes a result.md that names the job and the input's size; the
// test checks exactly that text back through the service.
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "actors/worker_wire.hpp"

using quire::actors::worker_wire::emit;

int main() {
  if (!emit({{"event", "ready"}, {"pid", ::getpid()}})) return 1;
  quire::actors::worker_wire::line_reader jobs;
  std::string line;
  while (jobs.next(line)) {
    const auto job = nlohmann::json::parse(line, nullptr, false);
    if (job.is_discarded()) return 2;
    std::ifstream in(job.value("input", ""), std::ios::binary);
    if (!in) {
      emit({{"event", "done"}, {"ok", false}, {"code", "pdf_unreadable"}, {"message", "stub: no input"}});
      continue;
    }
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    // Two pages with a short pause each, so heartbeats, cancels and other jobs overlap with this one.
    for (int page = 1; page <= 2; ++page) {
      std::this_thread::sleep_for(std::chrono::milliseconds(30));
      emit({{"event", "progress"}, {"pages_done", page}, {"pages_total", 2}});
    }
    const std::filesystem::path out = job.value("output_dir", "");
    std::ofstream md(out / "result.md", std::ios::binary);
    md << "# stub " << job.value("job_id", "") << "\n\ninput bytes: " << bytes.size() << "\n";
    md.close();
    if (!md) {
      emit({{"event", "done"}, {"ok", false}, {"code", "internal"}, {"message", "stub: cannot write"}});
      continue;
    }
    emit({{"event", "done"}, {"ok", true}, {"page_count", 2}, {"pages_converted", 2},
          {"warnings", nlohmann::json::array()}, {"assets", nlohmann::json::array()},
          {"acceleration_used", "cpu"}});
  }
  return 0;
}
