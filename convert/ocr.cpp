// OCR: render a page (raster.hpp), recognise it with Tesseract, place the words into the layout
// model (ocr_placement.cpp). The language checks are in ocr_languages.cpp. See ocr.hpp for the
// contract.
#include "convert/detail/ocr.hpp"

#include <algorithm>
#include <chrono>
#include <climits>
#include <cmath>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "convert/detail/ocr_words.hpp"
#include "convert/detail/raster.hpp"

#ifdef QUIRE_HAVE_TESSERACT
#include <dlfcn.h>
#include <tesseract/baseapi.h>
#include <tesseract/ocrclass.h>
#include <tesseract/resultiterator.h>
#endif

namespace quire::convert::ocr {

bool needs_ocr(const layout::page_model& page) {
  // "Almost no characters": a scan often carries a few stray glyphs (a stamp, a page number added
  // by scanner software); a real text layer has far more than this.
  int chars = 0;
  for (const auto& l : page.lines)
    for (const auto& s : l.spans)
      for (char c : s.text)
        if (c != ' ' && (static_cast<unsigned char>(c) & 0xC0) != 0x80) ++chars;
  if (chars > 20) return false;
  const float page_area = page.width * page.height;
  if (page_area <= 0) return false;
  // A scan is usually one image per page; some scanners emit strips, so the sum counts too (with
  // a higher bar, as overlapping images would be counted twice).
  float largest = 0, total = 0;
  for (const auto& im : page.images) {
    const float w = std::clamp(im.box.x1, 0.f, page.width) - std::clamp(im.box.x0, 0.f, page.width);
    const float h = std::clamp(im.box.y1, 0.f, page.height) - std::clamp(im.box.y0, 0.f, page.height);
    if (w <= 0 || h <= 0) continue;
    largest = std::max(largest, w * h);
    total += w * h;
  }
  return largest >= 0.5f * page_area || total >= 0.7f * page_area;
}

#ifdef QUIRE_HAVE_TESSERACT

struct recognizer::impl {
  settings cfg;
  std::optional<std::chrono::steady_clock::time_point> deadline;
  detail::turn turned;     // how the last page was levelled
  bool timed_out = false;  // set by the last recognise()
  std::unique_ptr<tesseract::TessBaseAPI> api;
  std::string languages;  // the spec `api` was initialised with

  // Tesseract initialised for `spec`; errc::invalid_argument when a model is missing or will not load.
  status ensure(const std::string& spec) {
    if (api && languages == spec) return ok_v;
    if (std::string problem = check_languages(spec); !problem.empty()) return error{errc::invalid_argument, problem};
    api.reset();
    auto fresh = std::make_unique<tesseract::TessBaseAPI>();
    // Tesseract's diagnostics must not reach our stderr (`quire convert` without -o writes only
    // Markdown to stdout, and the service logs structured lines).
    const std::vector<std::string> names{"debug_file"}, values{"/dev/null"};
    const std::string dir = tessdata_dir();
    if (fresh->Init(dir.c_str(), spec.c_str(), tesseract::OEM_LSTM_ONLY, nullptr, 0, &names, &values, false) != 0)
      return error{errc::invalid_argument,
                   "Tesseract could not load the OCR language model(s) '" + spec + "' (TESSDATA_PREFIX)"};
    fresh->SetPageSegMode(tesseract::PSM_AUTO);
    api = std::move(fresh);
    languages = spec;
    return ok_v;
  }

  // Tesseract's LSTM loops ask OpenMP for a fixed thread count, which the usual
  // omp_set_num_threads cannot lower; with no active parallel levels allowed they run on the
  // calling thread. The symbol is looked up at run time because it exists only when this
  // Tesseract build uses OpenMP (Debian's does), and quire itself has no OpenMP dependency.
  static void serialise_openmp() {
    using setter = void (*)(int);
    static const auto set_levels = reinterpret_cast<setter>(dlsym(RTLD_DEFAULT, "omp_set_max_active_levels"));
    if (set_levels) set_levels(0);
  }

