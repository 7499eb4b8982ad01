// quire::app — `quire convert`, shared between the one-file form (cmd_convert.cpp, in-process) and
// the many-file form (batch_convert.cpp, a pool of crash-isolated `quire worker` processes).
#pragma once

#include <string>

#include "convert/convert.hpp"
#include <vector>

namespace quire::app {

struct convert_args {
  std::vector<std::string> inputs;
  std::string output;
  std::string assets_dir;
  std::string pages;
  int first_page = 1;  // from pages (1-based, inclusive)
  int last_page = 0;   // 0 = end of the document
  std::string ocr = "auto";
  std::string ocr_languages = "eng";
  std::string acceleration = "cpu_only";
  std::string format = "markdown";  // markdown | json | chunks (--json is --format json)
  bool page_markers = false;        // <!-- page N --> lines in the Markdown (and in the JSON's markdown)
  int chunk_size = 2000;            // --format chunks: the limit per chunk ...
  std::string chunk_unit = "characters";  // ... in characters or (approximate) tokens
  double timeout = 0;
  convert::options::work_limits limits = convert::options::work_limits::recommended();
  bool json = false;
  int jobs = 0;                     // 0 = one per core
  bool skip_existing = false;
};

// Exit codes of the many-file form: 0 every input converted (or skipped), 1 at least one failed
// (its output not writable included), 2 usage error, 3 the output directory cannot be made, 130
// interrupted. (The one-file form: 0, 1 conversion error, 2 usage, 3 output not written.)
int run_batch(const convert_args& a);

// The file name extension of each format's output: ".md", ".json", ".chunks.json".
std::string output_extension(const std::string& format);

}  // namespace quire::app
