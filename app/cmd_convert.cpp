// `quire convert IN.pdf [-o OUT.md] [--assets DIR] [--format markdown|json|chunks] [--pages A-B] ...`
// One-shot conversion, no database. Without -o the Markdown (or the document JSON, or the chunks)
// goes to standard output and nothing else does; diagnostics go to stderr. IN may be `-` (standard input).
// Exit codes: 0 success, 1 conversion error (code printed), 2 usage error, 3 output could not be
// written.
//
// `quire convert A.pdf B.pdf DIR/ -o OUTDIR/`: several inputs, a directory, or an -o that is a
// directory convert every PDF into OUTDIR (batch_plan.hpp: naming, clashes; batch_convert.cpp:
// the worker pool, progress, exit codes).
#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <regex>

#include "app/commands.hpp"
#include "app/convert_cli.hpp"
#include "convert/convert.hpp"
#include "convert/serialize.hpp"

namespace quire::app {
namespace {

bool write_file(const std::filesystem::path& path, std::string_view bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  return static_cast<bool>(f.flush());
}

// --pages A or A-B (1-based, inclusive) into the spec's first_page/last_page; false when malformed.
bool parse_pages(convert_args& a) {
  if (a.pages.empty()) return true;
  std::smatch m;
  static const std::regex range(R"((\d{1,9})(?:-(\d{1,9}))?)");
  if (!std::regex_match(a.pages, m, range)) return false;
  auto& c = a.spec.conversion;
  c.first_page = std::stoi(m[1]);
  c.last_page = m[2].matched ? std::stoi(m[2]) : c.first_page;
  return true;  // out-of-range pages are the engine's invalid_argument (exit 1)
}

// The flag values of an option that takes one of these (the job spec's names for them).
template <class Range>
std::vector<std::string> names_of(const Range& values) {
  std::vector<std::string> out;
  for (auto v : values) {
    using api::to_string;
    using convert::to_string;
    out.emplace_back(to_string(v));
  }
  return out;
}
template <class E>
std::vector<std::string> names_of(std::initializer_list<E> values) {
  return names_of<std::initializer_list<E>>(values);
}

// The many-file form: more than one input, a directory, or an -o that is (or ends like) a directory.
bool wants_batch(const convert_args& a) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (a.inputs.size() > 1) return true;
  if (a.inputs[0] != "-" && fs::is_directory(a.inputs[0], ec)) return true;
  if (a.output.empty() || a.output == "-") return false;
  return a.output.back() == '/' || fs::is_directory(a.output, ec);
}

int run_convert(const convert_args& a) {
  const std::string& input = a.inputs.front();
  std::vector<char> bytes;
  if (input == "-") {
    bytes.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  } else {
    std::ifstream in(input, std::ios::binary);
    if (!in) {
      fmt::print(stderr, "quire convert: error: io_error: cannot open {}\n", input);
      return 1;
    }
    bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }

  std::string asset_prefix;
  if (a.spec.conversion.extract_images) {
    // Links in the Markdown are relative to the Markdown file when there is one.
    std::filesystem::path base = a.output.empty() ? std::filesystem::current_path()
                                                  : std::filesystem::absolute(a.output).parent_path();
    auto rel = std::filesystem::absolute(a.assets_dir).lexically_relative(base);
    asset_prefix = rel.empty() ? a.assets_dir + "/" : rel.generic_string() + "/";
  }
  const convert::options opts = api::to_convert_options(a.spec, a.budget, asset_prefix);

  convert::engine engine;
  auto res = engine.convert(std::as_bytes(std::span(bytes)), opts);
  if (!res) {
    fmt::print(stderr, "quire convert: error: {}: {}\n", convert::to_string(res.err().code), res.err().message);
    return 1;
  }
  for (const auto& p : res->pages)
    if (p.no_text_layer && !p.ocr_used)
      fmt::print(stderr, "quire convert: warning: page {} has no text layer (scanned image?)\n", p.number);
    else if (p.text_lost)
      fmt::print(stderr, "quire convert: warning: page {} has text that gave no output\n", p.number);

  if (opts.extract_images) {
    std::error_code ec;
    std::filesystem::create_directories(a.assets_dir, ec);
    for (const auto& asset : res->assets) {
      auto path = std::filesystem::path(a.assets_dir) / asset.name;
      if (!write_file(path, {reinterpret_cast<const char*>(asset.bytes.data()), asset.bytes.size()})) {
        fmt::print(stderr, "quire convert: error: io_error: cannot write {}\n", path.string());
        return 3;
      }
    }
  }
  std::string text = res->markdown;
  if (a.format == "json") text = convert::document_json(*res);
  if (a.format == "chunks") {
    const convert::chunk_options& co = a.spec.conversion.chunks;
    text = convert::chunks_json(convert::make_chunks(res->doc, co), co);
  }
  if (a.output.empty() || a.output == "-") {
    std::fwrite(text.data(), 1, text.size(), stdout);
    return std::fflush(stdout) == 0 ? 0 : 3;
  }
  if (!write_file(a.output, text)) {
    fmt::print(stderr, "quire convert: error: io_error: cannot write {}\n", a.output);
    return 3;
  }
  return 0;
}

}  // namespace

std::string output_extension(const std::string& format) {
  return format == "json" ? ".json" : format == "chunks" ? ".chunks.json" : ".md";
}

