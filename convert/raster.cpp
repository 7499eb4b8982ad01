// Page rendering for OCR and the raster measurements it needs. MuPDF reports errors with
// setjmp/longjmp: the fz_try blocks hold only C data, and the samples are copied into the
// std::vector after the block.
#include "convert/detail/raster.hpp"
#include "convert/detail/work_budget.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <utility>
#include <vector>

extern "C" {
#include <mupdf/fitz.h>
}

namespace quire::convert::raster {

namespace {

// The two MuPDF calls, each in its own function so that no C++ local of render() lives across a
// setjmp (fz_try), which the compiler rightly warns could be clobbered.
bool page_bounds(fz_context* ctx, fz_page* page, fz_rect& out) {
  int failed = 0;
  fz_try(ctx) { out = fz_bound_page(ctx, page); }
  fz_catch(ctx) { failed = 1; }
  return !failed;
}

// fz_new_pixmap_from_page, with the page's work-budget cookie (work_budget.hpp) passed to MuPDF.
fz_pixmap* render_gray(fz_context* ctx, fz_page* page, float scale) {
  fz_pixmap* pix = nullptr;
  fz_device* dev = nullptr;
  int failed = 0;
  fz_var(pix);
  fz_var(dev);
  fz_var(failed);
  fz_try(ctx) {
    const fz_matrix ctm = fz_scale(scale, scale);
    const fz_irect bbox = fz_round_rect(fz_transform_rect(fz_bound_page(ctx, page), ctm));
    pix = fz_new_pixmap_with_bbox(ctx, fz_device_gray(ctx), bbox, nullptr, 0);
    fz_clear_pixmap_with_value(ctx, pix, 0xFF);
    dev = fz_new_draw_device(ctx, ctm, pix);
    fz_run_page(ctx, page, dev, fz_identity, work_budget::active_cookie());
    fz_close_device(ctx, dev);
  }
  fz_always(ctx) { fz_drop_device(ctx, dev); }
  fz_catch(ctx) { failed = 1; }
  if (failed) {
    fz_drop_pixmap(ctx, pix);
    pix = nullptr;
  }
  return pix;
}

// Pixel counts per gray level. Four interleaved tables: a page is mostly paper, and counting every
// pixel into one bucket would make each increment wait for the one before.
std::array<long, 256> gray_histogram(const image& img) {
  std::array<std::array<long, 256>, 4> part{};
  const std::size_t n = img.pixels.size();
  const unsigned char* p = img.pixels.data();
  std::size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    ++part[0][p[i]];
    ++part[1][p[i + 1]];
    ++part[2][p[i + 2]];
    ++part[3][p[i + 3]];
  }
  for (; i < n; ++i) ++part[0][p[i]];
  std::array<long, 256> hist{};
  for (int g = 0; g < 256; ++g) hist[g] = part[0][g] + part[1][g] + part[2][g] + part[3][g];
  return hist;
}

unsigned char otsu_from(const std::array<long, 256>& counts, std::size_t pixels) {
  std::array<double, 256> hist{};
  for (int g = 0; g < 256; ++g) hist[g] = static_cast<double>(counts[g]);
  const double total = static_cast<double>(pixels);
  if (total == 0) return 128;
  double sum_all = 0;
  for (int i = 0; i < 256; ++i) sum_all += i * hist[i];
  double weight_bg = 0, sum_bg = 0, best = -1;
  int best_t = 128;
  for (int t = 0; t < 256; ++t) {
    weight_bg += hist[t];
    if (weight_bg == 0) continue;
    const double weight_fg = total - weight_bg;
    if (weight_fg == 0) break;
    sum_bg += t * hist[t];
    const double mean_bg = sum_bg / weight_bg, mean_fg = (sum_all - sum_bg) / weight_fg;
    const double between = weight_bg * weight_fg * (mean_bg - mean_fg) * (mean_bg - mean_fg);
    if (between > best) best = between, best_t = t;
  }
  // Pixels <= best_t form the dark class; `ink` is an exclusive bound. A blank page has one
  // class only: keep the conventional mid-gray so paper never counts as ink.
  return best < 0 ? 128 : static_cast<unsigned char>(std::min(best_t + 1, 255));
}

unsigned char faint_from(const std::array<long, 256>& hist, std::size_t pixels, unsigned char ink) {
  long seen = 0;
  int paper = 255;
  for (int g = 0; g < 256; ++g) {
    seen += hist[g];
    if (2 * seen >= static_cast<long>(pixels)) {
      paper = g;
      break;
    }
  }
  const int gap = std::max(12, (paper - static_cast<int>(ink)) / 4);
  return static_cast<unsigned char>(std::clamp(paper - gap, static_cast<int>(ink), 255));
}

}  // namespace

