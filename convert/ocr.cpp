// OCR: render a page (raster.hpp), recognise it with Tesseract, place the words into the layout
// model. See ocr.hpp for the contract.
#include "convert/ocr.hpp"

#include <algorithm>
#include <cctype>
#include <climits>
#include <cstdint>
#include <cmath>
#include <cstring>
#include <cstdlib>
#include <filesystem>
#include <vector>

#include "utf8/utf8.hpp"

#include "convert/convert.hpp"
#include "convert/raster.hpp"

#ifdef QUIRE_HAVE_TESSERACT
#include <dlfcn.h>
#include <tesseract/baseapi.h>
#include <tesseract/ocrclass.h>
#include <tesseract/resultiterator.h>
#endif

namespace quire::convert::ocr {

namespace fs = std::filesystem;

namespace {

// Model names are file-name stems: letters, digits, '_' and '-' ("chi_sim"). Anything else could
// walk out of the tessdata directory, so it is rejected before touching the file system.
bool valid_model_name(const std::string& name) {
  if (name.empty() || name.size() > 64) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  });
}

std::vector<std::string> split_languages(const std::string& spec) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= spec.size()) {
    size_t plus = spec.find('+', start);
    if (plus == std::string::npos) plus = spec.size();
    out.push_back(spec.substr(start, plus - start));
    start = plus + 1;
  }
  return out;
}

bool has_models(const fs::path& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return false;
  for (const auto& entry : fs::directory_iterator(dir, ec))
    if (entry.path().extension() == ".traineddata") return true;
  return false;
}

}  // namespace

std::string tessdata_dir() {
  std::vector<fs::path> candidates;
  // TESSDATA_PREFIX is Tesseract's own override; people point it at the tessdata folder itself or
  // at its parent, so both are tried.
  // NOLINTNEXTLINE(concurrency-mt-unsafe): read once per recognizer; nothing in quire calls setenv
  if (const char* env = std::getenv("TESSDATA_PREFIX"); env && *env) {
    candidates.emplace_back(env);
    candidates.emplace_back(fs::path(env) / "tessdata");
  }
  for (const char* p : {"/usr/share/tesseract-ocr/5/tessdata", "/usr/share/tesseract-ocr/4.00/tessdata",
                        "/usr/share/tessdata", "/usr/local/share/tessdata"})
    candidates.emplace_back(p);
  for (const auto& dir : candidates)
    if (has_models(dir)) return dir.string();
  return {};
}

std::string check_languages(const std::string& languages) {
  for (std::string name : split_languages(languages)) {
    if (!name.empty() && name[0] == '~') name.erase(0, 1);  // Tesseract's "skip this dependency"
    if (!valid_model_name(name))
      return "invalid OCR language '" + name + "' in '" + languages +
             "' (expected model names such as eng or eng+deu)";
  }
#ifndef QUIRE_HAVE_TESSERACT
  return "OCR is not available: quire was built without Tesseract";
#else
  const std::string dir = tessdata_dir();
  for (std::string name : split_languages(languages)) {
    if (name[0] == '~') name.erase(0, 1);
    if (dir.empty())
      return "OCR language model '" + name + "' is not installed: no tessdata directory found " +
             "(install tesseract-ocr-" + name + " or set TESSDATA_PREFIX)";
    std::error_code ec;
    if (!fs::is_regular_file(fs::path(dir) / (name + ".traineddata"), ec))
      // No directory in the message: it reaches API clients (a 422, a job's warnings), and the
      // server's file system layout is none of theirs.
      return "OCR language model '" + name + "' is not installed (no " + name +
             ".traineddata; install tesseract-ocr-" + name + " or set TESSDATA_PREFIX)";
  }
  return {};
#endif
}

bool available() { return check_languages("eng").empty(); }

}  // namespace quire::convert::ocr