void add_convert_command(CLI::App& app) {
  auto args = std::make_shared<convert_args>();
  auto* cmd = app.add_subcommand(
      "convert",
      "Convert PDFs to Markdown (no database, no service).\n"
      "  quire convert IN.pdf [-o OUT.md]          one file (IN may be - for standard input;\n"
      "                                            without -o the result goes to standard output)\n"
      "  quire convert A.pdf B.pdf DIR/ -o OUTDIR/ many files, directories searched recursively;\n"
      "                                            OUTDIR mirrors their relative paths (NAME.md per PDF)");
  cmd->add_option("inputs", args->inputs, "PDF files, directories (searched for *.pdf), or - for standard input")
      ->required();
  cmd->add_option("-o,--output", args->output,
                  "One input: the file to write (default: standard output). Several inputs, a directory, or a "
                  "path ending in /: the output directory (created if missing)");
  cmd->add_option("--assets", args->assets_dir,
                  "Write embedded images into DIR and link them (many files: DIR/REL/NAME/ for each PDF)");
  cmd->add_option("--format", args->format,
                  "markdown (default); json: the document model (blocks in reading order with type, text, "
                  "Markdown, page, bounding box, heading path; docs/document.md) with the Markdown, per-page "
                  "stats, warnings and timings; chunks: heading-aware chunks for retrieval (--chunk-size)")
      ->check(CLI::IsMember({"markdown", "json", "chunks"}));
  cmd->add_flag("--json", args->json, "Same as --format json");
  cmd->add_flag("--page-markers", args->spec.conversion.page_markers,
                "Put <!-- page N --> before the first block of each page in the Markdown");
  cmd->add_option("--chunk-size", args->spec.conversion.chunks.limit,
                  "--format chunks: the most a chunk holds (default 2000); only a table, code block or paragraph "
                  "longer than that alone is split")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--chunk-unit", args->chunk_unit,
                  "Unit of --chunk-size: characters (default) or tokens (approximated as 4 characters each)")
      ->check(CLI::IsMember(names_of({convert::chunk_unit::characters, convert::chunk_unit::tokens})));
  cmd->add_option("--pages", args->pages,
                  "Convert only pages A-B (or the single page A); 1-based and inclusive: --pages 2-3 is the second and "
                  "third page");
  cmd->add_option("--ocr", args->ocr, "OCR for pages without text: auto, off, force")
      ->check(CLI::IsMember(names_of({convert::ocr_mode::automatic, convert::ocr_mode::off, convert::ocr_mode::force})));
  auto* langs = cmd->add_option("--ocr-languages", args->spec.conversion.ocr_languages,
                                "Tesseract languages for OCR joined by +, e.g. eng+deu (default eng); refused "
                                "when one is not installed");
  // cpu_only by default: a one-shot conversion should not probe GPUs unless asked to.
  cmd->add_option("--acceleration", args->acceleration,
                  "Page-raster analysis: cpu_only (default), gpu_prefer (CPU fallback with a warning), "
                  "gpu_required (fails with gpu_not_available without a working GPU)")
      ->check(CLI::IsMember(names_of(convert::acceleration_policies)));
  cmd->add_option("--timeout", args->budget.timeout_seconds, "Give up on a file after this many seconds (0 = no limit)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--page-timeout", args->budget.limits.page_seconds,
                  "Fail a file whose page takes longer than this many seconds (default 60, 0 = no limit)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--page-content-limit", args->budget.limits.page_content_bytes,
                  "Fail a file whose page's content streams inflate past this size (default 128MiB, 0 = no limit)")
      ->transform(CLI::AsSizeValue(false));
  cmd->add_option("--document-content-limit", args->budget.limits.document_content_bytes,
                  "The same, summed over the pages converted (default 2GiB, 0 = no limit)")
      ->transform(CLI::AsSizeValue(false));
  cmd->add_option("--page-operator-limit", args->budget.limits.page_operators,
                  "Fail a file whose page draws more than this many operations (default 2000000, 0 = no limit)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("-j,--jobs", args->jobs, "Many files: how many convert at once (default: one per CPU core)")
      ->check(CLI::PositiveNumber);
  cmd->add_flag("--skip-existing", args->skip_existing,
                "Many files: leave a PDF whose output already exists alone (default: replace the output)");
  cmd->callback([args, langs] {
    if (args->json) args->format = "json";
    // The flags onto the job spec (CLI11 has checked the names).
    auto& c = args->spec.conversion;
    if (!args->ocr.empty()) api::parse_ocr_mode(args->ocr, &c.ocr);
    if (!args->chunk_unit.empty()) api::parse_chunk_unit(args->chunk_unit, &c.chunks.unit);
    if (auto a = convert::parse_acceleration_policy(args->acceleration)) args->spec.execution.acceleration = *a;
    c.extract_images = !args->assets_dir.empty();
    if (args->format != "markdown") c.formats = {"markdown", args->format};  // both "json" and "chunks" follow "markdown" in the table
    if (!parse_pages(*args)) {
      fmt::print(stderr, "quire convert: error: invalid_argument: --pages wants A or A-B, got '{}'\n",
                 args->pages);
      throw CLI::RuntimeError(2);
    }
    if (langs->count() > 0) {
      std::vector<std::string> missing;
      if (auto problem = convert::check_ocr_languages(c.ocr_languages, &missing); !problem.empty()) {
        std::string installed;
        for (const auto& l : convert::installed_ocr_languages()) installed += (installed.empty() ? "" : ", ") + l;
        fmt::print(stderr, "quire convert: error: ocr_language_unavailable: {}\n  installed: {}\n", problem,
                   installed.empty() ? "none" : installed);
        throw CLI::RuntimeError(2);
      }
    }
    int rc = wants_batch(*args) ? run_batch(*args) : run_convert(*args);
    if (rc != 0) throw CLI::RuntimeError(rc);
  });
}

}  // namespace quire::app
