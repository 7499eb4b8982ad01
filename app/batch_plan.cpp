// Planning a multi-file conversion; see batch_plan.hpp for the rules.
#include "app/batch_plan.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <map>
#include <set>

namespace quire::app {
namespace fs = std::filesystem;

namespace {

bool is_pdf_name(const fs::path& p) {
  std::string ext = p.extension().string();
  for (auto& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return ext == ".pdf";
}

// The key that says two inputs are one file: its canonical path (symlinks and ".." resolved).
std::string identity(const fs::path& p) {
  std::error_code ec;
  auto c = fs::weakly_canonical(p, ec);
  return ec ? fs::absolute(p, ec).lexically_normal().string() : c.string();
}

}  // namespace

batch_plan plan_batch(const std::vector<std::string>& inputs, const fs::path& out_dir, const std::string& extension,
                      const fs::path& assets_root) {
  batch_plan plan;
  std::set<std::string> seen;
  auto add = [&](const fs::path& input, const fs::path& rel_dir) {
    if (!seen.insert(identity(input)).second) return;
    const fs::path name = input.stem();
    batch_item item{input, (out_dir / rel_dir / name).concat(extension), {}};
    if (!assets_root.empty()) item.assets = assets_root / rel_dir / name;
    item.output = item.output.lexically_normal();
    plan.items.push_back(std::move(item));
  };
  for (const auto& text : inputs) {
    const fs::path in(text);
    std::error_code ec;
    if (fs::is_directory(in, ec)) {
      std::vector<fs::path> found;
      const auto opts = fs::directory_options::skip_permission_denied;
      for (auto it = fs::recursive_directory_iterator(in, opts, ec); !ec && it != fs::recursive_directory_iterator();
           it.increment(ec)) {
        std::error_code type_ec;
        if (is_pdf_name(it->path()) && it->is_regular_file(type_ec)) found.push_back(it->path());
      }
      if (ec) {
        plan.problems.push_back({text, "input_unreadable", "cannot list " + text + ": " + ec.message()});
        continue;
      }
      if (found.empty()) {
        plan.problems.push_back({text, "no_pdf_found", "no *.pdf file in " + text});
        continue;
      }
      std::sort(found.begin(), found.end());
      for (const auto& f : found) add(f, f.parent_path().lexically_relative(in));
    } else if (fs::is_regular_file(in, ec)) {
      add(in, {});
    } else {
      plan.problems.push_back({text, "input_missing", "cannot open " + text});
    }
  }

  // Outputs claimed by more than one PDF: none of those PDFs is converted.
  std::map<std::string, std::vector<std::size_t>> by_output;
  for (std::size_t i = 0; i < plan.items.size(); ++i) by_output[plan.items[i].output.string()].push_back(i);
  std::vector<bool> clashing(plan.items.size(), false);
  for (const auto& [output, users] : by_output) {
    if (users.size() < 2) continue;
    std::string names;
    for (std::size_t i : users) names += (names.empty() ? "" : ", ") + plan.items[i].input.string();
    for (std::size_t i : users) {
      clashing[i] = true;
      plan.problems.push_back({plan.items[i].input.string(), "output_clash",
                               fmt::format("{} would all be written to {}; convert them in separate runs", names, output)});
    }
  }
  std::vector<batch_item> kept;
  for (std::size_t i = 0; i < plan.items.size(); ++i)
    if (!clashing[i]) kept.push_back(std::move(plan.items[i]));
  plan.items = std::move(kept);
  return plan;
}

std::string asset_link_prefix(const batch_item& item) {
  const fs::path md_dir = fs::absolute(item.output).parent_path();
  const fs::path rel = fs::absolute(item.assets).lexically_normal().lexically_relative(md_dir.lexically_normal());
  return (rel.empty() ? item.assets.generic_string() : rel.generic_string()) + "/";
}

std::string format_duration(std::chrono::duration<double> d) {
  const long s = std::lround(std::max(0.0, d.count()));
  if (s >= 3600) return fmt::format("{}h{:02}m", s / 3600, (s % 3600) / 60);
  if (s >= 60) return fmt::format("{}m{:02}s", s / 60, s % 60);
  return fmt::format("{}s", s);
}

std::string progress_line(const batch_progress& p) {
  std::string line = fmt::format("[{}/{} files", p.files_done, p.files_total);
  if (p.failed > 0) line += fmt::format(", {} failed", p.failed);
  line += fmt::format("] {} pages", p.pages);
  const double secs = p.elapsed.count();
  if (secs > 0) line += fmt::format(", {:.1f} pages/s", static_cast<double>(p.pages) / secs);
  if (p.files_done > 0 && p.files_done < p.files_total) {
    const double per_file = secs / p.files_done;
    line += ", ETA " + format_duration(std::chrono::duration<double>(per_file * (p.files_total - p.files_done)));
  }
  line += ", " + format_duration(p.elapsed) + " elapsed";
  return line;
}

}  // namespace quire::app