namespace quire::convert {

std::vector<std::string> installed_ocr_languages() {
  namespace fs = std::filesystem;
  std::vector<std::string> out;
#ifdef QUIRE_HAVE_TESSERACT
  const std::string dir = ocr::tessdata_dir();
  if (dir.empty()) return out;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (entry.path().extension() != ".traineddata" || !entry.is_regular_file(ec)) continue;
    std::string name = entry.path().stem().string();
    if (ocr::valid_model_name(name) && name != "osd") out.push_back(std::move(name));
  }
  std::sort(out.begin(), out.end());
#endif
  return out;
}

std::string check_ocr_languages(const std::string& languages, std::vector<std::string>* missing) {
  std::string problem = ocr::check_languages(languages);
  if (missing && !problem.empty()) {
    const std::vector<std::string> installed = installed_ocr_languages();
    for (std::string name : ocr::split_languages(languages)) {
      if (!name.empty() && name[0] == '~') name.erase(0, 1);
      if (ocr::valid_model_name(name) && name != "osd" &&
          !std::binary_search(installed.begin(), installed.end(), name) &&
          std::find(missing->begin(), missing->end(), name) == missing->end())
        missing->push_back(name);
    }
  }
  return problem;
}

}  // namespace quire::convert

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

namespace detail {
namespace {

constexpr const char* kBullet = "\xE2\x80\xA2";      // U+2022 •, a list bullet to the pipeline
constexpr const char* kRingBullet = "\xE2\x97\xA6";  // U+25E6 ◦, the usual second-level bullet
bool is_bullet(const std::string& s) { return s == kBullet || s == kRingBullet; }

// x-height as a fraction of the em for common text faces (Times 0.45, Helvetica/Arial 0.52,
// DejaVu 0.55): the em — the font size — is estimated from the x-height, which every line of
// lower-case text shows, unlike ascenders or descenders.
constexpr float kXHeightPerEm = 0.5f;
// Sizes within this ratio are one size: OCR measurements scatter a few percent, and body text
// must come out uniform or the pipeline would read noise as heading levels.
constexpr float kSameSize = 1.12f;
// A stroke this much heavier than the page's typical stroke (relative to the x-height) is bold.
constexpr float kBoldStroke = 1.3f;
// Word gap (in x-heights) beyond which a Tesseract line is split: a word space is about half an
// x-height, justified text stretches it to about one; table cells and columns sit further apart.
constexpr float kWideGap = 1.6f;

int count_chars(const std::string& s) {  // UTF-8 code points, spaces excluded
  int n = 0;
  for (char c : s)
    if (c != ' ' && (static_cast<unsigned char>(c) & 0xC0) != 0x80) ++n;
  return n;
}

// Letters or digits, in any script: ASCII alphanumerics, or a code point from U+00C0 up that is
// not punctuation or a symbol (general punctuation, arrows, math, box drawing, shapes, dingbats:
// U+2000..U+2BFF; Latin-1's ×, ÷). Tesseract reads bullets and rules as '»', '©', '°', '=': those
// must not count as text.
bool has_alnum(const std::string& s) {
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      if (std::isalnum(c)) return true;
      ++i;
      continue;
    }
    const auto [cp, len, ok] = utf8::decode(s, i);
    i += len;
    if (ok && cp >= 0xC0 && cp != 0xD7 && cp != 0xF7 && !(cp >= 0x2000 && cp <= 0x2BFF)) return true;
  }
  return false;
}

// Removes table-rule bars read as text from both ends of a word ("|D.Havel", "2023 ‘|"): a run of
// '|' and quote marks, if it holds a '|'. Says which ends had one.
std::string strip_bars(const std::string& word, bool& lead, bool& trail) {
  static const std::string quotes[] = {"'", "`", "\xE2\x80\x98", "\xE2\x80\x99"};
  auto take = [&](std::string& t, bool front) {
    bool bar = false;
    size_t n = 0;  // bytes in the run
    while (n < t.size()) {
      const size_t pos = front ? n : t.size() - n - 1;
      if (t[pos] == '|') {
        bar = true, ++n;
        continue;
      }
      bool quote = false;
      for (const auto& q : quotes) {
        const size_t at = front ? n : t.size() - n - q.size();
        if (q.size() <= t.size() - n && t.compare(at, q.size(), q) == 0) {
          n += q.size(), quote = true;
          break;
        }
      }
      if (!quote) break;
    }
    if (bar) t = front ? t.substr(n) : t.substr(0, t.size() - n);
    return bar;
  };
  std::string t = word;
  lead = take(t, true);
  trail = !t.empty() && take(t, false);
  return t;
}

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return {};
  return s.substr(b, s.find_last_not_of(" \t\r\n") - b + 1);
}

