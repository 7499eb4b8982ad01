// quire::http — a small multipart/form-data parser for uploads (RFC 7578).
//
// The body is already buffered (bounded by QUIRE_MAX_UPLOAD_BYTES), so parts are returned as views
// into it: no copies of the PDF bytes.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace quire::http {

struct form_part {
  std::string name;          // Content-Disposition name
  std::string filename;      // Content-Disposition filename ("" when absent)
  std::string content_type;  // "" when absent
  std::string_view body;
};

// The boundary parameter of a multipart/form-data Content-Type, or nullopt when it is not one.
std::optional<std::string> form_boundary(std::string_view content_type);

// Splits the body; nullopt when it is malformed (no closing delimiter, part without headers end,
// a part's headers longer than 16 KiB).
std::optional<std::vector<form_part>> parse_form(std::string_view body, const std::string& boundary);

}  // namespace quire::http
