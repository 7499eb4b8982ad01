// Builds small PDFs in memory for the engine tests, the way `mutool create` does: each page is a
// content stream with exact fonts and positions. Fonts: F1 Helvetica, F2 Helvetica-Bold,
// F3 Courier, F4 Helvetica-Oblique, F5 Times-Roman (WinAnsi encoding, so "\225" is a bullet),
// F6 a Type 3 font (no name, no flags) whose box glyphs all advance 600/1000 em: monospace only
// by its advances; F7 Courier whose codes \200 and \201 draw a listing's line-break marks
// (U+230B, U+21AA, named in the encoding's Differences) at Courier's advance; F8 Courier-Bold;
// a page may carry one raster image as /Im0 (scans, image-only tables, photos).
// Coordinates in content streams are PDF's (origin bottom left, 612 x 792 page).
#pragma once

extern "C" {
#include <mupdf/fitz.h>
#include <mupdf/pdf.h>
}

#include <algorithm>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace quire::test {

struct link_spec {
  float x0, y0, x1, y1;  // PDF coordinates
  std::string uri;
};

// An uncompressed raster: gray (components 1) or RGB (3), rows top to bottom, no padding.
struct raster_image {
  int width = 0, height = 0, components = 1;
  std::vector<unsigned char> samples;
};

struct page_spec {
  page_spec(std::string c, std::vector<link_spec> l = {}) : content(std::move(c)), links(std::move(l)) {}  // NOLINT
  page_spec(std::string c, raster_image img) : content(std::move(c)), image(std::move(img)) {}
  std::string content;
  std::vector<link_spec> links;
  std::optional<raster_image> image;  // the XObject /Im0 of this page
};

// One bookmark: its depth (1 = top), title and target page (0-based).
struct outline_spec {
  int level = 1;
  std::string title;
  int page = 0;
};

struct build_options {
  std::string user_password;  // non-empty: encrypt (AES-256)
  std::vector<outline_spec> outline;  // the document outline (bookmarks), in order
};

// Adds the outline: each entry is the child of the last entry one level up.
inline void add_outline(fz_context* ctx, pdf_document* doc, const std::vector<outline_spec>& entries) {
  pdf_obj* root = pdf_add_new_dict(ctx, doc, 4);
  pdf_dict_put(ctx, root, PDF_NAME(Type), PDF_NAME(Outlines));
  std::vector<pdf_obj*> parents{root}, last{nullptr}, items;
  for (const auto& e : entries) {
    const size_t depth = static_cast<size_t>(std::clamp(e.level, 1, static_cast<int>(parents.size())));
    parents.resize(depth);
    last.resize(depth);
    pdf_obj* parent = parents.back();
    pdf_obj* it = pdf_add_new_dict(ctx, doc, 6);
    items.push_back(it);
    pdf_dict_put_text_string(ctx, it, PDF_NAME(Title), e.title.c_str());
    pdf_dict_put(ctx, it, PDF_NAME(Parent), parent);
    pdf_obj* dest = pdf_dict_put_array(ctx, it, PDF_NAME(Dest), 2);
    pdf_array_push(ctx, dest, pdf_lookup_page_obj(ctx, doc, e.page));
    pdf_array_push(ctx, dest, PDF_NAME(Fit));
    if (pdf_obj* prev = last.back()) {
      pdf_dict_put(ctx, prev, PDF_NAME(Next), it);
      pdf_dict_put(ctx, it, PDF_NAME(Prev), prev);
    } else {
      pdf_dict_put(ctx, parent, PDF_NAME(First), it);
    }
    pdf_dict_put(ctx, parent, PDF_NAME(Last), it);
    last.back() = it;
    parents.push_back(it);
    last.push_back(nullptr);
  }
  pdf_dict_put_int(ctx, root, PDF_NAME(Count), static_cast<int64_t>(entries.size()));
  pdf_dict_put(ctx, pdf_dict_get(ctx, pdf_trailer(ctx, doc), PDF_NAME(Root)), PDF_NAME(Outlines), root);
  for (pdf_obj* it : items) pdf_drop_obj(ctx, it);
  pdf_drop_obj(ctx, root);
}