result<image> render(fz_context* ctx, fz_page* page, int dpi, long max_pixels) {
  fz_rect bounds = fz_empty_rect;
  if (!page_bounds(ctx, page, bounds))
    return error{errc::pdf_unreadable, std::string("cannot measure the page: ") + fz_caught_message(ctx)};
  const double w_pt = bounds.x1 - bounds.x0, h_pt = bounds.y1 - bounds.y0;
  if (!(w_pt > 0 && h_pt > 0)) return error{errc::pdf_unreadable, "the page has an empty size"};
  double scale = std::max(dpi, 1) / 72.0;
  const double pixels = w_pt * scale * h_pt * scale;
  if (max_pixels > 0 && pixels > static_cast<double>(max_pixels))
    scale *= std::sqrt(static_cast<double>(max_pixels) / pixels);

  fz_pixmap* pix = render_gray(ctx, page, static_cast<float>(scale));
  if (!pix) return error{errc::pdf_unreadable, std::string("cannot render the page: ") + fz_caught_message(ctx)};
  image out;
  const int w = fz_pixmap_width(ctx, pix), h = fz_pixmap_height(ctx, pix);
  const int stride = fz_pixmap_stride(ctx, pix);
  const unsigned char* samples = fz_pixmap_samples(ctx, pix);
  out.width = w;
  out.height = h;
  out.scale = static_cast<float>(scale);
  out.x0 = static_cast<float>(fz_pixmap_x(ctx, pix) / scale);
  out.y0 = static_cast<float>(fz_pixmap_y(ctx, pix) / scale);
  out.pixels.resize(static_cast<size_t>(w) * h);
  for (int y = 0; y < h; ++y)
    std::copy_n(samples + static_cast<size_t>(y) * stride, w, out.pixels.data() + static_cast<size_t>(y) * w);
  fz_drop_pixmap(ctx, pix);
  const std::array<long, 256> hist = gray_histogram(out);
  out.ink = otsu_from(hist, out.pixels.size());
  out.faint = faint_from(hist, out.pixels.size(), out.ink);
  return out;
}



float estimate_skew(const image& img, float max_degrees) {
  // The bottom edges of ink (ink with paper below), in every second column: letters sit on
  // their baseline, so these edges line up sharply along the text lines, much more sharply than
  // whole letters (a line of ink is an x-height thick, a line of edges one pixel).
  std::vector<std::pair<float, float>> ink;
  long inked = 0;
  for (int y = 0; y + 1 < img.height; ++y)
    for (int x = 0; x < img.width; x += 2) {
      if (img.at(x, y) >= img.ink) continue;
      ++inked;
      if (img.at(x, y + 1) >= img.ink) ink.emplace_back(static_cast<float>(x), static_cast<float>(y));
      // Far more edges than a page of text has (a few per cent of the samples): a halftone or
      // photo, with no lines to measure; stop before the list grows with the page.
      if (ink.size() > img.pixels.size() / 40 + 1000) return 0;
    }
  if (ink.size() < 100 || inked > static_cast<long>(img.pixels.size()) / 4) return 0;  // blank, or a photo
  const int rows = 2 * (img.height + img.width);  // sheared positions stay within this span
  std::vector<float> hist(static_cast<size_t>(rows));
  auto score = [&](double degrees) {
    std::fill(hist.begin(), hist.end(), 0.f);
    const double t = std::tan(degrees * 3.14159265358979 / 180);
    const double offset = img.width * std::abs(t) + 1;
    for (const auto& [x, y] : ink) {
      const auto bin = static_cast<size_t>(y - x * t + offset);
      if (bin < hist.size()) hist[bin] += 1;
    }
    double sum = 0;
    for (float h : hist) sum += static_cast<double>(h) * h;
    return sum;
  };
  // Coarse steps of half a degree, then a fine search around the best.
  double best = 0, best_score = score(0);
  const double flat = best_score;
  for (double a = -max_degrees; a <= max_degrees + 1e-9; a += 0.5) {
    const double sc = score(a);
    if (sc > best_score) best = a, best_score = sc;
  }
  const double coarse = best;
  for (double a = coarse - 0.5; a <= coarse + 0.5 + 1e-9; a += 0.05) {
    const double sc = score(a);
    if (sc > best_score) best = a, best_score = sc;
  }
  // Without a clear gain over no rotation, the page has no line structure worth trusting.
  if (best_score < flat * 1.02) return 0;
  return static_cast<float>(best);
}