  // Runs Tesseract on the raster and collects its words with their line and block structure.
  std::vector<detail::word> recognise(const raster::image& img) {
    std::vector<detail::word> words;
    api->SetImage(img.pixels.data(), img.width, img.height, 1, img.width);
    api->SetSourceResolution(static_cast<int>(std::lround(img.scale * 72)));
    if (!cfg.parallel) serialise_openmp();
    tesseract::ETEXT_DESC monitor;
    timed_out = false;
    if (deadline) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(*deadline - std::chrono::steady_clock::now());
      monitor.set_deadline_msecs(static_cast<int32_t>(std::clamp<long long>(left.count(), 1, INT32_MAX)));
    }
    const int status = api->Recognize(&monitor);
    if (deadline && (monitor.deadline_exceeded() || std::chrono::steady_clock::now() > *deadline)) timed_out = true;
    if (status != 0 || timed_out) {
      api->Clear();
      return words;
    }
    std::unique_ptr<tesseract::ResultIterator> it(api->GetIterator());
    int block = -1, line = -1;
    detail::word metrics;  // the current line's metrics, copied into each of its words
    const auto level = tesseract::RIL_WORD;
    if (it) do {
        if (it->IsAtBeginningOf(tesseract::RIL_BLOCK)) ++block;
        if (it->IsAtBeginningOf(tesseract::RIL_TEXTLINE)) {
          ++line;
          metrics = {};
          float row_height = 0;
          it->RowAttributes(&row_height, &metrics.descenders, &metrics.ascenders);
          // row height = x-height + ascenders - descenders (descenders are negative).
          metrics.x_height = row_height - metrics.ascenders + metrics.descenders;
          int bx0 = 0, by0 = 0, bx1 = 0, by1 = 0;
          if (it->Baseline(tesseract::RIL_TEXTLINE, &bx0, &by0, &bx1, &by1)) {
            metrics.has_baseline = true;
            metrics.baseline_x0 = static_cast<float>(bx0), metrics.baseline_y0 = static_cast<float>(by0);
            metrics.baseline_x1 = static_cast<float>(bx1), metrics.baseline_y1 = static_cast<float>(by1);
          }
        }
        if (it->Empty(level)) continue;
        std::unique_ptr<char[]> text(it->GetUTF8Text(level));
        if (!text) continue;
        detail::word w = metrics;
        w.text = text.get();
        w.confidence = it->Confidence(level);
        it->BoundingBox(level, &w.x0, &w.y0, &w.x1, &w.y1);
        // In ruled tables the box often takes in a piece of the rule, which would inflate the
        // size estimate and the stroke; cut it off.
        raster::box b{w.x0, w.y0, w.x1, w.y1};
        raster::trim_rules(img, b);
        w.x0 = b.x0, w.y0 = b.y0, w.x1 = b.x1, w.y1 = b.y1;
        w.block = block;
        w.line = line;
        w.stroke = raster::stroke_width(img, w.x0, w.y0, w.x1, w.y1);
        if (!words.empty() && words.back().line == line && w.x0 > words.back().x1) {
          const detail::word& prev = words.back();
          const int pad = static_cast<int>(0.3f * std::max(w.x_height, 4.f));
          w.rule_before = raster::vertical_rule(img, prev.x1, w.x0, std::min(prev.y0, w.y0) - pad,
                                                std::max(prev.y1, w.y1) + pad);
        }
        words.push_back(std::move(w));
      } while (it->Next(level));
    it.reset();
    api->Clear();
    add_bullets(img, words);
    return words;
  }

