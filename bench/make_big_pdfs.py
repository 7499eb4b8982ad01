#!/usr/bin/env python3
"""Writes the two resource-exhaustion inputs of bench/resource_bench.sh into OUT_DIR:

    long_1000.pdf    1,000 letter-size pages of running text (a heading, ~45 body lines, a running
                     header and a page number on each; every page's text differs)
    tiny_10000.pdf   10,000 pages of 72 x 72 pt with one short line each

    bench/make_big_pdfs.py OUT_DIR [--pages N] [--tiny N]

Content streams are Flate-compressed and every page shares one Helvetica font object, so the files
stay small (about 1-2 MB) while the engine has to walk every page.
"""
import os
import sys
import zlib


def write_pdf(path, page_streams, width, height):
    n = len(page_streams)
    # Objects: 1 catalog, 2 pages, 3 font, then per page: page object, content stream.
    objs = {1: b"<< /Type /Catalog /Pages 2 0 R >>",
            3: b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"}
    kids = []
    for i, content in enumerate(page_streams):
        pid, cid = 4 + 2 * i, 5 + 2 * i
        kids.append(b"%d 0 R" % pid)
        objs[pid] = (b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %d %d] /Resources << /Font << /F1 3 0 R >> >>"
                     b" /Contents %d 0 R >>" % (width, height, cid))
        data = zlib.compress(content, 6)
        objs[cid] = b"<< /Filter /FlateDecode /Length %d >>\nstream\n" % len(data) + data + b"\nendstream"
    objs[2] = b"<< /Type /Pages /Count %d /Kids [" % n + b" ".join(kids) + b"] >>"
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = {}
    for k in sorted(objs):
        offsets[k] = len(out)
        out += b"%d 0 obj\n" % k + objs[k] + b"\nendobj\n"
    xref = len(out)
    size = max(objs) + 1
    out += b"xref\n0 %d\n0000000000 65535 f \n" % size
    for k in range(1, size):
        out += b"%010d 00000 n \n" % offsets[k]
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (size, xref)
    with open(path, "wb") as f:
        f.write(out)
    return len(out)


WORDS = ("the engine walks each page once and keeps only a small summary of the document so memory "
         "stays flat while the page count grows without bound across long reports and manuals").split()


def long_page(p):
    lines = [b"BT /F1 8 Tf 72 760 Td (Long document - running header) Tj ET",
             b"BT /F1 16 Tf 72 720 Td (Section %d) Tj ET" % p]
    for i in range(45):
        words = [WORDS[(p * 7 + i * 3 + j) % len(WORDS)] for j in range(12)]
        lines.append(b"BT /F1 10 Tf 72 %d Td (%s) Tj ET" % (700 - 14 * i, " ".join(words).encode()))
    lines.append(b"BT /F1 8 Tf 300 40 Td (%d) Tj ET" % p)
    return b"\n".join(lines) + b"\n"


def tiny_page(p):
    return b"BT /F1 6 Tf 6 36 Td (tiny page %d) Tj ET\n" % p


def main(argv):
    if len(argv) < 2:
        sys.stderr.write(__doc__)
        return 2
    out = argv[1]
    pages = int(argv[argv.index("--pages") + 1]) if "--pages" in argv else 1000
    tiny = int(argv[argv.index("--tiny") + 1]) if "--tiny" in argv else 10000
    os.makedirs(out, exist_ok=True)
    a = write_pdf(os.path.join(out, "long_%d.pdf" % pages), [long_page(p) for p in range(1, pages + 1)], 612, 792)
    b = write_pdf(os.path.join(out, "tiny_%d.pdf" % tiny), [tiny_page(p) for p in range(1, tiny + 1)], 72, 72)
    print("make_big_pdfs: long_%d.pdf %d bytes, tiny_%d.pdf %d bytes in %s" % (pages, a, tiny, b, out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
