// Hand-written PDFs: structures no PDF library would write (broken page trees, small files that
// cost a lot to convert: the work-budget tests).
// Header-only, zlib only (MuPDF links it), so the unit and the system tests build the same bytes.
#pragma once

#include <zlib.h>

#include <cstdio>
#include <stdexcept>
#include <string>
#include <vector>

namespace quire::test {

// `unit` repeated until `bytes` are reached, Flate-compressed (a few KB per MiB).
inline std::string deflate_repeated(const std::string& unit, std::size_t bytes) {
  std::string chunk;
  while (chunk.size() < (1u << 20)) chunk += unit;
  z_stream z{};
  if (deflateInit(&z, 1) != Z_OK) throw std::runtime_error("deflateInit");
  std::string out;
  std::vector<unsigned char> buf(1 << 16);
  std::size_t fed = 0;
  int rc = Z_OK;
  do {
    const std::size_t n = std::min(chunk.size(), bytes - fed);
    z.next_in = reinterpret_cast<Bytef*>(chunk.data());
    z.avail_in = static_cast<uInt>(n);
    fed += n;
    const int flush = fed >= bytes ? Z_FINISH : Z_NO_FLUSH;
    do {
      z.next_out = buf.data();
      z.avail_out = static_cast<uInt>(buf.size());
      rc = deflate(&z, flush);
      out.append(reinterpret_cast<char*>(buf.data()), buf.size() - z.avail_out);
    } while (z.avail_out == 0 || (flush == Z_FINISH && rc != Z_STREAM_END));
  } while (fed < bytes);
  deflateEnd(&z);
  return out;
}

// A PDF of the given objects, numbered from 1 (object 1 the catalog), with a correct xref, so
// MuPDF reads it as written, without repairing: for structures no PDF library would write.
inline std::string objects_pdf(const std::vector<std::string>& objs) {
  std::string pdf = "%PDF-1.7\n%\xe2\xe3\xcf\xd3\n";
  std::vector<std::size_t> offsets;
  for (std::size_t i = 0; i < objs.size(); ++i) {
    offsets.push_back(pdf.size());
    pdf += std::to_string(i + 1) + " 0 obj\n" + objs[i] + "\nendobj\n";
  }
  const std::size_t xref = pdf.size();
  pdf += "xref\n0 " + std::to_string(objs.size() + 1) + "\n0000000000 65535 f \n";
  for (auto off : offsets) {
    char line[24];
    std::snprintf(line, sizeof line, "%010zu 00000 n \n", off);
    pdf += line;
  }
  pdf += "trailer\n<< /Size " + std::to_string(objs.size() + 1) + " /Root 1 0 R >>\nstartxref\n" +
         std::to_string(xref) + "\n%%EOF\n";
  return pdf;
}

// `pages` pages that all draw the same content stream: `unit` repeated to `content_bytes`,
// stored compressed once. With "q Q\n" the pages draw nothing at all, yet each one costs the
// interpretation of the whole stream. A correct xref, so MuPDF needs no repair.
inline std::string shared_content_pdf(int pages, const std::string& unit, std::size_t content_bytes) {
  std::vector<std::string> objs = {"<< /Type /Catalog /Pages 2 0 R >>", "",
                                   "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"};
  const std::string packed = deflate_repeated(unit, content_bytes);
  objs.push_back("<< /Length " + std::to_string(packed.size()) + " /Filter /FlateDecode >>\nstream\n" + packed +
                 "\nendstream");
  std::string kids;
  for (int p = 0; p < pages; ++p) {
    objs.push_back("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R"
                   " /Resources << /Font << /F1 3 0 R >> >> >>");
    kids += std::to_string(objs.size()) + " 0 R ";
  }
  objs[1] = "<< /Type /Pages /Kids [" + kids + "] /Count " + std::to_string(pages) + " >>";
  return objects_pdf(objs);
}

}  // namespace quire::test
