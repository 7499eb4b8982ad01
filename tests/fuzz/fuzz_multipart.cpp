// libFuzzer entry point over the upload parsers of POST /v1/convert/jobs (http/multipart.hpp) and
// the display name kept from a part's filename (http::safe_filename). Built as `fuzz_multipart`
// (clang, -fsanitize=fuzzer) and, with replay_main.cpp, as `fuzz_multipart_replay`, which ctest
// runs over seeds/multipart/ (tests/fuzz/CMakeLists.txt).
//
// Input: the Content-Type header's value, a newline, then the body. Besides "no crash, no
// sanitizer report", each input checks the contract: a boundary is 1 to 70 characters, every part
// lies inside the body, and a display name is valid UTF-8 without control or bidi characters, path
// separators or dot names, at most 255 bytes.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "http/multipart.hpp"
#include "utf8/utf8.hpp"

namespace {

[[noreturn]] void contract_broken(const char* what, std::string_view detail) {
  std::fprintf(stderr, "fuzz_multipart: contract broken: %s: %.*s\n", what, static_cast<int>(detail.size()),
               detail.data());
  std::abort();
}

void check_display_name(const std::string& name) {
  if (name.size() > 255) contract_broken("display name over 255 bytes", name);
  if (name == "." || name == "..") contract_broken("dot name", name);
  if (name.find_first_of("/\\") != std::string::npos) contract_broken("path separator in display name", name);
  for (std::size_t i = 0; i < name.size();) {
    const auto d = quire::utf8::decode(name, i);
    if (!d.valid) contract_broken("display name is not UTF-8", name);
    const char32_t c = d.cp;
    if (c < 0x20 || (c >= 0x7F && c <= 0x9F)) contract_broken("control character in display name", name);
    if (c == 0x061C || c == 0x200E || c == 0x200F || (c >= 0x202A && c <= 0x202E) || (c >= 0x2066 && c <= 0x2069))
      contract_broken("bidi control in display name", name);
    i += d.len;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const auto eol = input.find('\n');
  const auto content_type = input.substr(0, eol);
  const auto body = eol == std::string_view::npos ? std::string_view() : input.substr(eol + 1);

  const auto boundary = quire::http::form_boundary(content_type);
  if (boundary && (boundary->empty() || boundary->size() > 70)) contract_broken("boundary length", *boundary);
  // Without a usable header the parser still gets the body, split at a fixed boundary.
  const auto parts = quire::http::parse_form(body, boundary.value_or("b"));
  if (!parts) return 0;
  for (const auto& p : *parts) {
    if (p.body.data() < body.data() || p.body.data() + p.body.size() > body.data() + body.size())
      contract_broken("a part outside the body", p.name);
    check_display_name(quire::http::safe_filename(p.filename));
  }
  return 0;
}
