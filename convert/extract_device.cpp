// Stage 1: the collecting device. It runs beside MuPDF's structured-text device, to which it
// passes the text, and keeps what that device drops: straight strokes and thin fills (table rules,
// underlines), small shapes (drawn list bullets), larger fills (shading behind cells and code),
// images (encoded as assets when asked). Every callback checks the page's deadline and
// drawing-operation budget first.
//
// MuPDF reports errors with longjmp. The callbacks run inside MuPDF's own fz_try frames, so they
// must not let a MuPDF error escape through C++ frames that own objects: every MuPDF call in them
// that can throw sits in its own fz_try holding only C data.
#include <algorithm>
#include <cmath>
#include <string>

#include "convert/detail/extract_internal.hpp"

namespace quire::convert::extract_detail {
namespace {

using layout::rect;

struct subpath {
  std::vector<fz_point> pts;
  bool curve = false;
  bool closed = false;
};

struct path_walk {
  fz_matrix ctm;
  std::vector<subpath> subs;
  fz_point cur{0, 0};
  void add(float x, float y) {
    if (subs.empty()) subs.emplace_back();
    subs.back().pts.push_back(fz_transform_point_xy(x, y, ctm));
    cur = {x, y};
  }
};

void walk_moveto(fz_context*, void* arg, float x, float y) {
  auto* w = static_cast<path_walk*>(arg);
  w->subs.emplace_back();
  w->add(x, y);
}
void walk_lineto(fz_context*, void* arg, float x, float y) { static_cast<path_walk*>(arg)->add(x, y); }
void walk_curveto(fz_context*, void* arg, float x1, float y1, float x2, float y2, float x3, float y3) {
  auto* w = static_cast<path_walk*>(arg);
  w->add(x1, y1);
  w->add(x2, y2);
  w->add(x3, y3);
  w->subs.back().curve = true;
}
void walk_closepath(fz_context*, void* arg) {
  auto* w = static_cast<path_walk*>(arg);
  if (!w->subs.empty()) w->subs.back().closed = true;
}
void walk_quadto(fz_context*, void* arg, float x1, float y1, float x2, float y2) {
  auto* w = static_cast<path_walk*>(arg);
  w->add(x1, y1);
  w->add(x2, y2);
  w->subs.back().curve = true;
}
void walk_rectto(fz_context*, void* arg, float x1, float y1, float x2, float y2) {
  auto* w = static_cast<path_walk*>(arg);
  w->subs.emplace_back();
  w->add(x1, y1);
  w->add(x2, y1);
  w->add(x2, y2);
  w->add(x1, y2);
  w->subs.back().closed = true;
}

const fz_path_walker path_walker = {walk_moveto, walk_lineto, walk_curveto, walk_closepath,
                                    walk_quadto, nullptr,     nullptr,      walk_rectto};

rect bounds(const subpath& s) {
  rect r = rect::none();
  for (auto p : s.pts) r.include({p.x, p.y, p.x, p.y});
  return r;
}

// Approximate luminance (0 black .. 1 white); MuPDF errors are caught (treated as black).
float luminance(fz_context* ctx, fz_colorspace* cs, const float* color) {
  float rgb[3] = {0, 0, 0};
  int failed = 0;
  fz_try(ctx) {
    if (cs) fz_convert_color(ctx, cs, color, fz_device_rgb(ctx), rgb, nullptr, fz_default_color_params);
  }
  fz_catch(ctx) { failed = 1; }
  if (failed) return 0;
  return 0.299f * rgb[0] + 0.587f * rgb[1] + 0.114f * rgb[2];
}

struct collect_device {
  fz_device super;
  fz_device* text;
  collected* out;
  const std::optional<std::chrono::steady_clock::time_point>* deadline;
  std::uint64_t max_operators;
  std::uint64_t* operators;
};

// Called first thing in every callback, before any C++ object exists in the frame, so the
// longjmp of fz_throw skips no destructor.
void check_deadline(fz_context* ctx, fz_device* dev) {
  auto* d = reinterpret_cast<collect_device*>(dev);
  if (d->operators && ++*d->operators > d->max_operators && d->max_operators > 0)
    fz_throw(ctx, FZ_ERROR_GENERIC, "page exceeded its drawing-operation budget");
  if (*d->deadline && std::chrono::steady_clock::now() > **d->deadline)
    fz_throw(ctx, FZ_ERROR_GENERIC, "page exceeded the conversion deadline");
}

bool walk(fz_context* ctx, const fz_path* path, fz_matrix ctm, path_walk& w) {
  w.ctm = ctm;
  int failed = 0;
  fz_try(ctx) { fz_walk_path(ctx, path, &path_walker, &w); }
  fz_catch(ctx) { failed = 1; }
  return !failed;
}

void add_shape(collected& c, const rect& b, bool filled, bool curve, float lum) {
  const float w = b.width(), h = b.height();
  if (w >= 0.9f * c.page_w && h >= 0.9f * c.page_h) return;  // page background
  if (lum > 0.93f) return;                                    // white on white: invisible
  if (h <= 3.0f && w >= 4.0f) {
    c.rules.push_back({b, true});
  } else if (w <= 3.0f && h >= 4.0f) {
    c.rules.push_back({b, false});
  } else if (w >= 1.2f && h >= 1.2f && w <= 10.0f && h <= 10.0f && w <= 2.2f * h && h <= 2.2f * w) {
    c.marks.push_back({b, filled, curve});
  } else if (filled && w > 10.0f && h > 4.0f) {
    if (c.fills.size() < 2000) c.fills.push_back(b);
  }
}

void dev_fill_path(fz_context* ctx, fz_device* dev, const fz_path* path, int, fz_matrix ctm, fz_colorspace* cs,
                   const float* color, float alpha, fz_color_params) {
  check_deadline(ctx, dev);
  auto* d = reinterpret_cast<collect_device*>(dev);
  if (alpha <= 0.05f) return;
  path_walk w;
  if (!walk(ctx, path, ctm, w)) return;
  const float lum = luminance(ctx, cs, color);
  for (const auto& s : w.subs) {
    if (s.pts.size() < 2) continue;
    add_shape(*d->out, bounds(s), true, s.curve, lum);
  }
}

void dev_stroke_path(fz_context* ctx, fz_device* dev, const fz_path* path, const fz_stroke_state* stroke,
                     fz_matrix ctm, fz_colorspace* cs, const float* color, float alpha, fz_color_params) {
  check_deadline(ctx, dev);
  auto* d = reinterpret_cast<collect_device*>(dev);
  if (alpha <= 0.05f) return;
  path_walk w;
  if (!walk(ctx, path, ctm, w)) return;
  const float lum = luminance(ctx, cs, color);
  if (lum > 0.93f) return;
  const float scale = std::sqrt(std::fabs(ctm.a * ctm.d - ctm.b * ctm.c));
  const float lw = std::max(0.3f, (stroke ? stroke->linewidth : 1.0f) * (scale > 0 ? scale : 1.0f));
  collected& c = *d->out;
  for (const auto& s : w.subs) {
    if (s.pts.size() < 2) continue;
    rect b = bounds(s);
    if (s.curve) {
      if (b.width() <= 10 && b.height() <= 10 && b.width() >= 1.2f && b.height() >= 1.2f)
        c.marks.push_back({b, false, true});
      continue;
    }
    if (b.width() <= 10 && b.height() <= 10 && b.width() >= 2.0f && b.height() >= 2.0f && s.closed) {
      c.marks.push_back({b, false, false});  // a small hollow square
      continue;
    }
    const size_t n = s.pts.size();
    const size_t segs = s.closed ? n : n - 1;
    for (size_t i = 0; i < segs; ++i) {
      fz_point a = s.pts[i], e = s.pts[(i + 1) % n];
      const float dx = std::fabs(a.x - e.x), dy = std::fabs(a.y - e.y);
      if (dy < 0.6f && dx >= 4.0f) {
        const float y = (a.y + e.y) / 2;
        c.rules.push_back({{std::min(a.x, e.x), y - lw / 2, std::max(a.x, e.x), y + lw / 2}, true});
      } else if (dx < 0.6f && dy >= 4.0f) {
        const float x = (a.x + e.x) / 2;
        c.rules.push_back({{x - lw / 2, std::min(a.y, e.y), x + lw / 2, std::max(a.y, e.y)}, false});
      }
    }
  }
}

void dev_fill_image(fz_context* ctx, fz_device* dev, fz_image* img, fz_matrix ctm, float alpha, fz_color_params) {
  check_deadline(ctx, dev);
  auto* d = reinterpret_cast<collect_device*>(dev);
  collected& c = *d->out;
  if (alpha <= 0.05f) return;
  fz_rect r = fz_transform_rect(fz_unit_rect, ctm);
  rect b{r.x0, r.y0, r.x1, r.y1};
  if (b.width() < 8 || b.height() < 8 || c.images.size() >= 500) return;
  layout::image im{b, -1};
  if (c.want_images && c.assets && img && img->w >= 16 && img->h >= 16) {
    fz_buffer* buf = nullptr;
    const char* type = "image/png";
    const char* ext = "png";
    fz_var(buf);
    fz_var(type);
    fz_var(ext);
    fz_try(ctx) {
      fz_compressed_buffer* cb = fz_compressed_image_buffer(ctx, img);
      if (cb && cb->params.type == FZ_IMAGE_JPEG && cb->buffer &&
          (img->colorspace == fz_device_rgb(ctx) || img->colorspace == fz_device_gray(ctx) || img->n <= 3)) {
        buf = fz_keep_buffer(ctx, cb->buffer);
        type = "image/jpeg";
        ext = "jpg";
      } else {
        buf = fz_new_buffer_from_image_as_png(ctx, img, fz_default_color_params);
      }
    }
    fz_catch(ctx) { buf = nullptr; }
    if (buf) {
      unsigned char* data = nullptr;
      size_t len = fz_buffer_storage(ctx, buf, &data);
      asset a;
      a.name = "img-p" + std::to_string(c.page_number) + "-" + std::to_string(++c.image_count) + "." + ext;
      a.media_type = type;
      a.bytes.assign(data, data + len);
      fz_drop_buffer(ctx, buf);
      im.asset = static_cast<int>(c.assets->size());
      c.assets->push_back(std::move(a));
    }
  }
  c.images.push_back(im);
}

// Text goes to the structured-text device unchanged.
void dev_fill_text(fz_context* ctx, fz_device* dev, const fz_text* text, fz_matrix ctm, fz_colorspace* cs,
                   const float* color, float alpha, fz_color_params cp) {
  check_deadline(ctx, dev);
  fz_fill_text(ctx, reinterpret_cast<collect_device*>(dev)->text, text, ctm, cs, color, alpha, cp);
}
void dev_stroke_text(fz_context* ctx, fz_device* dev, const fz_text* text, const fz_stroke_state* st, fz_matrix ctm,
                     fz_colorspace* cs, const float* color, float alpha, fz_color_params cp) {
  check_deadline(ctx, dev);
  fz_stroke_text(ctx, reinterpret_cast<collect_device*>(dev)->text, text, st, ctm, cs, color, alpha, cp);
}
// Text used as a clip is still text on the page; it reaches the stext device as "ignored" text so
// that the clip stack of the text device stays empty (this device keeps its own).
void dev_clip_text(fz_context* ctx, fz_device* dev, const fz_text* text, fz_matrix ctm, fz_rect) {
  check_deadline(ctx, dev);
  fz_ignore_text(ctx, reinterpret_cast<collect_device*>(dev)->text, text, ctm);
}
void dev_clip_stroke_text(fz_context* ctx, fz_device* dev, const fz_text* text, const fz_stroke_state*,
                          fz_matrix ctm, fz_rect) {
  check_deadline(ctx, dev);
  fz_ignore_text(ctx, reinterpret_cast<collect_device*>(dev)->text, text, ctm);
}
void dev_ignore_text(fz_context* ctx, fz_device* dev, const fz_text* text, fz_matrix ctm) {
  check_deadline(ctx, dev);
  fz_ignore_text(ctx, reinterpret_cast<collect_device*>(dev)->text, text, ctm);
}

}  // namespace

fz_device* new_collect_device(fz_context* ctx, fz_device* text, collected* out, const extract_options& options) {
  auto* d = fz_new_derived_device(ctx, collect_device);
  d->super.fill_path = dev_fill_path;
  d->super.stroke_path = dev_stroke_path;
  d->super.fill_image = dev_fill_image;
  d->super.fill_text = dev_fill_text;
  d->super.stroke_text = dev_stroke_text;
  d->super.clip_text = dev_clip_text;
  d->super.clip_stroke_text = dev_clip_stroke_text;
  d->super.ignore_text = dev_ignore_text;
  d->text = text;
  d->out = out;
  d->deadline = &options.deadline;
  d->max_operators = options.max_operators;
  d->operators = options.operators;
  return &d->super;
}

}  // namespace quire::convert::extract_detail
