// quire::convert::raster — a page rendered to an 8-bit grayscale image, for OCR and raster
// analysis, plus the few measurements OCR needs on it (ink threshold, stroke width).
// Not part of the public API (see convert.hpp).
#pragma once

#include <vector>

#include "convert/convert.hpp"

extern "C" {
struct fz_context;
struct fz_page;
}

namespace quire::convert::raster {

// Row-major 8-bit gray (0 = black), `width` bytes per row, and the transform back to PDF points:
// point = origin + pixel / scale.
struct image {
  std::vector<unsigned char> pixels;
  int width = 0, height = 0;
  float scale = 1;            // pixels per point
  float x0 = 0, y0 = 0;       // page origin in points
  unsigned char ink = 128;    // gray levels below this are ink (set by render, Otsu's method)
  // Gray levels below this are faint marks: table rules in scans are often thin and come out
  // light gray, far above the ink threshold of the text (set by render from the paper level).
  unsigned char faint = 200;

  unsigned char at(int x, int y) const { return pixels[static_cast<size_t>(y) * width + x]; }
};

// Renders `page` at `dpi`, lowered as needed so the raster holds at most `max_pixels` pixels (huge
// pages must not exhaust memory). Fails with errc::pdf_unreadable when MuPDF cannot measure or
// draw the page, or the page has no area.
result<image> render(fz_context* ctx, fz_page* page, int dpi, long max_pixels);

// Skew of the text lines in degrees: lines run along y = y0 + x·tan(skew) (y down, so a positive
// skew falls to the right). Found by the projection profile: the angle at which ink piles up into
// the sharpest rows. 0 when the page shows no clear line structure. Searches ±max_degrees.
float estimate_skew(const image& img, float max_degrees = 5);

// Rotates the content so that lines with the given skew become horizontal (about the centre,
// bilinear, paper brought in at the corners). Size and transform to points are unchanged: a
// scanned page's text is then laid out as it was printed.
void deskew(image& img, float skew_degrees);

// Otsu's threshold over the whole image: separates ink from paper whatever the scan's contrast.
unsigned char otsu_threshold(const image& img);

// The faint-mark threshold: a quarter of the way from the paper's gray (the median pixel) to ink.
unsigned char faint_threshold(const image& img);

// Mean horizontal run length of ink inside the pixel box [x0,x1)×[y0,y1): an estimate of the
// stroke width, which tells bold type from regular at the same size. 0 when the box has no ink.
float stroke_width(const image& img, int x0, int y0, int x1, int y1);

struct box {
  int x0 = 0, y0 = 0, x1 = 0, y1 = 0;  // pixels, exclusive right/bottom
};

// Looks for a list bullet drawn left of a text line: inside `region`, exactly one compact,
// roughly square blob of ink about a third to a full x-height across (`x_height` in pixels),
// sitting at mid x-height above `baseline` — solid (a dot or square), or a small ring (the
// second-level "◦"; `hollow` says which). OCR engines drop such marks or read them as 'o', 'e' or
// '@', yet they are what makes the line a list item. Returns the blob's box, or an empty box
// (x1 == x0).
box find_bullet(const image& img, box region, float x_height, float baseline, bool* hollow = nullptr);

// Shrinks a word box that swallowed part of a table rule: edge rows (columns) that are mostly ink
// and whose ink runs on outside the box are rules, not letters, and are cut off together with the
// blank rows they leave. Letters never continue past their word's box; rules do.
void trim_rules(const image& img, box& b);

// Whether a vertical rule crosses the pixel rows [y0,y1) somewhere in the columns [x0,x1): a
// column (give or take one pixel, for skew) that is ink on nearly every row. Used between two
// words of a line, where it means a table rule separates two cells.
bool vertical_rule(const image& img, int x0, int x1, int y0, int y1);

}  // namespace quire::convert::raster
