// quire::api — the result formats a job may ask for (`conversion.formats` of its job spec) and
// the artifact each one is stored as in the job's directory. The names are part of the contract:
// the job spec, the worker (which writes the files), publishing, the result routes and retention
// all use this one table. Markdown is always produced.
#pragma once

#include <algorithm>
#include <array>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace quire::api {

struct result_format {
  std::string_view name;        // as in conversion.formats and GET …/result/{format}
  std::string_view file;        // the artifact in the job directory
  std::string_view media_type;  // served as
  std::string_view extension;   // of a download's file name
};

// In canonical order: a job's formats are listed (and stored in its spec) in this order.
inline constexpr std::array<result_format, 4> result_formats{{
    {"markdown", "result.md", "text/markdown; charset=utf-8", ".md"},
    {"json", "document.json", "application/json", ".json"},
    {"chunks", "chunks.json", "application/json", ".chunks.json"},
    {"text", "result.txt", "text/plain; charset=utf-8", ".txt"},
}};

inline const result_format* find_result_format(std::string_view name) {
  for (const auto& f : result_formats)
    if (f.name == name) return &f;
  return nullptr;
}

// The formats a (validated) job spec asks for, in canonical order: "markdown" first, then those of
// conversion.formats. A spec without the key (every job before formats existed) asks for Markdown only.
inline std::vector<std::string> formats_of(const nlohmann::json& spec) {
  std::vector<std::string> out{"markdown"};
  if (!spec.is_object() || !spec.contains("conversion") || !spec["conversion"].is_object()) return out;
  const auto& asked = spec["conversion"].value("formats", nlohmann::json::array());
  if (!asked.is_array()) return out;
  for (const auto& f : result_formats)
    if (f.name != "markdown" && std::find(asked.begin(), asked.end(), std::string(f.name)) != asked.end())
      out.emplace_back(f.name);
  return out;
}

}  // namespace quire::api
