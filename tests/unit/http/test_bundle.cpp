// The result bundle's pieces (http/bundle.hpp): the zip reads back with libzip as what went in,
// text deflated and images stored; images become data URIs only where the Markdown links them.
#include <catch2/catch.hpp>

#include <zip.h>

#include <map>

#include "http/bundle.hpp"

using namespace quire::http;

namespace {

struct read_entry {
  std::string bytes;
  zip_uint16_t method = 0;
};

// Every entry of the archive, by name, as libzip reads it back.
std::map<std::string, read_entry> unzip(const std::string& archive) {
  zip_error_t err;
  zip_error_init(&err);
  zip_source_t* src = zip_source_buffer_create(archive.data(), archive.size(), 0, &err);
  REQUIRE(src != nullptr);
  zip_t* z = zip_open_from_source(src, ZIP_RDONLY | ZIP_CHECKCONS, &err);
  REQUIRE(z != nullptr);
  std::map<std::string, read_entry> out;
  for (zip_int64_t i = 0; i < zip_get_num_entries(z, 0); ++i) {
    zip_stat_t st;
    REQUIRE(zip_stat_index(z, static_cast<zip_uint64_t>(i), 0, &st) == 0);
    zip_file_t* f = zip_fopen_index(z, static_cast<zip_uint64_t>(i), 0);
    REQUIRE(f != nullptr);
    std::string bytes(st.size, '\0');
    CHECK(zip_fread(f, bytes.data(), st.size) == static_cast<zip_int64_t>(st.size));
    zip_fclose(f);
    out[st.name] = {bytes, st.comp_method};
  }
  zip_close(z);
  zip_error_fini(&err);
  return out;
}

}  // namespace

TEST_CASE("make_zip: the entries read back byte for byte, text deflated, images stored") {
  const std::string md = "# Title\n\n![](assets/img-p1-1.png)\n" + std::string(5000, 'a') + "\n";
  std::string png = "\x89PNG\r\n";
  for (int i = 0; i < 3000; ++i) png += static_cast<char>(i * 7919 % 251);
  auto z = make_zip({{"result.md", md, true}, {"document.json", "{}", true}, {"assets/img-p1-1.png", png, false},
                     {"empty.txt", "", true}});
  INFO((z ? std::string() : z.err().message));
  REQUIRE(z);
  const auto entries = unzip(*z);
  REQUIRE(entries.size() == 4);
  CHECK(entries.at("result.md").bytes == md);
  CHECK(entries.at("result.md").method == ZIP_CM_DEFLATE);
  CHECK(entries.at("document.json").bytes == "{}");
  CHECK(entries.at("assets/img-p1-1.png").bytes == png);
  CHECK(entries.at("assets/img-p1-1.png").method == ZIP_CM_STORE);
  CHECK(entries.at("empty.txt").bytes.empty());
  CHECK(z->size() < md.size() + png.size());  // the repeated text compressed
}

TEST_CASE("embed_images: linked images become data URIs, other links and text stay") {
  const std::string png = "\x89PNG";  // base64: iVBORw==
  const std::string md =
      "# T\n\n![](assets/img-p1-1.png)\n\nsee ![x](assets/img-p2-1.jpg) and [a](assets/other.png) and "
      "](assets/img-p1-1.png)\n";
  const auto out = embed_images(md, {{"img-p1-1.png", "image/png", png}, {"img-p2-1.jpg", "image/jpeg", "abc"}});
  CHECK(out ==
        "# T\n\n![](data:image/png;base64,iVBORw==)\n\nsee ![x](data:image/jpeg;base64,YWJj) and "
        "[a](assets/other.png) and ](data:image/png;base64,iVBORw==)\n");
  CHECK(embed_images(md, {}) == md);
  CHECK(embed_images("no links", {{"a.png", "image/png", "x"}}) == "no links");
  CHECK(embed_images("broken ](assets/a.png", {{"a.png", "image/png", "x"}}) == "broken ](assets/a.png");
}