  // Tesseract tends to drop list bullets (a dot is not a letter), yet they make a line a list
  // item: look for a bullet-shaped blob just left of each line's first word and add it as a word.
  static void add_bullets(const raster::image& img, std::vector<detail::word>& words) {
    std::vector<detail::word> out;
    out.reserve(words.size());
    for (size_t i = 0; i < words.size(); ++i) {
      const detail::word& w = words[i];
      const bool line_start = i == 0 || words[i - 1].line != w.line;
      const float xh = w.x_height;
      if (line_start && xh > 2 && w.has_baseline) {
        const float base = w.baseline_x1 != w.baseline_x0
                               ? w.baseline_y0 + (w.x0 - w.baseline_x0) * (w.baseline_y1 - w.baseline_y0) /
                                                     (w.baseline_x1 - w.baseline_x0)
                               : w.baseline_y0;
        // Sometimes the mark is read, as '@', 'e', 'o', '°o', '«' or "=»": a short first word
        // whose ink is one bullet-shaped blob is then the bullet.
        // Two-letter words ("to", "an") are two blobs, never one bullet-shaped one.
        const int glyphs = detail::count_chars(w.text);
        if (glyphs <= 2 || (glyphs <= 3 && !detail::has_alnum(w.text))) {
          int right = w.x1 + static_cast<int>(0.3f * xh);
          if (i + 1 < words.size() && words[i + 1].line == w.line) right = std::min(right, words[i + 1].x0 - 1);
          const raster::box around{static_cast<int>(w.x0 - 0.3f * xh), static_cast<int>(base - 1.5f * xh), right,
                                   static_cast<int>(base + 0.4f * xh)};
          bool hollow = false;
          const raster::box b = raster::find_bullet(img, around, xh, base, &hollow);
          if (b.x1 > b.x0) {
            detail::word bullet = w;
            bullet.text = hollow ? detail::kRingBullet : detail::kBullet;
            bullet.x0 = b.x0, bullet.y0 = b.y0, bullet.x1 = b.x1, bullet.y1 = b.y1;
            bullet.confidence = 100;
            out.push_back(std::move(bullet));
            continue;
          }
        }
        const raster::box region{static_cast<int>(w.x0 - 4 * xh), static_cast<int>(base - 1.5f * xh), w.x0 - 1,
                                 static_cast<int>(base + 0.4f * xh)};
        // Ink that Tesseract read as text is not a bullet.
        const bool clear = std::none_of(words.begin(), words.end(), [&](const detail::word& o) {
          return &o != &w && o.x1 > region.x0 && o.x0 < region.x1 && o.y1 > region.y0 && o.y0 < region.y1;
        });
        bool hollow = false;
        const raster::box b = clear ? raster::find_bullet(img, region, xh, base, &hollow) : raster::box{};
        if (b.x1 > b.x0) {
          detail::word bullet = w;
          bullet.text = hollow ? detail::kRingBullet : detail::kBullet;
          bullet.confidence = 100;
          bullet.x0 = b.x0, bullet.y0 = b.y0, bullet.x1 = b.x1, bullet.y1 = b.y1;
          bullet.stroke = 0;
          out.push_back(std::move(bullet));
        }
      }
      out.push_back(w);
    }
    words = std::move(out);
  }
};

recognizer::recognizer(settings s) : impl_(std::make_unique<impl>()) { impl_->cfg = s; }
recognizer::~recognizer() = default;

status recognizer::recognize(fz_context* ctx, fz_page* page, const std::string& languages, layout::page_model& out) {
  if (!ctx || !page) return error{errc::invalid_argument, "no page to recognise"};
  if (status ready = impl_->ensure(languages); !ready) return ready;
  if (impl_->deadline && std::chrono::steady_clock::now() >= *impl_->deadline)
    return error{errc::timeout, "OCR stopped at the deadline"};
  result<raster::image> rendered = raster::render(ctx, page, impl_->cfg.dpi, impl_->cfg.max_pixels);
  if (!rendered) return rendered.err();
  raster::image& img = *rendered;
  impl_->turned = {};
  if (impl_->cfg.deskew) {
    // Below a tenth of a degree a row drifts under a point across the page: not worth the blur.
    if (const float skew = raster::estimate_skew(img); std::abs(skew) >= 0.1f) {
      raster::deskew(img, skew);
      impl_->turned = {skew, img.x0 + img.width / (2 * img.scale), img.y0 + img.height / (2 * img.scale)};
    }
  }
  std::vector<detail::word> words = impl_->recognise(img);
  if (impl_->timed_out) return error{errc::timeout, "OCR stopped at the deadline"};
  detail::place_words(std::move(words), {img.scale, img.x0, img.y0}, out);
  if (out.width <= 0 || out.height <= 0) {
    out.width = static_cast<float>(img.width / img.scale);
    out.height = static_cast<float>(img.height / img.scale);
  }
  out.from_ocr = true;
  return ok_v;
}

#else  // built without Tesseract: recognition reports why it cannot run.

struct recognizer::impl {
  settings cfg;
  std::optional<std::chrono::steady_clock::time_point> deadline;
  detail::turn turned;
};

recognizer::recognizer(settings s) : impl_(std::make_unique<impl>()) { impl_->cfg = s; }
recognizer::~recognizer() = default;

status recognizer::recognize(fz_context*, fz_page*, const std::string& languages, layout::page_model&) {
  return error{errc::invalid_argument, check_languages(languages)};
}

#endif

void recognizer::level(layout::page_model& page) const { detail::level(page, impl_->turned); }
float recognizer::last_skew() const { return impl_->turned.degrees; }

void recognizer::set_deadline(std::optional<std::chrono::steady_clock::time_point> when) { impl_->deadline = when; }

status recognize_page(fz_context* ctx, fz_page* page, const std::string& languages, layout::page_model& out) {
  recognizer once;
  return once.recognize(ctx, page, languages, out);
}

}  // namespace quire::convert::ocr