// The em (font size) in pixels implied by a word's box height and the letters in it: ascenders
// and capitals reach ~0.72 em above the baseline, x-height letters ~0.5 em, descenders go ~0.22 em
// below. Tesseract's own row metrics are fitted per line and go astray on short table rows; this
// is local to each word. Returns 0 when the word says nothing reliable (too short, brackets).
float word_em(const word& w) {
  bool tall = false, low = false, comma = false;
  int letters = 0;
  for (unsigned char c : w.text) {
    if (c >= 0x80) return 0;  // non-ASCII glyph heights are unknown here
    if (std::strchr("()[]{}/\\|@$", c)) return 0;  // reach above and below the usual lines
    if (std::isalnum(c)) ++letters;
    if (std::isupper(c) || std::isdigit(c) || std::strchr("bdfhkli!?", c)) tall = true;
    if (std::strchr("gjpqy", c)) low = true;
    if (c == ',' || c == ';') comma = true;
  }
  if (letters < 2) return 0;
  const float top = tall ? 0.72f : 0.5f;
  const float bottom = low ? 0.22f : comma ? 0.12f : 0.f;
  return static_cast<float>(w.y1 - w.y0) / (top + bottom);
}

// A line segment being built: consecutive words of one Tesseract line without a wide gap.
struct segment {
  std::vector<const word*> words;
  int x0 = 0, y0 = 0, x1 = 0, y1 = 0;
  float raw_size = 0;  // points, before snapping
  float stroke_ratio = 0;
  int chars = 0;
};

// Weighted median of (value, weight) pairs; 0 for none.
float weighted_median(std::vector<std::pair<float, int>> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  long total = 0;
  for (const auto& [value, w] : v) total += std::max(w, 1);
  long seen = 0;
  for (const auto& [value, w] : v) {
    seen += std::max(w, 1);
    if (seen * 2 >= total) return value;
  }
  return v.back().first;
}

// Groups the segment sizes into clusters of "the same size" and gives each segment its cluster's
// (character-weighted) median, rounded to a quarter point.
void snap_sizes(std::vector<segment>& segs, std::vector<float>& sizes) {
  std::vector<size_t> order(segs.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return segs[a].raw_size < segs[b].raw_size; });
  sizes.assign(segs.size(), 0);
  size_t start = 0;
  while (start < order.size()) {
    size_t end = start + 1;
    const float base = segs[order[start]].raw_size;
    while (end < order.size() && segs[order[end]].raw_size <= base * kSameSize) ++end;
    std::vector<std::pair<float, int>> members;
    for (size_t k = start; k < end; ++k) members.emplace_back(segs[order[k]].raw_size, segs[order[k]].chars);
    const float snapped = std::round(weighted_median(std::move(members)) * 4) / 4;
    for (size_t k = start; k < end; ++k) sizes[order[k]] = snapped;
    start = end;
  }
}

}  // namespace