// Text helpers for content streams.
inline std::string text_at(const char* font, float size, float x, float y, const std::string& s) {
  return "BT /" + std::string(font) + " " + std::to_string(size) + " Tf " + std::to_string(x) + " " +
         std::to_string(y) + " Td (" + s + ") Tj ET\n";
}

inline std::string make_pdf(const std::vector<page_spec>& pages, const build_options& opts = {}) {
  fz_context* ctx = fz_new_context(nullptr, nullptr, FZ_STORE_UNLIMITED);
  if (!ctx) throw std::runtime_error("no MuPDF context");
  std::string bytes;
  pdf_document* doc = nullptr;
  fz_buffer* out_buf = nullptr;
  fz_output* out = nullptr;
  fz_var(doc);
  fz_var(out_buf);
  fz_var(out);
  int failed = 0;
  fz_var(failed);
  fz_try(ctx) {
    doc = pdf_create_document(ctx);
    const char* names[] = {"Helvetica", "Helvetica-Bold", "Courier", "Helvetica-Oblique", "Times-Roman", "Courier-Bold"};
    pdf_obj* fonts[6];
    for (int i = 0; i < 6; ++i) {
      fz_font* f = fz_new_base14_font(ctx, names[i]);
      fonts[i] = pdf_add_simple_font(ctx, doc, f, PDF_SIMPLE_ENCODING_LATIN);
      fz_drop_font(ctx, f);
    }
    // F6: a Type 3 font whose glyphs (plain boxes) all advance 600/1000 em
    static const char* const glyph_names =
        "space exclam quotedbl numbersign dollar percent ampersand quotesingle parenleft parenright asterisk "
        "plus comma hyphen period slash zero one two three four five six seven eight nine colon semicolon less "
        "equal greater question at A B C D E F G H I J K L M N O P Q R S T U V W X Y Z bracketleft backslash "
        "bracketright asciicircum underscore grave a b c d e f g h i j k l m n o p q r s t u v w x y z braceleft "
        "bar braceright asciitilde";
    pdf_obj* uniform = pdf_add_new_dict(ctx, doc, 8);
    pdf_dict_put(ctx, uniform, PDF_NAME(Type), PDF_NAME(Font));
    pdf_dict_put(ctx, uniform, PDF_NAME(Subtype), PDF_NAME(Type3));
    pdf_dict_put_rect(ctx, uniform, PDF_NAME(FontBBox), fz_make_rect(0, 0, 600, 700));
    pdf_obj* fm = pdf_dict_put_array(ctx, uniform, PDF_NAME(FontMatrix), 6);
    for (float v : {0.001f, 0.0f, 0.0f, 0.001f, 0.0f, 0.0f}) pdf_array_push_real(ctx, fm, v);
    pdf_dict_put_int(ctx, uniform, PDF_NAME(FirstChar), 32);
    pdf_dict_put_int(ctx, uniform, PDF_NAME(LastChar), 126);
    pdf_obj* widths = pdf_dict_put_array(ctx, uniform, PDF_NAME(Widths), 95);
    for (int c = 32; c <= 126; ++c) pdf_array_push_int(ctx, widths, 600);
    pdf_obj* enc = pdf_dict_put_dict(ctx, uniform, PDF_NAME(Encoding), 2);
    pdf_obj* diffs = pdf_dict_put_array(ctx, enc, PDF_NAME(Differences), 96);
    pdf_array_push_int(ctx, diffs, 32);
    pdf_obj* procs = pdf_dict_put_dict(ctx, uniform, PDF_NAME(CharProcs), 95);
    const char box[] = "600 0 50 0 550 700 d1 50 0 500 700 re f";
    fz_buffer* box_buf = fz_new_buffer_from_copied_data(ctx, reinterpret_cast<const unsigned char*>(box), sizeof box - 1);
    pdf_obj* box_proc = pdf_add_stream(ctx, doc, box_buf, nullptr, 0);
    fz_drop_buffer(ctx, box_buf);
    const char blank[] = "600 0 0 0 0 0 d1";
    fz_buffer* blank_buf = fz_new_buffer_from_copied_data(ctx, reinterpret_cast<const unsigned char*>(blank), sizeof blank - 1);
    pdf_obj* blank_proc = pdf_add_stream(ctx, doc, blank_buf, nullptr, 0);
    fz_drop_buffer(ctx, blank_buf);
    for (const char *p = glyph_names, *e = p; *p; p = *e ? e + 1 : e) {
      for (e = p; *e && *e != ' '; ++e) {}
      const std::string name(p, e);
      pdf_array_push_name(ctx, diffs, name.c_str());
      pdf_dict_puts(ctx, procs, name.c_str(), name == "space" ? blank_proc : box_proc);
    }
    pdf_drop_obj(ctx, box_proc);
    pdf_drop_obj(ctx, blank_proc);
    // F7: Courier with two codes renamed to mark glyphs (MuPDF reads uniXXXX names as Unicode)
    fz_font* courier = fz_new_base14_font(ctx, "Courier");
    pdf_obj* marked = pdf_add_simple_font(ctx, doc, courier, PDF_SIMPLE_ENCODING_LATIN);
    fz_drop_font(ctx, courier);
    pdf_obj* marked_enc = pdf_dict_put_dict(ctx, marked, PDF_NAME(Encoding), 2);
    pdf_dict_put(ctx, marked_enc, PDF_NAME(BaseEncoding), PDF_NAME(WinAnsiEncoding));
    pdf_obj* marked_diffs = pdf_dict_put_array(ctx, marked_enc, PDF_NAME(Differences), 3);
    pdf_array_push_int(ctx, marked_diffs, 128);
    pdf_array_push_name(ctx, marked_diffs, "uni230B");
    pdf_array_push_name(ctx, marked_diffs, "uni21AA");
    for (size_t p = 0; p < pages.size(); ++p) {
      pdf_obj* res = pdf_new_dict(ctx, doc, 1);
      pdf_obj* fd = pdf_dict_put_dict(ctx, res, PDF_NAME(Font), 6);
      for (int i = 0; i < 5; ++i) pdf_dict_puts(ctx, fd, ("F" + std::to_string(i + 1)).c_str(), fonts[i]);
      pdf_dict_puts(ctx, fd, "F6", uniform);
      pdf_dict_puts(ctx, fd, "F7", marked);
      pdf_dict_puts(ctx, fd, "F8", fonts[5]);
      if (const auto& im = pages[p].image) {
        fz_colorspace* cs = im->components == 3 ? fz_device_rgb(ctx) : fz_device_gray(ctx);
        fz_pixmap* pix = fz_new_pixmap(ctx, cs, im->width, im->height, nullptr, 0);
        std::copy(im->samples.begin(), im->samples.end(), fz_pixmap_samples(ctx, pix));
        fz_image* img = fz_new_image_from_pixmap(ctx, pix, nullptr);
        fz_drop_pixmap(ctx, pix);
        pdf_dict_puts_drop(ctx, pdf_dict_put_dict(ctx, res, PDF_NAME(XObject), 1), "Im0", pdf_add_image(ctx, doc, img));
        fz_drop_image(ctx, img);
      }
      fz_buffer* contents = fz_new_buffer_from_copied_data(
          ctx, reinterpret_cast<const unsigned char*>(pages[p].content.data()), pages[p].content.size());
      pdf_obj* page = pdf_add_page(ctx, doc, fz_make_rect(0, 0, 612, 792), 0, res, contents);
      fz_drop_buffer(ctx, contents);
      pdf_drop_obj(ctx, res);
      if (!pages[p].links.empty()) {
        pdf_obj* annots = pdf_dict_put_array(ctx, page, PDF_NAME(Annots), 1);
        for (const auto& l : pages[p].links) {
          pdf_obj* a = pdf_add_new_dict(ctx, doc, 4);
          pdf_dict_put(ctx, a, PDF_NAME(Type), PDF_NAME(Annot));
          pdf_dict_put(ctx, a, PDF_NAME(Subtype), PDF_NAME(Link));
          pdf_dict_put_rect(ctx, a, PDF_NAME(Rect), fz_make_rect(l.x0, l.y0, l.x1, l.y1));
          pdf_obj* act = pdf_dict_put_dict(ctx, a, PDF_NAME(A), 2);
          pdf_dict_put(ctx, act, PDF_NAME(S), PDF_NAME(URI));
          pdf_dict_put_text_string(ctx, act, PDF_NAME(URI), l.uri.c_str());
          pdf_array_push(ctx, annots, a);
          pdf_drop_obj(ctx, a);
        }
      }
      pdf_insert_page(ctx, doc, -1, page);
      pdf_drop_obj(ctx, page);
    }
    if (!opts.outline.empty()) add_outline(ctx, doc, opts.outline);
    for (int i = 0; i < 6; ++i) pdf_drop_obj(ctx, fonts[i]);
    pdf_drop_obj(ctx, uniform);
    pdf_drop_obj(ctx, marked);
    pdf_write_options wo = pdf_default_write_options;
    if (!opts.user_password.empty()) {
      wo.do_encrypt = PDF_ENCRYPT_AES_256;
      fz_strlcpy(wo.upwd_utf8, opts.user_password.c_str(), sizeof wo.upwd_utf8);
      fz_strlcpy(wo.opwd_utf8, "owner-password", sizeof wo.opwd_utf8);
      wo.permissions = -1;
    }
    out_buf = fz_new_buffer(ctx, 4096);
    out = fz_new_output_with_buffer(ctx, out_buf);
    pdf_write_document(ctx, doc, out, &wo);
    fz_close_output(ctx, out);
  }
  fz_always(ctx) {
    fz_drop_output(ctx, out);
    pdf_drop_document(ctx, doc);
  }
  fz_catch(ctx) { failed = 1; }
  if (!failed) {
    unsigned char* data = nullptr;
    size_t len = fz_buffer_storage(ctx, out_buf, &data);
    bytes.assign(reinterpret_cast<const char*>(data), len);
  }
  fz_drop_buffer(ctx, out_buf);
  fz_drop_context(ctx);
  if (failed) throw std::runtime_error("could not build the test PDF");
  return bytes;
}

