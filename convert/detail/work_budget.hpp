// quire::convert — the pieces of options::limits that need MuPDF: how many bytes a page's content
// streams inflate to (counted before the page runs, up to a cap), and a watchdog thread that stops
// a page's interpretation through MuPDF's cookie when its time is up. Content that draws nothing
// (a gigabyte of `q Q`) is invisible to a device, so neither a deadline checked at drawing calls
// nor an operation count alone bounds it; the byte count and the cookie do.
#pragma once

extern "C" {
#include <mupdf/fitz.h>
}

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

namespace quire::convert::work_budget {

// Inflates the content streams of `page` (a PDF page) and counts their bytes, reading at most
// cap plus one read buffer (a result above cap means "more than cap"). A stream MuPDF cannot read counts what was read
// before the error: the page then fails on its own when it runs.
std::uint64_t content_bytes(fz_context* ctx, fz_page* page, std::uint64_t cap);

// The cookie of the page being converted on this thread (nullptr when none is armed). Every render
// of the page (raster analysis, OCR, figure crops) passes it to MuPDF, so the watchdog stops those
// interpretations of a hostile page too, not only the text extraction.
fz_cookie* active_cookie();

// One per conversion. The thread starts on the first arm() and ends with the object. While armed
// its cookie is this thread's active_cookie().
class page_watchdog {
 public:
  page_watchdog() = default;
  ~page_watchdog();
  page_watchdog(const page_watchdog&) = delete;
  page_watchdog& operator=(const page_watchdog&) = delete;

  // From now until disarm(), cookie()->abort is set once `until` has passed.
  void arm(std::chrono::steady_clock::time_point until);
  void disarm();
  fz_cookie* cookie() { return &cookie_; }
  // Whether the abort was set since the last arm().
  bool fired();

 private:
  void loop();
  fz_cookie cookie_{};
  std::mutex mu_;
  std::condition_variable cv_;
  std::optional<std::chrono::steady_clock::time_point> until_;
  bool fired_ = false;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace quire::convert::work_budget