void deskew(image& img, float skew_degrees) {
  if (skew_degrees == 0 || img.pixels.empty()) return;
  const double r = skew_degrees * 3.14159265358979 / 180;
  const double c = std::cos(r), s = std::sin(r);
  const double cx = img.width / 2.0, cy = img.height / 2.0;
  std::vector<unsigned char> out(img.pixels.size());
  // Paper is the brightest common gray: the 90th percentile stands in for it at the corners.
  std::array<long, 256> hist{};
  for (unsigned char p : img.pixels) ++hist[p];
  long seen = 0;
  unsigned char paper = 255;
  for (int g = 0; g < 256; ++g)
    if ((seen += hist[g]) * 10 >= static_cast<long>(img.pixels.size()) * 9) {
      paper = static_cast<unsigned char>(g);
      break;
    }
  for (int y = 0; y < img.height; ++y)
    for (int x = 0; x < img.width; ++x) {
      // Where this output pixel comes from: the content turns by -skew, so look up by +skew.
      const double sx = cx + (x - cx) * c - (y - cy) * s, sy = cy + (x - cx) * s + (y - cy) * c;
      const int x0 = static_cast<int>(std::floor(sx)), y0 = static_cast<int>(std::floor(sy));
      const double fx = sx - x0, fy = sy - y0;
      auto at = [&](int xx, int yy) -> double {
        return xx < 0 || yy < 0 || xx >= img.width || yy >= img.height ? paper : img.at(xx, yy);
      };
      const double v = (at(x0, y0) * (1 - fx) + at(x0 + 1, y0) * fx) * (1 - fy) +
                       (at(x0, y0 + 1) * (1 - fx) + at(x0 + 1, y0 + 1) * fx) * fy;
      out[static_cast<size_t>(y) * img.width + x] = static_cast<unsigned char>(std::lround(v));
    }
  img.pixels = std::move(out);
}

unsigned char otsu_threshold(const image& img) { return otsu_from(gray_histogram(img), img.pixels.size()); }

unsigned char faint_threshold(const image& img) {
  return faint_from(gray_histogram(img), img.pixels.size(), img.ink);
}

float stroke_width(const image& img, int x0, int y0, int x1, int y1) {
  x0 = std::clamp(x0, 0, img.width), x1 = std::clamp(x1, 0, img.width);
  y0 = std::clamp(y0, 0, img.height), y1 = std::clamp(y1, 0, img.height);
  // Median run length: vertical stems dominate the count of runs, while horizontal strokes (bars
  // of 'e', 'T') give a few long runs that would inflate a mean.
  std::array<long, 65> runs{};
  long count = 0;
  for (int y = y0; y < y1; ++y) {
    int run = 0;
    for (int x = x0; x <= x1; ++x) {
      const bool dark = x < x1 && img.at(x, y) < img.ink;
      if (dark) {
        ++run;
      } else if (run > 0) {
        ++runs[std::min(run, 64)];
        ++count;
        run = 0;
      }
    }
  }
  if (count == 0) return 0;
  // Interpolated within the median bin so that thin differences (3 px vs 4 px stems at 300 dpi)
  // still show.
  const double half = count / 2.0;
  long seen = 0;
  for (int len = 1; len <= 64; ++len) {
    if (seen + runs[len] >= half && runs[len] > 0)
      return static_cast<float>(len - 0.5 + (half - seen) / static_cast<double>(runs[len]));
    seen += runs[len];
  }
  return 64;
}

