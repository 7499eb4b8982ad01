// The client's filename as a display name; see multipart.hpp.
#include "http/multipart.hpp"
#include "utf8/utf8.hpp"

namespace quire::http {
namespace {

// Bidi controls reorder what follows on screen: "\u202Efdp.exe" displays as "exe.pdf".
bool is_bidi_control(char32_t c) {
  return c == 0x061C || c == 0x200E || c == 0x200F || (c >= 0x202A && c <= 0x202E) || (c >= 0x2066 && c <= 0x2069);
}


}  // namespace

std::string safe_filename(std::string_view raw) {
  // RFC 7578 4.2: a path in the filename is the client's business, not ours.
  if (auto cut = raw.find_last_of("/\\"); cut != std::string_view::npos) raw.remove_prefix(cut + 1);
  static constexpr std::string_view kReplacementBytes = "\xEF\xBF\xBD";
  std::string out;
  for (std::size_t i = 0; i < raw.size();) {
    auto d = utf8::decode(raw, i);
    // Controls (C0, DEL, C1) are not text either: each of their bytes becomes U+FFFD, like a
    // malformed byte. A bidi control is dropped, not replaced: nothing is there to show.
    if (d.valid && (d.cp < 0x20 || (d.cp >= 0x7F && d.cp <= 0x9F))) d = {utf8::kReplacement, 1, false};
    const auto one = d.valid ? raw.substr(i, d.len) : kReplacementBytes;
    i += d.len;
    if (d.valid && is_bidi_control(d.cp)) continue;
    if (out.size() + one.size() > 255) break;  // cut on a character boundary
    out += one;
  }
  if (out == "." || out == "..") return {};
  return out;
}

}  // namespace quire::http
