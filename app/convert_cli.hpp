// quire::app — `quire convert`, shared between the one-file form (cmd_convert.cpp, in-process) and
// the many-file form (batch_convert.cpp, a pool of crash-isolated `quire worker` processes).
#pragma once

#include <string>
#include <vector>

#include "api/job_spec.hpp"

namespace quire::app {

struct convert_args {
  std::vector<std::string> inputs;
  std::string output;
  std::string assets_dir;
  std::string pages;
  // The conversion asked for, with the job spec's defaults (api/job_spec.hpp): --pages, --ocr,
  // --ocr-languages, --acceleration, --page-markers, --chunk-size and --chunk-unit fill it in, and
  // --format and --assets its formats and extract_images.
  api::job_spec spec;
  std::string ocr, acceleration, chunk_unit;  // those flags' text; "" = not given
  std::string format = "markdown";  // markdown | json | chunks (--json is --format json)
  // --timeout (in the engine: 0 = no limit), --page-timeout and the content and operator limits.
  api::work_budget budget;
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
