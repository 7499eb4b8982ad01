// A main() for fuzz_convert.cpp without libFuzzer: runs LLVMFuzzerTestOneInput once on every file
// named on the command line (directories: every regular file in them, sorted). ctest uses it to
// replay the seed corpus and tests/fuzz/regressions/ in the ordinary and the sanitizer builds; a
// crash or a contract failure aborts, and an input slower than --max-seconds fails the run.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

int main(int argc, char** argv) {
  namespace fs = std::filesystem;
  double max_seconds = 60;
  std::vector<fs::path> files;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--max-seconds" && i + 1 < argc) { max_seconds = std::atof(argv[++i]); continue; }
    std::error_code ec;
    if (fs::is_directory(arg, ec)) {
      std::vector<fs::path> in_dir;
      for (const auto& e : fs::directory_iterator(arg))
        if (e.is_regular_file() && e.path().filename().string().rfind("README", 0) != 0) in_dir.push_back(e.path());
      std::sort(in_dir.begin(), in_dir.end());
      files.insert(files.end(), in_dir.begin(), in_dir.end());
    } else if (fs::is_regular_file(arg, ec)) {
      files.emplace_back(arg);
    } else {
      std::fprintf(stderr, "fuzz_replay: no such file or directory: %s\n", arg.c_str());
      return 2;
    }
  }
  if (files.empty()) {
    std::fprintf(stderr, "usage: fuzz_replay [--max-seconds S] FILE|DIR...  (no inputs found)\n");
    return 2;
  }
  int slow = 0;
  for (const auto& f : files) {
    std::ifstream in(f, std::ios::binary);
    const std::vector<char> bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    const auto t0 = std::chrono::steady_clock::now();
    LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("%-48s %8zu bytes %8.3f s%s\n", f.filename().c_str(), bytes.size(), s, s > max_seconds ? "  SLOW" : "");
    if (s > max_seconds) ++slow;
  }
  std::printf("fuzz_replay: %zu inputs, %d over %.0f s\n", files.size(), slow, max_seconds);
  return slow ? 1 : 0;
}