void place_words(std::vector<word> words, const geometry& geo, layout::page_model& out) {
  // 1. Noise and rules. Table rules come back as '|' glued to cell text ("|D.Havel") or alone;
  // they are removed, and remembered as forced splits, since a rule separates two cells.
  std::vector<word> kept;
  std::vector<bool> split_before;  // parallel to `kept`
  kept.reserve(words.size());
  bool rule_pending = false;
  int last_line = -1;
  for (auto& w : words) {
    if (w.line != last_line) rule_pending = false, last_line = w.line;
    bool lead = false, trail = false;
    w.text = trim(strip_bars(trim(w.text), lead, trail));
    if (w.text.empty() && (lead || trail)) {
      rule_pending = true;
      continue;
    }
    if (w.text.empty() || w.x1 <= w.x0 || w.y1 <= w.y0) continue;
    // Punctuation-only words that are also doubtful are marks on the paper, not text. Words
    // with letters are kept whatever their confidence: on ruled tables Tesseract reports real
    // cell text ("C. Moreau") at confidence 0, and a garbled word still scores better than none.
    if (!has_alnum(w.text) && !is_bullet(w.text) && w.confidence < 60) continue;
    split_before.push_back(rule_pending || lead || w.rule_before);
    rule_pending = trail;
    kept.push_back(std::move(w));
  }

  // 2. Segments: split each Tesseract line where a wide gap separates two words.
  std::vector<segment> segs;
  for (size_t i = 0; i < kept.size();) {
    size_t j = i;
    while (j < kept.size() && kept[j].line == kept[i].line) ++j;
    const word& first = kept[i];
    float xh = first.x_height;
    if (!(xh > 0)) {  // no row metrics: half the median word height is a fair x-height
      std::vector<std::pair<float, int>> hs;
      for (size_t k = i; k < j; ++k) hs.emplace_back(static_cast<float>(kept[k].y1 - kept[k].y0), 1);
      xh = weighted_median(hs) * 0.5f;
    }
    std::vector<std::pair<float, int>> line_ems;  // fallback for segments without a usable word
    for (size_t k = i; k < j; ++k)
      if (const float em = word_em(kept[k]); em > 0) line_ems.emplace_back(em, count_chars(kept[k].text));
    const float line_em = weighted_median(line_ems);
    segment cur;
    for (size_t k = i; k < j; ++k) {
      const word& w = kept[k];
      const bool after_bullet = !cur.words.empty() && is_bullet(cur.words.back()->text);
      const bool wide = static_cast<float>(w.x0 - cur.x1) > kWideGap * xh;
      if (!cur.words.empty() && !after_bullet && (wide || split_before[k])) {
        segs.push_back(std::move(cur));
        cur = {};
      }
      if (cur.words.empty()) cur.x0 = w.x0, cur.y0 = w.y0, cur.x1 = w.x1, cur.y1 = w.y1;
      cur.x0 = std::min(cur.x0, w.x0), cur.y0 = std::min(cur.y0, w.y0);
      cur.x1 = std::max(cur.x1, w.x1), cur.y1 = std::max(cur.y1, w.y1);
      cur.words.push_back(&w);
    }
    if (!cur.words.empty()) segs.push_back(std::move(cur));
    for (auto s = segs.end() - 1;; --s) {  // metrics of the segments just added
      if (s->words.front()->line != first.line) break;
      std::vector<std::pair<float, int>> strokes, ems;
      s->chars = 0;
      for (const word* w : s->words) {
        const int n = count_chars(w->text);
        s->chars += n;
        if (w->stroke > 0) strokes.emplace_back(w->stroke, n);
        if (const float em = word_em(*w); em > 0) ems.emplace_back(em, n);
      }
      // Two estimates: from the word boxes, and from Tesseract's x-height for the line. Both go
      // wrong the same way — too large, when a box or a row takes in a rule, shading or a speck
      // — so the smaller is the better one.
      const float em = ems.empty() ? line_em : weighted_median(ems);
      const float from_xh = xh / kXHeightPerEm;
      s->raw_size = (em > 0 ? std::min(em, from_xh) : from_xh) / geo.scale;
      s->stroke_ratio = xh > 0 ? weighted_median(strokes) / xh : 0;
      if (s == segs.begin()) break;
    }
    i = j;
  }
  if (segs.empty()) return;

  // 3. Page-level decisions: uniform sizes per cluster, bold relative to the page's usual stroke.
  std::vector<float> sizes;
  snap_sizes(segs, sizes);
  std::vector<std::pair<float, int>> ratios;
  for (const auto& s : segs)
    if (s.stroke_ratio > 0) ratios.emplace_back(s.stroke_ratio, s.chars);
  const float usual_stroke = weighted_median(ratios);

  // 4. Emit lines in Tesseract's reading order, in PDF points.
  const auto px = [&](float v) { return geo.x0 + v / geo.scale; };
  const auto py = [&](float v) { return geo.y0 + v / geo.scale; };
  int page_chars = 0;
  for (size_t k = 0; k < segs.size(); ++k) {
    const segment& s = segs[k];
    const word& first = *s.words.front();
    layout::span sp;
    for (const word* w : s.words) {
      if (!sp.text.empty()) sp.text += ' ';
      sp.text += w->text;
    }
    sp.box = {px(static_cast<float>(s.x0)), py(static_cast<float>(s.y0)), px(static_cast<float>(s.x1)),
              py(static_cast<float>(s.y1))};
    sp.size = sizes[k];
    // The baseline under the segment's centre (Tesseract's line baseline is a sloped segment
    // on skewed scans); without one, the bottom of the box less a typical descent.
    float base_px = static_cast<float>(s.y1) + first.descenders;
    if (first.has_baseline && first.baseline_x1 != first.baseline_x0) {
      const float cx = (s.x0 + s.x1) / 2.0f;
      const float t = (cx - first.baseline_x0) / (first.baseline_x1 - first.baseline_x0);
      base_px = first.baseline_y0 + t * (first.baseline_y1 - first.baseline_y0);
    }
    sp.baseline = py(base_px);
    sp.font = "OCR";
    sp.bold = usual_stroke > 0 && ratios.size() >= 2 && s.stroke_ratio > kBoldStroke * usual_stroke;
    layout::line l;
    l.box = sp.box;
    l.block = first.block;
    l.seq = static_cast<int>(out.lines.size());
    const int n_code_points = count_chars(sp.text) + static_cast<int>(std::count(sp.text.begin(), sp.text.end(), ' '));
    l.size = sp.size;
    l.baseline = sp.baseline;
    l.chars = s.chars;
    l.char_width = n_code_points > 0 ? sp.box.width() / n_code_points : 0;
    page_chars += s.chars;
    l.spans.push_back(std::move(sp));
    out.lines.push_back(std::move(l));
  }
  out.chars += page_chars;
}

