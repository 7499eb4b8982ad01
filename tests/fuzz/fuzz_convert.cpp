// libFuzzer entry point over the conversion engine (convert::engine), as the service's worker
// uses it: one engine reused across inputs, assets on, the deadline option on (so a slow input is a
// `timeout` error, and only a real hang trips libFuzzer's -timeout). Built two ways
// (tests/fuzz/CMakeLists.txt): with clang -fsanitize=fuzzer as `fuzz_convert`, and with a plain
// main (replay_main.cpp) as `fuzz_replay`, which ctest runs over the seed corpus and regressions/.
//
// Besides "no crash, no leak, no sanitizer report", each input checks the engine's contract:
// a result or a stable error code (never `internal`), one page_stats per converted page, Markdown
// that is valid UTF-8 with no NUL bytes, assets with unique names and non-empty bytes.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <span>
#include <string>
#include <string_view>

#include "convert/convert.hpp"
#include "utf8/utf8.hpp"

namespace {

[[noreturn]] void contract_broken(const char* what, const std::string& detail) {
  std::fprintf(stderr, "fuzz_convert: contract broken: %s: %s\n", what, detail.c_str());
  std::abort();
}

double timeout_seconds() {
  const char* s = std::getenv("QUIRE_FUZZ_TIMEOUT");
  return s ? std::atof(s) : 10.0;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static quire::convert::engine eng;  // the worker keeps one engine for its whole life
  static const double deadline = timeout_seconds();
  const std::span<const std::byte> pdf(reinterpret_cast<const std::byte*>(data), size);

  auto pages = eng.count_pages(pdf);
  if (!pages && pages.err().code == quire::convert::errc::internal)
    contract_broken("count_pages returned internal", pages.err().message);

  quire::convert::options opts;
  opts.extract_images = true;
  opts.asset_prefix = "assets/";
  opts.ocr = quire::convert::ocr_mode::off;  // Tesseract is slow and not ours to fuzz
  opts.max_pages = 64;
  opts.timeout_seconds = deadline;
  auto r = eng.convert(pdf, opts);
  if (!r) {
    const auto code = r.err().code;
    if (code == quire::convert::errc::internal) contract_broken("convert returned internal", r.err().message);
    if (pages && *pages > 0 && *pages <= 64 &&
        (code == quire::convert::errc::pdf_unreadable || code == quire::convert::errc::pdf_empty))
      contract_broken("count_pages succeeded but convert says unreadable/empty", r.err().message);
    return 0;
  }
  const auto& c = r.value();
  if (c.page_count <= 0) contract_broken("success with no pages", std::to_string(c.page_count));
  if (pages && *pages != c.page_count)
    contract_broken("page counts differ", std::to_string(*pages) + " vs " + std::to_string(c.page_count));
  if (static_cast<int>(c.pages.size()) != c.page_count)
    contract_broken("one page_stats per page", std::to_string(c.pages.size()) + " for " + std::to_string(c.page_count));
  if (c.markdown.find('\0') != std::string::npos) contract_broken("NUL in Markdown", "");
  if (const size_t at = quire::utf8::first_invalid(c.markdown); at != std::string_view::npos)
    contract_broken("Markdown is not valid UTF-8", "at byte " + std::to_string(at));
  std::set<std::string> names;
  for (const auto& a : c.assets) {
    if (a.name.empty() || a.bytes.empty()) contract_broken("empty asset", a.name);
    if (!names.insert(a.name).second) contract_broken("duplicate asset name", a.name);
  }
  return 0;
}