// Renders a one-page PDF with `content` to a gray raster at `dpi`: the picture a scanner would take.
inline raster_image render_gray(const std::string& content, int dpi) {
  const std::string pdf = make_pdf({{content}});
  fz_context* ctx = fz_new_context(nullptr, nullptr, FZ_STORE_UNLIMITED);
  if (!ctx) throw std::runtime_error("no MuPDF context");
  fz_register_document_handlers(ctx);
  raster_image out;
  fz_stream* stm = nullptr;
  fz_document* doc = nullptr;
  fz_pixmap* pix = nullptr;
  fz_var(stm), fz_var(doc), fz_var(pix);
  int failed = 0;
  fz_var(failed);
  fz_try(ctx) {
    stm = fz_open_memory(ctx, reinterpret_cast<const unsigned char*>(pdf.data()), pdf.size());
    doc = fz_open_document_with_stream(ctx, "application/pdf", stm);
    const float s = static_cast<float>(dpi) / 72.0f;
    pix = fz_new_pixmap_from_page_number(ctx, doc, 0, fz_scale(s, s), fz_device_gray(ctx), 0);
    out.width = fz_pixmap_width(ctx, pix);
    out.height = fz_pixmap_height(ctx, pix);
    const unsigned char* px = fz_pixmap_samples(ctx, pix);
    out.samples.assign(px, px + static_cast<size_t>(out.width) * out.height);
  }
  fz_always(ctx) {
    fz_drop_pixmap(ctx, pix);
    fz_drop_document(ctx, doc);
    fz_drop_stream(ctx, stm);
  }
  fz_catch(ctx) { failed = 1; }
  fz_drop_context(ctx);
  if (failed) throw std::runtime_error("could not render the test page");
  return out;
}

}  // namespace quire::test