void level(layout::page_model& page, const turn& t) {
  if (t.degrees == 0) return;
  const double r = t.degrees * 3.14159265358979 / 180, c = std::cos(r), s = std::sin(r), tn = std::tan(r);
  // The point that lay on a line of skew `degrees` through the centre comes to lie level.
  auto move = [&](float x, float y) {
    const double dx = x - t.cx, dy = y - t.cy;
    return std::pair<float, float>{static_cast<float>(t.cx + dx * c + dy * s), static_cast<float>(t.cy - dx * s + dy * c)};
  };
  auto shift = [&](layout::rect& b, float w, float h) {
    const auto [x, y] = move(b.cx(), b.cy());
    b = {x - w / 2, y - h / 2, x + w / 2, y + h / 2};
  };
  for (auto& rule : page.rules) {
    // A ruling line found in the skewed raster has a box made taller (wider) by its slant; level,
    // it is only as thick as the box less that slant.
    const float w = rule.box.width(), h = rule.box.height();
    if (rule.horizontal)
      shift(rule.box, w, std::max(0.5f, h - static_cast<float>(std::abs(w * tn))));
    else
      shift(rule.box, std::max(0.5f, w - static_cast<float>(std::abs(h * tn))), h);
  }
  for (auto& m : page.marks) shift(m.box, m.box.width(), m.box.height());
  for (auto& f : page.fills) shift(f, f.width(), f.height());
  for (auto& im : page.images) shift(im.box, im.box.width(), im.box.height());
  for (auto& l : page.links) shift(l.box, l.box.width(), l.box.height());
}

}  // namespace detail