box find_bullet(const image& img, box region, float x_height, float baseline, bool* hollow) {
  const box none{};
  region.x0 = std::clamp(region.x0, 0, img.width), region.x1 = std::clamp(region.x1, 0, img.width);
  region.y0 = std::clamp(region.y0, 0, img.height), region.y1 = std::clamp(region.y1, 0, img.height);
  const int w = region.x1 - region.x0, h = region.y1 - region.y0;
  if (w <= 0 || h <= 0 || !(x_height > 2)) return none;

  // Connected components (8-neighbour) of ink inside the region; specks below a minimum area are
  // scan noise and ignored. Exactly one significant component may remain.
  const int min_area = std::max(4, static_cast<int>(0.15f * x_height * 0.15f * x_height));
  std::vector<unsigned char> seen(static_cast<size_t>(w) * h, 0);
  std::vector<std::pair<int, int>> stack;
  box found{};
  int found_area = 0, components = 0;
  bool touches_edge = false;
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      if (seen[static_cast<size_t>(y) * w + x] || img.at(region.x0 + x, region.y0 + y) >= img.ink) continue;
      box b{x, y, x + 1, y + 1};
      int area = 0;
      bool edge = false;
      stack.assign(1, {x, y});
      seen[static_cast<size_t>(y) * w + x] = 1;
      while (!stack.empty()) {
        auto [cx, cy] = stack.back();
        stack.pop_back();
        ++area;
        b.x0 = std::min(b.x0, cx), b.y0 = std::min(b.y0, cy);
        b.x1 = std::max(b.x1, cx + 1), b.y1 = std::max(b.y1, cy + 1);
        if (cx == 0 || cy == 0 || cx == w - 1 || cy == h - 1) edge = true;
        for (int dy = -1; dy <= 1; ++dy)
          for (int dx = -1; dx <= 1; ++dx) {
            const int nx = cx + dx, ny = cy + dy;
            if (nx < 0 || ny < 0 || nx >= w || ny >= h) continue;
            auto& s = seen[static_cast<size_t>(ny) * w + nx];
            if (s || img.at(region.x0 + nx, region.y0 + ny) >= img.ink) continue;
            s = 1;
            stack.emplace_back(nx, ny);
          }
      }
      if (area < min_area) continue;
      if (++components > 1) return none;
      found = b, found_area = area, touches_edge = edge;
    }
  if (components != 1 || touches_edge) return none;  // something larger runs out of the region

  const float bw = static_cast<float>(found.x1 - found.x0), bh = static_cast<float>(found.y1 - found.y0);
  const float fill = static_cast<float>(found_area) / (bw * bh);
  const float cy = region.y0 + (found.y0 + found.y1) / 2.0f;
  const bool sized = bw >= 0.25f * x_height && bh >= 0.25f * x_height && bw <= 1.1f * x_height && bh <= 1.1f * x_height;
  const bool square = std::max(bw, bh) <= 1.6f * std::min(bw, bh);
  const bool mid_height = cy >= baseline - 0.85f * x_height && cy <= baseline - 0.15f * x_height;
  if (!sized || !square || !mid_height) return none;
  const box abs{region.x0 + found.x0, region.y0 + found.y0, region.x0 + found.x1, region.y0 + found.y1};
  // A ring: an empty middle third, and clearly smaller than an 'o' (a full x-height tall).
  const int cx0 = abs.x0 + (abs.x1 - abs.x0) / 3, cx1 = abs.x1 - (abs.x1 - abs.x0) / 3;
  const int cy0 = abs.y0 + (abs.y1 - abs.y0) / 3, cy1 = abs.y1 - (abs.y1 - abs.y0) / 3;
  int inked = 0, total = 0;
  for (int y = cy0; y < cy1; ++y)
    for (int x = cx0; x < cx1; ++x) inked += img.at(x, y) < img.ink, ++total;
  if (total > 0 && 10 * inked <= total) {
    if (fill < 0.2f || bw > 0.85f * x_height || bh > 0.85f * x_height) return none;
    if (hollow) *hollow = true;
    return abs;
  }
  // A filled disc covers 79% of its box, a square all of it; letters with counters ('a', 'e')
  // that a misread bullet could be confused with stay below about 55%.
  if (fill >= 0.65f) {
    if (hollow) *hollow = false;
    return abs;
  }
  return none;
}

namespace {

bool dark(const image& img, int x, int y) {
  return x >= 0 && y >= 0 && x < img.width && y < img.height && img.at(x, y) < img.ink;
}
bool faint(const image& img, int x, int y) {
  return x >= 0 && y >= 0 && x < img.width && y < img.height && img.at(x, y) < img.faint;
}

// How far outside the box a rule must continue (pixels; rules run on for the whole cell).
constexpr int kReach = 4;

// The thickest line still taken for a rule: 1.5 pt. Anything thicker is a shaded cell or a
// letter, and is left alone.
int max_rule(const image& img) { return std::max(3, static_cast<int>(std::lround(1.5f * img.scale))); }

}  // namespace

