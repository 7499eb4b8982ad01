// quire::http — the result bundle of GET /v1/convert/jobs/{id}/result/bundle: one zip archive with
// a job's result files (result.md, document.json, chunks.json, result.txt when the job has them)
// and its extracted images under assets/, so the Markdown's image links (`![](assets/NAME)`)
// resolve inside the archive. Built in memory with libzip; the caller bounds the input
// (QUIRE_MAX_BUNDLE_BYTES), and the archive is at most a little larger than what it holds.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "actors/service.hpp"

namespace quire::http {

struct zip_entry {
  std::string name;        // path inside the archive ("result.md", "assets/img-p1-1.png")
  std::string_view bytes;  // must stay valid until make_zip returns
  bool compress = true;    // deflate; false: stored (images are compressed already)
};

// The archive's bytes, or 500 internal_error with libzip's reason.
actors::api_result<std::string> make_zip(const std::vector<zip_entry>& entries);

struct embedded_image {
  std::string name;        // the asset's file name (img-p1-1.png)
  std::string media_type;  // image/png …
  std::string_view bytes;
};

// The Markdown with every image link to `prefix` + an image's name (`](assets/img-p1-1.png)`)
// replaced by a data URI of its bytes (`](data:image/png;base64,…)`); other text unchanged.
std::string embed_images(std::string_view markdown, const std::vector<embedded_image>& images,
                         std::string_view prefix = "assets/");

}  // namespace quire::http
