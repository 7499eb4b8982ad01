// Synthetic page rasters with known content, for the device self-test, the tests and the benchmark.
// Deterministic for a given spec (own PRNG, no std distributions whose output varies by library).
#pragma once

#include "gpu/page_analysis.hpp"

#include <cstdint>
#include <vector>

namespace quire::gpu {

struct gray_image {
  int width = 0, height = 0, stride = 0;
  std::vector<std::uint8_t> pixels;  // stride*height, 255 = white
  gray_image() = default;
  gray_image(int w, int h, std::uint8_t fill = 255, int pad = 0)
      : width(w), height(h), stride(w + pad), pixels(std::size_t(w + pad) * h, fill) {}
  raster_view raster() const { return raster_view{pixels.data(), width, height, stride}; }
  std::uint8_t& at(int x, int y) { return pixels[std::size_t(y) * stride + x]; }
  void fill(const pixel_box& b, std::uint8_t v);  // clipped to the image
};

// splitmix64: tiny, fast, and the same everywhere.
struct splitmix64 {
  std::uint64_t s;
  explicit splitmix64(std::uint64_t seed) : s(seed) {}
  std::uint64_t next() {
    std::uint64_t z = (s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  int below(int n) { return int(next() % std::uint64_t(n)); }  // 0..n-1
};

// Draws one pseudo-glyph (a few strokes, one connected component) of the given box; returns its box.
pixel_box draw_glyph(gray_image& img, int x, int y, int w, int h, splitmix64& rng, std::uint8_t ink = 0);

// Lines of glyphs filling `area` (glyph height gh, line pitch pitch); returns the glyph count.
int draw_text(gray_image& img, const pixel_box& area, int gh, int pitch, splitmix64& rng, std::uint8_t ink = 0);

// A photo-like area: smooth gradient plus grain, binarising into irregular blobs.
void draw_photo(gray_image& img, const pixel_box& area, splitmix64& rng);

// Salt-and-pepper noise: `count` isolated dark pixels (value `ink`) at random places.
void add_specks(gray_image& img, int count, splitmix64& rng, std::uint8_t ink = 40);

struct synthetic_spec {
  int dpi = 150;
  int width = 1275, height = 1650;  // US Letter at 150 dpi
  std::uint64_t seed = 1;
  bool text = true;     // two columns of paragraphs
  bool table = true;    // a ruled grid with text in the cells
  bool figure = true;   // a photo-like figure
  bool full_page_photo = false;  // the whole page is a picture (a scan of a photo)
  int specks = 0;       // scan dust
  int grain = 0;        // +-grain grey-level noise on every pixel (scanner noise)
};

// A page of the kinds the converter meets: text, tables drawn only as pixels, figures, scans.
gray_image make_synthetic_page(const synthetic_spec& spec);

}  // namespace quire::gpu
