// OCR languages: where Tesseract's models are, which are installed, and checking a language spec
// ("eng+deu") before any work. See ocr.hpp (quire::convert::ocr) and convert.hpp (the engine's
// installed_ocr_languages / check_ocr_languages).
#include "convert/detail/ocr.hpp"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <system_error>
#include <vector>

#include "convert/convert.hpp"

namespace quire::convert::ocr {

namespace fs = std::filesystem;

namespace {

// Model names are file-name stems: letters, digits, '_' and '-' ("chi_sim"). Anything else could
// walk out of the tessdata directory, so it is rejected before touching the file system.
bool valid_model_name(const std::string& name) {
  if (name.empty() || name.size() > 64) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  });
}

std::vector<std::string> split_languages(const std::string& spec) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= spec.size()) {
    size_t plus = spec.find('+', start);
    if (plus == std::string::npos) plus = spec.size();
    out.push_back(spec.substr(start, plus - start));
    start = plus + 1;
  }
  return out;
}

bool has_models(const fs::path& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return false;
  for (const auto& entry : fs::directory_iterator(dir, ec))
    if (entry.path().extension() == ".traineddata") return true;
  return false;
}

}  // namespace

std::string tessdata_dir() {
  std::vector<fs::path> candidates;
  // TESSDATA_PREFIX is Tesseract's own override; people point it at the tessdata folder itself or
  // at its parent, so both are tried.
  // NOLINTNEXTLINE(concurrency-mt-unsafe): read once per recognizer; nothing in quire calls setenv
  if (const char* env = std::getenv("TESSDATA_PREFIX"); env && *env) {
    candidates.emplace_back(env);
    candidates.emplace_back(fs::path(env) / "tessdata");
  }
  for (const char* p : {"/usr/share/tesseract-ocr/5/tessdata", "/usr/share/tesseract-ocr/4.00/tessdata",
                        "/usr/share/tessdata", "/usr/local/share/tessdata"})
    candidates.emplace_back(p);
  for (const auto& dir : candidates)
    if (has_models(dir)) return dir.string();
  return {};
}

std::string check_languages(const std::string& languages) {
  for (std::string name : split_languages(languages)) {
    if (!name.empty() && name[0] == '~') name.erase(0, 1);  // Tesseract's "skip this dependency"
    if (!valid_model_name(name))
      return "invalid OCR language '" + name + "' in '" + languages +
             "' (expected model names such as eng or eng+deu)";
  }
#ifndef QUIRE_HAVE_TESSERACT
  return "OCR is not available: quire was built without Tesseract";
#else
  const std::string dir = tessdata_dir();
  for (std::string name : split_languages(languages)) {
    if (name[0] == '~') name.erase(0, 1);
    if (dir.empty())
      return "OCR language model '" + name + "' is not installed: no tessdata directory found " +
             "(install tesseract-ocr-" + name + " or set TESSDATA_PREFIX)";
    std::error_code ec;
    if (!fs::is_regular_file(fs::path(dir) / (name + ".traineddata"), ec))
      // No directory in the message: it reaches API clients (a 422, a job's warnings), and the
      // server's file system layout is none of theirs.
      return "OCR language model '" + name + "' is not installed (no " + name +
             ".traineddata; install tesseract-ocr-" + name + " or set TESSDATA_PREFIX)";
  }
  return {};
#endif
}

bool available() { return check_languages("eng").empty(); }

}  // namespace quire::convert::ocr

namespace quire::convert {

std::vector<std::string> installed_ocr_languages() {
  namespace fs = std::filesystem;
  std::vector<std::string> out;
#ifdef QUIRE_HAVE_TESSERACT
  const std::string dir = ocr::tessdata_dir();
  if (dir.empty()) return out;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (entry.path().extension() != ".traineddata" || !entry.is_regular_file(ec)) continue;
    std::string name = entry.path().stem().string();
    if (ocr::valid_model_name(name) && name != "osd") out.push_back(std::move(name));
  }
  std::sort(out.begin(), out.end());
#endif
  return out;
}

std::string check_ocr_languages(const std::string& languages, std::vector<std::string>* missing) {
  std::string problem = ocr::check_languages(languages);
  if (missing && !problem.empty()) {
    const std::vector<std::string> installed = installed_ocr_languages();
    for (std::string name : ocr::split_languages(languages)) {
      if (!name.empty() && name[0] == '~') name.erase(0, 1);
      if (ocr::valid_model_name(name) && name != "osd" &&
          !std::binary_search(installed.begin(), installed.end(), name) &&
          std::find(missing->begin(), missing->end(), name) == missing->end())
        missing->push_back(name);
    }
  }
  return problem;
}

}  // namespace quire::convert
