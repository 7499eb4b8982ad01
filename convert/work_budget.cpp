// Work budgets that need MuPDF; see work_budget.hpp.
#include "convert/detail/work_budget.hpp"

#include <atomic>

extern "C" {
#include <mupdf/pdf.h>
}

namespace quire::convert::work_budget {
namespace {

thread_local fz_cookie* t_active = nullptr;

// Only C data in the frame of the fz_try (longjmp). Returns the bytes read before any error.
std::uint64_t inflate_count(fz_context* ctx, pdf_document* doc, pdf_obj* contents, std::uint64_t cap) {
  fz_stream* stm = nullptr;
  std::uint64_t total = 0;
  fz_var(stm);
  fz_var(total);
  fz_try(ctx) {
    stm = pdf_open_contents_stream(ctx, doc, contents);
    unsigned char buf[65536];
    while (total <= cap) {
      const size_t n = fz_read(ctx, stm, buf, sizeof buf);
      if (n == 0) break;
      total += n;
    }
  }
  fz_always(ctx) { fz_drop_stream(ctx, stm); }
  fz_catch(ctx) {}
  return total;
}

}  // namespace

fz_cookie* active_cookie() { return t_active; }

std::uint64_t content_bytes(fz_context* ctx, fz_page* page, std::uint64_t cap) {
  pdf_page* pp = pdf_page_from_fz_page(ctx, page);
  if (!pp) return 0;
  pdf_obj* contents = nullptr;
  fz_var(contents);
  fz_try(ctx) { contents = pdf_page_contents(ctx, pp); }
  fz_catch(ctx) { contents = nullptr; }
  if (!contents) return 0;
  return inflate_count(ctx, pp->doc, contents, cap);
}

page_watchdog::~page_watchdog() {
  if (t_active == &cookie_) t_active = nullptr;
  {
    std::lock_guard<std::mutex> l(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void page_watchdog::arm(std::chrono::steady_clock::time_point until) {
  {
    std::lock_guard<std::mutex> l(mu_);
    // MuPDF reads the flag without synchronisation, as its cookie is meant to be used (fitz/device.h).
    std::atomic_ref<int>(cookie_.abort).store(0);
    until_ = until;
    fired_ = false;
    if (!thread_.joinable()) thread_ = std::thread([this] { loop(); });
  }
  t_active = &cookie_;
  cv_.notify_all();
}

void page_watchdog::disarm() {
  if (t_active == &cookie_) t_active = nullptr;
  std::lock_guard<std::mutex> l(mu_);
  until_.reset();
  std::atomic_ref<int>(cookie_.abort).store(0);
}

bool page_watchdog::fired() {
  std::lock_guard<std::mutex> l(mu_);
  return fired_;
}

void page_watchdog::loop() {
  std::unique_lock<std::mutex> l(mu_);
  while (!stop_) {
    if (!until_) {
      cv_.wait(l);
      continue;
    }
    if (std::chrono::steady_clock::now() >= *until_) {
      std::atomic_ref<int>(cookie_.abort).store(1);
      fired_ = true;
      until_.reset();
      continue;
    }
    cv_.wait_until(l, *until_);
  }
}

}  // namespace quire::convert::work_budget
