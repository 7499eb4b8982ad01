// multipart/form-data parsing; see multipart.hpp.
#include "http/multipart.hpp"

#include <algorithm>
#include <cctype>

namespace quire::http {
namespace {

constexpr std::size_t kMaxPartHeaderBytes = 16 * 1024;

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

// Value of `key` in a header's ";"-separated parameters (quoted or token).
std::optional<std::string> param(std::string_view header, std::string_view key) {
  std::size_t pos = 0;
  while ((pos = header.find(';', pos)) != std::string_view::npos) {
    ++pos;
    auto rest = trim(header.substr(pos));
    auto eq = rest.find('=');
    if (eq == std::string_view::npos) continue;
    if (lower(trim(rest.substr(0, eq))) != key) continue;
    auto v = rest.substr(eq + 1);
    if (!v.empty() && v.front() == '"') {
      std::string out;
      for (std::size_t i = 1; i < v.size(); ++i) {
        // A backslash escapes only '"' and '\\' (RFC 7230 quoted-pair). Browsers send Windows paths
        // unescaped (`C:\temp\..\evil.pdf`), and dropping those backslashes would glue the path
        // into one name (`C:temp..evil.pdf`) that the last-component rule can no longer cut.
        if (v[i] == '\\' && i + 1 < v.size() && (v[i + 1] == '"' || v[i + 1] == '\\')) out += v[++i];
        else if (v[i] == '"') return out;
        else out += v[i];
      }
      return std::nullopt;  // unterminated quote
    }
    auto end = v.find(';');
    return std::string(trim(v.substr(0, end)));
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::string> form_boundary(std::string_view content_type) {
  auto semi = content_type.find(';');
  if (lower(trim(content_type.substr(0, semi))) != "multipart/form-data") return std::nullopt;
  auto b = param(content_type, "boundary");
  if (!b || b->empty() || b->size() > 70) return std::nullopt;
  return b;
}

std::optional<std::vector<form_part>> parse_form(std::string_view body, const std::string& boundary) {
  const std::string delim = "--" + boundary;
  std::vector<form_part> parts;
  auto pos = body.find(delim);
  if (pos == std::string_view::npos) return std::nullopt;
  pos += delim.size();
  for (;;) {
    if (body.substr(pos, 2) == "--") return parts;  // closing delimiter
    if (body.substr(pos, 2) != "\r\n") return std::nullopt;
    pos += 2;
    auto headers_end = body.find("\r\n\r\n", pos);
    // Part headers are a line or two; bound them like the HTTP parser bounds request headers.
    if (headers_end == std::string_view::npos || headers_end - pos > kMaxPartHeaderBytes) return std::nullopt;
    form_part part;
    auto headers = body.substr(pos, headers_end - pos);
    std::size_t line_start = 0;
    while (line_start <= headers.size()) {
      auto eol = headers.find("\r\n", line_start);
      auto line = headers.substr(line_start, eol == std::string_view::npos ? std::string_view::npos : eol - line_start);
      auto colon = line.find(':');
      if (colon != std::string_view::npos) {
        auto name = lower(trim(line.substr(0, colon)));
        auto value = trim(line.substr(colon + 1));
        if (name == "content-disposition") {
          part.name = param(value, "name").value_or("");
          part.filename = param(value, "filename").value_or("");
        } else if (name == "content-type") {
          part.content_type = lower(value);
        }
      }
      if (eol == std::string_view::npos) break;
      line_start = eol + 2;
    }
    auto data_start = headers_end + 4;
    auto next = body.find("\r\n" + delim, data_start);
    if (next == std::string_view::npos) return std::nullopt;
    part.body = body.substr(data_start, next - data_start);
    parts.push_back(std::move(part));
    pos = next + 2 + delim.size();
  }
}

}  // namespace quire::http
