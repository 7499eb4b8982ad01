// `quire convert IN.pdf [-o OUT.md] [--assets DIR] [--json] [--pages A-B] [--acceleration POLICY]`
// One-shot conversion, no database. Without -o the Markdown (or the JSON with --json) goes to
// standard output and nothing else does; diagnostics go to stderr. Exit codes: 0 success,
// 1 conversion error (code printed), 2 usage error, 3 output could not be written.
#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <regex>

#include "app/commands.hpp"
#include "convert/convert.hpp"

namespace quire::app {
namespace {

struct convert_args {
  std::string input;
  std::string output;
  std::string assets_dir;
  std::string pages;
  std::string ocr = "auto";
  std::string acceleration = "cpu_only";
  double timeout = 0;
  bool json = false;
};

bool write_file(const std::filesystem::path& path, std::string_view bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  return static_cast<bool>(f.flush());
}

nlohmann::json to_json(const convert::conversion& c) {
  nlohmann::json pages = nlohmann::json::array();
  for (const auto& p : c.pages)
    pages.push_back({{"page", p.number}, {"chars", p.chars}, {"blocks", p.blocks},
                     {"no_text_layer", p.no_text_layer}, {"ocr_used", p.ocr_used},
                     {"milliseconds", p.milliseconds}, {"page_kind", p.page_kind}});
  nlohmann::json assets = nlohmann::json::array();
  for (const auto& a : c.assets)
    assets.push_back({{"name", a.name}, {"media_type", a.media_type}, {"bytes", a.bytes.size()}});
  return {{"markdown", c.markdown}, {"page_count", c.page_count}, {"pages", pages},
          {"warnings", c.warnings}, {"assets", assets}, {"milliseconds", c.milliseconds},
          {"acceleration_used", c.acceleration_used}};
}

int run_convert(const convert_args& a) {
  std::ifstream in(a.input, std::ios::binary);
  if (!in) {
    fmt::print(stderr, "quire convert: error: io_error: cannot open {}\n", a.input);
    return 1;
  }
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());

  convert::options opts;
  if (!a.pages.empty()) {
    std::smatch m;
    static const std::regex range(R"((\d+)(?:-(\d+))?)");
    if (!std::regex_match(a.pages, m, range)) {
      fmt::print(stderr, "quire convert: error: invalid_argument: --pages wants A or A-B, got '{}'\n", a.pages);
      return 2;
    }
    opts.first_page = std::stoi(m[1]);
    opts.last_page = m[2].matched ? std::stoi(m[2]) : opts.first_page;
  }
  opts.ocr = a.ocr == "off" ? convert::ocr_mode::off
             : a.ocr == "force" ? convert::ocr_mode::force
                                : convert::ocr_mode::automatic;
  opts.timeout_seconds = a.timeout;
  convert::parse_acceleration_policy(a.acceleration, &opts.acceleration);  // checked by CLI11
  opts.extract_images = !a.assets_dir.empty();
  if (opts.extract_images) {
    // Links in the Markdown are relative to the Markdown file when there is one.
    std::filesystem::path base = a.output.empty() ? std::filesystem::current_path()
                                                  : std::filesystem::absolute(a.output).parent_path();
    auto rel = std::filesystem::absolute(a.assets_dir).lexically_relative(base);
    opts.asset_prefix = rel.empty() ? a.assets_dir + "/" : rel.generic_string() + "/";
  }

  convert::engine engine;
  auto res = engine.convert(std::as_bytes(std::span(bytes)), opts);
  if (!res) {
    fmt::print(stderr, "quire convert: error: {}: {}\n", convert::to_string(res.err().code), res.err().message);
    return 1;
  }
  for (const auto& p : res->pages)
    if (p.no_text_layer && !p.ocr_used)
      fmt::print(stderr, "quire convert: warning: page {} has no text layer (scanned image?)\n", p.number);

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
  std::string text = a.json ? to_json(*res).dump(2) + "\n" : res->markdown;
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

void add_convert_command(CLI::App& app) {
  auto args = std::make_shared<convert_args>();
  auto* cmd = app.add_subcommand("convert", "Convert one PDF to Markdown (no database, no service)");
  cmd->add_option("input", args->input, "PDF file to convert")->required();
  cmd->add_option("-o,--output", args->output, "Markdown file to write (default: standard output)");
  cmd->add_option("--assets", args->assets_dir, "Write embedded images into DIR and link them");
  cmd->add_flag("--json", args->json, "Emit a JSON result (markdown, per-page stats, warnings, timings)");
  cmd->add_option("--pages", args->pages, "Page range A-B (1-based, inclusive)");
  cmd->add_option("--ocr", args->ocr, "OCR for pages without text: auto, off, force")
      ->check(CLI::IsMember({"auto", "off", "force"}));
  // cpu_only by default: a one-shot conversion should not probe GPUs unless asked to.
  cmd->add_option("--acceleration", args->acceleration,
                  "Page-raster analysis: cpu_only (default), gpu_prefer (CPU fallback with a warning), "
                  "gpu_required (fails with gpu_not_available without a working GPU)")
      ->check(CLI::IsMember({"cpu_only", "gpu_prefer", "gpu_required"}));
  cmd->add_option("--timeout", args->timeout, "Give up after this many seconds (0 = no limit)");
  cmd->callback([args] {
    int rc = run_convert(*args);
    if (rc != 0) throw CLI::RuntimeError(rc);
  });
}

}  // namespace quire::app
