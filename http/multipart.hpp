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

// The client's filename as it is stored and echoed (display only, never used as a path): the last
// path component (after any '/' or '\\'), invalid UTF-8 and control characters (NUL included)
// replaced by U+FFFD, bidi controls (U+061C, U+200E/F, U+202A-E, U+2066-9) removed, at most 255
// bytes; "" when nothing usable is left ("", ".", "..").
std::string safe_filename(std::string_view raw);

}  // namespace quire::http
