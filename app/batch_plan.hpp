// quire::app — what `quire convert` does with several inputs, decided before anything converts.
//
// Inputs are PDF files and directories (searched recursively for *.pdf, any letter case). Each PDF
// gets one output in the output directory: a file given by name goes to OUT/NAME.md (NAME = its
// file name without the extension); a PDF found in a directory DIR goes to OUT/REL/NAME.md, REL
// being its folder relative to DIR, so the tree is mirrored. (.json instead of .md with
// --format json, .chunks.json with --format chunks.) Rules for the awkward cases:
//   - the same PDF reached twice (named twice, or named and inside a named directory) converts once;
//   - two different PDFs whose outputs would be the same file (a/x.pdf and b/x.pdf named together,
//     x.pdf and x.PDF in one folder) clash: none of them is converted, each is reported as failed
//     with `output_clash`, and the others convert;
//   - an input that does not exist, or a directory without any PDF, is reported as failed
//     (`input_missing`, `no_pdf_found`) and the others convert.
// Plain functions of paths (the file system is only read), so tests/unit/app can check them.
#pragma once

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

namespace quire::app {

struct batch_item {
  std::filesystem::path input;   // as found (the name given, or DIR/REL/NAME.pdf)
  std::filesystem::path output;  // OUT/[REL/]NAME.md
  std::filesystem::path assets;  // ASSETS/[REL/]NAME/ when images are extracted, else empty
};

struct batch_problem {
  std::string input;    // the input as given or found
  std::string code;     // input_missing, no_pdf_found, output_clash
  std::string message;
};

struct batch_plan {
  std::vector<batch_item> items;        // in input order; directory contents sorted by path
  std::vector<batch_problem> problems;  // inputs that will not be converted, and why
};

// `extension` is ".md" or ".json"; `assets_root` empty = no image extraction.
batch_plan plan_batch(const std::vector<std::string>& inputs, const std::filesystem::path& out_dir,
                      const std::string& extension, const std::filesystem::path& assets_root = {});

// The prefix of image links in item's Markdown: the assets folder relative to the Markdown file's
// folder, with a trailing '/'.
std::string asset_link_prefix(const batch_item& item);

// One progress line (for a terminal): "[12/40 files, 1 failed] 230 pages, 3.1 pages/s, ETA 1m20s".
// The ETA is estimated from the files done so far; none before the first file finishes.
struct batch_progress {
  int files_done = 0;  // finished, whatever the outcome
  int files_total = 0;
  int failed = 0;
  long pages = 0;      // pages converted so far, files in progress included
  std::chrono::duration<double> elapsed{0};
};
std::string progress_line(const batch_progress& p);

// "1m20s", "2h05m", "7s".
std::string format_duration(std::chrono::duration<double> d);

}  // namespace quire::app