#ifdef QUIRE_HAVE_TESSERACT

struct recognizer::impl {
  settings cfg;
  std::optional<std::chrono::steady_clock::time_point> deadline;
  detail::turn turned;     // how the last page was levelled
  bool timed_out = false;  // set by the last recognise()
  std::unique_ptr<tesseract::TessBaseAPI> api;
  std::string languages;  // the spec `api` was initialised with

  bool ensure(const std::string& spec, std::string& error) {
    if (api && languages == spec) return true;
    if (std::string problem = check_languages(spec); !problem.empty()) {
      error = problem;
      return false;
    }
    api.reset();
    auto fresh = std::make_unique<tesseract::TessBaseAPI>();
    // Tesseract's diagnostics must not reach our stderr (`quire convert` without -o writes only
    // Markdown to stdout, and the service logs structured lines).
    const std::vector<std::string> names{"debug_file"}, values{"/dev/null"};
    const std::string dir = tessdata_dir();
    if (fresh->Init(dir.c_str(), spec.c_str(), tesseract::OEM_LSTM_ONLY, nullptr, 0, &names, &values, false) != 0) {
      error = "Tesseract could not load the OCR language model(s) '" + spec + "' (TESSDATA_PREFIX)";
      return false;
    }
    fresh->SetPageSegMode(tesseract::PSM_AUTO);
    api = std::move(fresh);
    languages = spec;
    return true;
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

bool recognizer::recognize(fz_context* ctx, fz_page* page, const std::string& languages, layout::page_model& out,
                           std::string& error) {
  if (!ctx || !page) {
    error = "no page to recognise";
    return false;
  }
  if (!impl_->ensure(languages, error)) return false;
  if (impl_->deadline && std::chrono::steady_clock::now() >= *impl_->deadline) {
    error = "OCR stopped at the deadline";
    return false;
  }
  raster::image img;
  if (!raster::render(ctx, page, impl_->cfg.dpi, impl_->cfg.max_pixels, img, error)) return false;
  impl_->turned = {};
  if (impl_->cfg.deskew) {
    // Below a tenth of a degree a row drifts under a point across the page: not worth the blur.
    if (const float skew = raster::estimate_skew(img); std::abs(skew) >= 0.1f) {
      raster::deskew(img, skew);
      impl_->turned = {skew, img.x0 + img.width / (2 * img.scale), img.y0 + img.height / (2 * img.scale)};
    }
  }
  std::vector<detail::word> words = impl_->recognise(img);
  if (impl_->timed_out) {
    error = "OCR stopped at the deadline";
    return false;
  }
  detail::place_words(std::move(words), {img.scale, img.x0, img.y0}, out);
  if (out.width <= 0 || out.height <= 0) {
    out.width = static_cast<float>(img.width / img.scale);
    out.height = static_cast<float>(img.height / img.scale);
  }
  out.from_ocr = true;
  return true;
}

#else  // built without Tesseract: recognition reports why it cannot run.

struct recognizer::impl {
  settings cfg;
  std::optional<std::chrono::steady_clock::time_point> deadline;
  detail::turn turned;
};

recognizer::recognizer(settings s) : impl_(std::make_unique<impl>()) { impl_->cfg = s; }
recognizer::~recognizer() = default;

bool recognizer::recognize(fz_context*, fz_page*, const std::string& languages, layout::page_model&,
                           std::string& error) {
  error = check_languages(languages);
  return false;
}

#endif

void recognizer::level(layout::page_model& page) const { detail::level(page, impl_->turned); }
float recognizer::last_skew() const { return impl_->turned.degrees; }

void recognizer::set_deadline(std::optional<std::chrono::steady_clock::time_point> when) { impl_->deadline = when; }

bool recognize_page(fz_context* ctx, fz_page* page, const std::string& languages, layout::page_model& out,
                    std::string& error) {
  recognizer once;
  return once.recognize(ctx, page, languages, out, error);
}

}  // namespace quire::convert::ocr
