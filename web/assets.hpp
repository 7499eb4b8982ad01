// quire::web — the web page's files, embedded into the binary at build time (web/CMakeLists.txt,
// listed in web/assets.txt). The http module serves them; nothing is read from disk at run time.
#pragma once

#include <string_view>
#include <vector>

namespace quire::web {

struct asset {
  std::string_view url;           // "/", "/docs", "/ui/app.js"
  std::string_view content_type;  // with charset for text
  std::string_view bytes;
  std::string_view etag;          // quoted, from the file's sha256
};

const std::vector<asset>& assets();

// The asset served at `url`, or nullptr.
const asset* find_asset(std::string_view url);

}  // namespace quire::web
