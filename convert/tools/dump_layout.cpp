// Developer tool: prints the extracted page model (lines with styles, rules, marks, fills).
//   quire_dump_layout FILE.pdf [PAGE]
#include <cstdio>
#include <fstream>
#include <iterator>
#include <vector>

#include "convert/detail/extract.hpp"

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  std::ifstream in(argv[1], std::ios::binary);
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  fz_context* ctx = fz_new_context(nullptr, nullptr, FZ_STORE_DEFAULT);
  fz_register_document_handlers(ctx);
  fz_stream* stm = fz_open_memory(ctx, reinterpret_cast<unsigned char*>(bytes.data()), bytes.size());
  fz_document* doc = fz_open_document_with_stream(ctx, "application/pdf", stm);
  int n = fz_count_pages(ctx, doc);
  int first = argc > 2 ? atoi(argv[2]) : 1, last = argc > 2 ? atoi(argv[2]) : n;
  for (int p = first; p <= last; ++p) {
    fz_page* page = fz_load_page(ctx, doc, p - 1);
    quire::convert::layout::page_model m;
    std::vector<quire::convert::asset> assets;
    if (quire::status got = quire::convert::extract_page(ctx, page, p, {}, assets, m); !got)
      printf("=== page %d failed: %s\n", p, got.err().message.c_str());
    printf("=== page %d (%.0fx%.0f) lines=%zu rules=%zu marks=%zu fills=%zu images=%zu links=%zu\n", p, m.width,
           m.height, m.lines.size(), m.rules.size(), m.marks.size(), m.fills.size(), m.images.size(), m.links.size());
    for (auto& l : m.lines) {
      printf("L %6.1f %6.1f %6.1f %6.1f sz=%.1f cw=%.2f b=%d |", l.box.x0, l.box.y0, l.box.x1, l.box.y1, l.size,
             l.char_width, l.block);
      for (auto& s : l.spans)
        printf("<%s%s%s%s%s%s>%s", s.bold ? "B" : "", s.italic ? "I" : "", s.mono ? "M" : "", s.superscript ? "^" : "",
               s.subscript ? "_" : "", s.link >= 0 ? "L" : "", s.text.c_str());
      printf("|\n");
    }
    for (auto& r : m.rules) printf("R %c %6.1f %6.1f %6.1f %6.1f\n", r.horizontal ? 'h' : 'v', r.box.x0, r.box.y0, r.box.x1, r.box.y1);
    for (auto& r : m.marks) printf("M %s%s %6.1f %6.1f %6.1f %6.1f\n", r.filled ? "filled" : "hollow", r.round ? " round" : "", r.box.x0, r.box.y0, r.box.x1, r.box.y1);
    for (auto& r : m.fills) printf("F %6.1f %6.1f %6.1f %6.1f\n", r.x0, r.y0, r.x1, r.y1);
    fz_drop_page(ctx, page);
  }
  fz_drop_document(ctx, doc);
  fz_drop_stream(ctx, stm);
  fz_drop_context(ctx);
}
