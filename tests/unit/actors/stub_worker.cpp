// A stand-in for `quire worker` in actors_runtime_test: speaks the worker protocol
// (actors/worker_process.hpp) without MuPDF, so the runtime's actors, pipes and publishing run for
// real while the test stays fast and its results are predictable. For each job it reads the input,
// reports two pages of progress and writes a result.md that names the job and the input's size; the
// test checks exactly that text back through the service.
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

namespace {

constexpr int kJobsFd = 3;
constexpr int kEventsFd = 4;

bool emit(const nlohmann::json& event) {
  const std::string line = event.dump() + "\n";
  std::size_t off = 0;
  while (off < line.size()) {
    const ssize_t n = ::write(kEventsFd, line.data() + off, line.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    off += static_cast<std::size_t>(n);
  }
  return true;
}

bool read_line(std::string& buffer, std::string& line) {
  for (;;) {
    const auto nl = buffer.find('\n');
    if (nl != std::string::npos) {
      line = buffer.substr(0, nl);
      buffer.erase(0, nl + 1);
      return true;
    }
    char buf[4096];
    const ssize_t n = ::read(kJobsFd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    buffer.append(buf, static_cast<std::size_t>(n));
  }
}

}  // namespace

int main() {
  if (!emit({{"event", "ready"}, {"pid", ::getpid()}})) return 1;
  std::string buffer, line;
  while (read_line(buffer, line)) {
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
