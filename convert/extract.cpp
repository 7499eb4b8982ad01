// Stage 1: one MuPDF page → layout::page_model. See extract.hpp; the parts are listed in
// extract_internal.hpp. This file runs the page through the collecting device (again, turned,
// when most of its text runs sideways), keeps its safe links and builds its lines.
//
// MuPDF reports errors with longjmp: each MuPDF call here that can throw sits in an fz_try of its
// own, and an error comes back as a status (errc::pdf_unreadable) with MuPDF's message.
#include "convert/detail/extract.hpp"

#include <algorithm>
#include <cctype>

#include "convert/detail/extract_internal.hpp"

namespace quire::convert {

using extract_detail::build_lines;
using extract_detail::collected;
using extract_detail::new_collect_device;

bool safe_link_target(std::string_view uri) {
  // Viewers skip control characters and blanks inside a scheme ("java\tscript:"): none is allowed.
  for (char c : uri)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return false;
  while (!uri.empty() && uri.front() == ' ') uri.remove_prefix(1);
  // RFC 3986 scheme: a letter, then letters, digits, '+', '-', '.', up to the first ':'.
  std::size_t n = 0;
  while (n < uri.size() && (std::isalnum(static_cast<unsigned char>(uri[n])) || uri[n] == '+' || uri[n] == '-' ||
                            uri[n] == '.'))
    ++n;
  if (n == 0 || n == uri.size() || uri[n] != ':' || !std::isalpha(static_cast<unsigned char>(uri[0])))
    return true;  // no scheme: a relative or "#" target
  std::string scheme(uri.substr(0, n));
  std::transform(scheme.begin(), scheme.end(), scheme.begin(), [](unsigned char c) { return std::tolower(c); });
  return scheme == "http" || scheme == "https" || scheme == "mailto";
}

namespace {

// One run of the page through the collecting device under `ctm`: the structured text (owned by the
// caller, also on failure) and the shapes and images in `col`. errc::pdf_unreadable with MuPDF's
// message when MuPDF fails (or the page is aborted: the caller tells a deadline or budget apart).
status run_page(fz_context* ctx, fz_page* page, fz_matrix ctm, fz_rect bounds, collected& col,
                const extract_options& options, fz_stext_page*& text) {
  fz_device* tdev = nullptr;
  fz_device* cdev = nullptr;
  int failed = 0;
  fz_var(tdev);
  fz_var(cdev);
  fz_try(ctx) {
    text = fz_new_stext_page(ctx, bounds);
    fz_stext_options so{};
    so.flags = FZ_STEXT_PRESERVE_WHITESPACE | FZ_STEXT_INHIBIT_SPACES;
    tdev = fz_new_stext_device(ctx, text, &so);
    cdev = new_collect_device(ctx, tdev, &col, options);
    fz_run_page(ctx, page, cdev, ctm, options.cookie);
    fz_close_device(ctx, cdev);
    fz_close_device(ctx, tdev);
  }
  fz_always(ctx) {
    fz_drop_device(ctx, cdev);
    fz_drop_device(ctx, tdev);
  }
  fz_catch(ctx) { failed = 1; }
  if (failed) return error{errc::pdf_unreadable, fz_caught_message(ctx)};
  return ok_v;
}

// The turn (0, 90, 180 or 270 degrees) that makes most of the page's text run left to right: a
// landscape table or a page set sideways. 0 unless the text at one other angle outweighs the
// horizontal text (a rotated label or watermark on a portrait page stays a minority).
int dominant_rotation(const fz_stext_page* text) {
  long count[4] = {0, 0, 0, 0};  // by the turn that reads it: 0, 90, 180, 270
  for (fz_stext_block* b = text->first_block; b; b = b->next) {
    if (b->type != FZ_STEXT_BLOCK_TEXT) continue;
    for (fz_stext_line* l = b->u.t.first_line; l; l = l->next) {
      int k = -1;
      if (l->dir.x > 0.9f) k = 0;
      else if (l->dir.y < -0.9f) k = 1;  // runs bottom to top: turn the page a quarter clockwise
      else if (l->dir.x < -0.9f) k = 2;
      else if (l->dir.y > 0.9f) k = 3;
      if (k < 0) continue;
      for (fz_stext_char* ch = l->first_char; ch; ch = ch->next)
        if (ch->c > ' ') ++count[k];
    }
  }
  int best = 0;
  for (int k = 1; k < 4; ++k)
    if (count[k] > count[best]) best = k;
  return best > 0 && count[best] >= 10 ? 90 * best : 0;
}

}  // namespace

status extract_page(fz_context* ctx, fz_page* page, int number, const extract_options& options,
                    std::vector<asset>& assets, layout::page_model& out) {
  out = layout::page_model{};
  out.number = number;
  const size_t assets_before = assets.size();
  collected col;
  col.assets = &assets;
  col.want_images = options.images;
  col.page_number = number;

  fz_stext_page* text = nullptr;
  fz_link* links = nullptr;
  fz_rect bounds{0, 0, 0, 0};
  fz_matrix ctm = fz_identity;
  int failed = 0;
  fz_var(links);
  fz_var(bounds);
  fz_try(ctx) {
    bounds = fz_bound_page(ctx, page);
    links = fz_load_links(ctx, page);
  }
  fz_catch(ctx) { failed = 1; }
  status ok = ok_v;
  if (failed) ok = error{errc::pdf_unreadable, fz_caught_message(ctx)};
  col.page_w = bounds.x1 - bounds.x0;
  col.page_h = bounds.y1 - bounds.y0;
  if (ok) ok = run_page(ctx, page, ctm, bounds, col, options, text);
  if (const int turn = ok ? dominant_rotation(text) : 0) {
    // read the page in its text's direction: run it again turned, shapes and links with it
    const fz_matrix rot = fz_rotate(static_cast<float>(turn));
    const fz_rect turned = fz_transform_rect(bounds, rot);
    ctm = fz_concat(rot, fz_translate(-turned.x0, -turned.y0));
    bounds = fz_transform_rect(bounds, ctm);
    fz_drop_stext_page(ctx, text);
    text = nullptr;
    assets.resize(assets_before);
    col = collected{};
    col.assets = &assets;
    col.want_images = options.images;
    col.page_number = number;
    col.page_w = bounds.x1 - bounds.x0;
    col.page_h = bounds.y1 - bounds.y0;
    ok = run_page(ctx, page, ctm, bounds, col, options, text);
    out.rotation = turn;
  }

  out.width = bounds.x1 - bounds.x0;
  out.height = bounds.y1 - bounds.y0;
  for (fz_link* l = links; l; l = l->next) {
    if (!l->uri || !fz_is_external_link(ctx, l->uri) || !safe_link_target(l->uri)) continue;
    const fz_rect r = fz_transform_rect(l->rect, ctm);
    out.links.push_back({{r.x0, r.y0, r.x1, r.y1}, l->uri});
  }
  fz_drop_link(ctx, links);
  if (text && ok) build_lines(ctx, text, out.links, out);
  fz_drop_stext_page(ctx, text);
  out.rules = std::move(col.rules);
  out.marks = std::move(col.marks);
  out.fills = std::move(col.fills);
  out.images = std::move(col.images);
  return ok;
}

}  // namespace quire::convert
