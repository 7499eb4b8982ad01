// worker_process with a scratch directory (isolation): the input is staged into the scratch and
// the child's output collected from it; a failure of either is the job failure code io_error
// (actors::errc::io_error). Runs the stub worker (stub_worker.cpp) as the child, so it lives in
// actors_runtime_test beside the other test that starts processes; it needs no database.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <string>

#include "actors/worker_process.hpp"
#include "storage/job_id.hpp"

namespace {

namespace fs = std::filesystem;
using quire::actors::worker_outcome;

struct temp_dir {
  fs::path path = fs::temp_directory_path() / ("quire-wp-" + quire::storage::new_job_id());
  temp_dir() { fs::create_directories(path); }
  ~temp_dir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

}  // namespace

TEST_CASE("worker_process: staged input and collected output; an input that cannot be staged is io_error",
          "[worker]") {
  temp_dir dir;
  quire::actors::worker_process worker({QUIRE_STUB_WORKER}, 0);
  worker.set_isolation({dir.path.string()});
  const quire::status started = worker.start();
  INFO((started ? std::string() : started.err().message));
  REQUIRE(started);
  const auto keep_going = [](int, int) { return true; };

  quire::actors::worker_job job;
  job.job_id = "missing";
  job.input_path = (dir.path / "no-such-input.pdf").string();
  job.output_dir = (dir.path / "out-missing").string();
  const worker_outcome refused = worker.run(job, keep_going);
  CHECK(refused.outcome == worker_outcome::kind::failed);
  CHECK(refused.code == "io_error");
  CHECK(refused.message.rfind("cannot stage the input for the worker: ", 0) == 0);

  // the same worker goes on: a readable input is staged, converted and its result.md collected
  job.job_id = "present";
  job.input_path = (dir.path / "input.pdf").string();
  job.output_dir = (dir.path / "out-present").string();
  std::ofstream(job.input_path, std::ios::binary) << "%PDF-1.7 stub";
  const worker_outcome done = worker.run(job, keep_going);
  INFO(done.code << ": " << done.message);
  CHECK(done.outcome == worker_outcome::kind::succeeded);
  CHECK(fs::exists(fs::path(job.output_dir) / "result.md"));
  worker.stop();
}