void trim_rules(const image& img, box& b) {
  b.x0 = std::clamp(b.x0, 0, img.width), b.x1 = std::clamp(b.x1, 0, img.width);
  b.y0 = std::clamp(b.y0, 0, img.height), b.y1 = std::clamp(b.y1, 0, img.height);
  const int thick = max_rule(img);
  // A line of the box (row or column) as a set of pixels, walked by index.
  auto count_row = [&](int y) {
    int n = 0;
    for (int x = b.x0; x < b.x1; ++x) n += dark(img, x, y);
    return n;
  };
  auto count_col = [&](int x) {
    int n = 0;
    for (int y = b.y0; y < b.y1; ++y) n += dark(img, x, y);
    return n;
  };
  // Rules are judged with the faint threshold (thin rules scan light gray), blank lines with the
  // ink threshold (no text on them). A rule runs on: marked on each of the first kReach pixels past the box edge, on this line or a
  // neighbouring one (rules are a few pixels thick and may slope). Letters of the next word or
  // line are not that close and continuous.
  auto runs_on = [&](int x, int y, int dx, int dy) {
    for (int k = 1; k <= kReach; ++k)
      if (!faint(img, x + k * dx, y + k * dy)) return false;
    return true;
  };
  auto faint_row = [&](int y) {
    int n = 0;
    for (int x = b.x0; x < b.x1; ++x) n += faint(img, x, y);
    return n;
  };
  auto faint_col = [&](int x) {
    int n = 0;
    for (int y = b.y0; y < b.y1; ++y) n += faint(img, x, y);
    return n;
  };
  auto rule_row = [&](int y) {
    if (2 * faint_row(y) < b.x1 - b.x0) return false;
    for (int d = -1; d <= 1; ++d)
      if (runs_on(b.x0, y + d, -1, 0) || runs_on(b.x1 - 1, y + d, 1, 0)) return true;
    return false;
  };
  auto rule_col = [&](int x) {
    if (5 * faint_col(x) < 3 * (b.y1 - b.y0)) return false;
    for (int d = -1; d <= 1; ++d)
      if (runs_on(x + d, b.y0, 0, -1) || runs_on(x + d, b.y1 - 1, 0, 1)) return true;
    return false;
  };
  // From one edge inwards: lines without ink go; a thin run of rule lines goes too when blank
  // lines or the text follow it. `edge` moves by `step` (+1 from the top/left, -1 from the
  // bottom/right); `far` is the opposite edge.
  auto trim = [&](int& edge, int step, int far_edge, auto count, auto is_rule) {
    auto at = [&](int k) { return step > 0 ? edge + k : edge - 1 - k; };
    const int size = std::abs(far_edge - edge);
    int k = 0;
    while (k < size - 2 && count(at(k)) == 0) ++k;
    int r = k;
    while (r < size - 2 && r - k <= thick && is_rule(at(r))) ++r;
    if (r > k && r - k <= thick) {
      k = r;
      while (k < size - 2 && count(at(k)) == 0) ++k;
    }
    edge = step > 0 ? edge + k : edge - k;
  };
  for (int pass = 0; pass < 2; ++pass) {  // a rule cut from one side can unmask one on the other
    trim(b.y0, +1, b.y1, count_row, rule_row);
    trim(b.y1, -1, b.y0, count_row, rule_row);
    trim(b.x0, +1, b.x1, count_col, rule_col);
    trim(b.x1, -1, b.x0, count_col, rule_col);
  }
}

bool vertical_rule(const image& img, int x0, int x1, int y0, int y1) {
  if (y1 <= y0 || x1 - x0 < 3) return false;
  const int thick = max_rule(img);
  // A rule is a thin band of columns that are (faintly) inked on nearly every row, with unmarked
  // columns on both sides. A shaded cell marks the whole gap and is no rule.
  auto full = [&](int x) {
    int rows = 0;
    for (int y = y0; y < y1; ++y) rows += faint(img, x, y);
    return 20 * rows >= 17 * (y1 - y0);
  };
  int run = 0;
  bool open_left = false;  // the run started after an unmarked column
  for (int x = x0; x < x1; ++x) {
    if (full(x)) {
      if (run == 0) open_left = x > x0;
      ++run;
    } else {
      if (run > 0 && run <= thick && open_left) return true;
      run = 0;
    }
  }
  return false;
}

}  // namespace quire::convert::raster
