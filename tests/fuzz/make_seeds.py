#!/usr/bin/env python3
"""Writes the seed corpus for the engine fuzzer (tests/fuzz/fuzz_convert.cpp) into OUT_DIR.

    tests/fuzz/make_seeds.py OUT_DIR [--mutool PATH]

Every seed is generated here, deterministically, so no binary is committed: small valid PDFs
(`mutool create` from content streams, plus hand-written ones), and hostile ones: truncated,
bit-flipped, huge object and page counts, deep nesting and reference loops, decompression bombs,
broken fonts and images, bad encryption dictionaries, not-a-PDF. Seeds stay under 64 KiB
(scripts/test fuzzes with -max_len=65536) except the bombs and the object-count seeds, which stay
under 300 KiB (the bombs expand to hundreds of MiB only when decoded).
"""
import os
import random
import shutil
import subprocess
import sys
import tempfile
import zlib


def stream(dict_body: bytes, data: bytes) -> bytes:
    return b"<< " + dict_body + b" /Length %d >>\nstream\n" % len(data) + data + b"\nendstream"


def pdf(objs, root=1, trailer_extra=b"", header=b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n") -> bytes:
    """objs: list of object bodies (object i+1). Writes a correct xref table."""
    out = bytearray(header)
    offsets = []
    for i, body in enumerate(objs, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    for off in offsets:
        out += b"%010d 00000 n \n" % off
    out += b"trailer\n<< /Size %d /Root %d 0 R %s>>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objs) + 1, root, trailer_extra, xref)
    return bytes(out)


HELV = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"


def text_page_pdf(content: bytes, extra_objs=(), resources=b"/Font << /F1 4 0 R >>", mediabox=b"[0 0 612 792]",
                  content_obj=None):
    objs = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox " + mediabox + b" /Resources << " + resources +
        b" >> /Contents 5 0 R >>",
        HELV,
        content_obj if content_obj is not None else stream(b"", content),
    ]
    objs.extend(extra_objs)
    return pdf(objs)


HELLO = (b"BT /F1 18 Tf 72 720 Td (Heading One) Tj ET\n"
         b"BT /F1 10 Tf 72 690 Td (A paragraph of body text that runs across the line.) Tj ET\n"
         b"BT /F1 10 Tf 72 676 Td (\\225 a bullet item) Tj ET\n")


def valid_seeds():
    seeds = {}
    seeds["valid_hello.pdf"] = text_page_pdf(HELLO)
    # Several pages through a nested page tree.
    objs = [b"<< /Type /Catalog /Pages 2 0 R /Outlines 9 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R 4 0 R] /Count 3 >>",
            b"<< /Type /Pages /Parent 2 0 R /Kids [5 0 R 6 0 R] /Count 2 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 300 300] /Resources << /Font << /F1 7 0 R >> >> /Contents 8 0 R >>",
            b"<< /Type /Page /Parent 3 0 R /MediaBox [0 0 300 300] /Resources << /Font << /F1 7 0 R >> >> /Contents 8 0 R >>",
            b"<< /Type /Page /Parent 3 0 R /MediaBox [0 0 300 300] /Resources << /Font << /F1 7 0 R >> >> /Contents 8 0 R >>",
            HELV,
            stream(b"", b"BT /F1 12 Tf 20 250 Td (Shared page text | col | col) Tj ET\n0 0 m 300 300 l S\n"),
            b"<< /Type /Outlines /First 10 0 R /Last 10 0 R /Count 1 >>",
            b"<< /Title (Chapter) /Parent 9 0 R /Dest [4 0 R /XYZ 0 300 0] >>"]
    seeds["valid_tree_outline.pdf"] = pdf(objs)
    # A table drawn with rules.
    rules = b"".join(b"72 %d m 540 %d l S\n" % (y, y) for y in range(500, 701, 50))
    rules += b"".join(b"%d 500 m %d 700 l S\n" % (x, x) for x in range(72, 541, 117))
    cells = b"".join(b"BT /F1 9 Tf %d %d Td (r%dc%d) Tj ET\n" % (80 + 117 * c, 680 - 50 * r, r, c)
                     for r in range(4) for c in range(4))
    seeds["valid_table.pdf"] = text_page_pdf(rules + cells)
    # An inline RGB image (exercises the raster analysis and asset extraction).
    img = bytes((x * 7 + y * 3) % 256 for y in range(32) for x in range(32 * 3))
    seeds["valid_image.pdf"] = text_page_pdf(
        b"q 400 0 0 400 100 300 cm /Im1 Do Q\n" + HELLO,
        extra_objs=[stream(b"/Type /XObject /Subtype /Image /Width 32 /Height 32 /ColorSpace /DeviceRGB "
                           b"/BitsPerComponent 8 /Filter /FlateDecode", zlib.compress(img))],
        resources=b"/Font << /F1 4 0 R >> /XObject << /Im1 6 0 R >>")
    # Link annotation and a Type3 font.
    seeds["valid_link.pdf"] = pdf([
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 4 0 R /T3 7 0 R >> >>"
        b" /Contents 5 0 R /Annots [6 0 R] >>",
        HELV,
        stream(b"", b"BT /F1 12 Tf 72 700 Td (see https://example.org) Tj ET BT /T3 12 Tf 72 650 Td (ab) Tj ET\n"),
        b"<< /Type /Annot /Subtype /Link /Rect [72 695 250 715] /A << /S /URI /URI (https://example.org) >> >>",
        b"<< /Type /Font /Subtype /Type3 /FontBBox [0 0 1000 1000] /FontMatrix [0.001 0 0 0.001 0 0]"
        b" /CharProcs << /a 8 0 R /b 8 0 R >> /Encoding << /Differences [97 /a /b] >> /FirstChar 97 /LastChar 98"
        b" /Widths [1000 1000] >>",
        stream(b"", b"1000 0 0 0 1000 1000 d1 0 0 1000 1000 re f"),
    ])
    return seeds


def mutool_seeds(mutool):
    """A few PDFs written by MuPDF itself (mutool create), with real font embedding."""
    seeds = {}
    pages = {
        "mutool_text.pdf": "%%MediaBox 0 0 612 792\n%%Font F1 Times-Roman\n%%Font F2 Courier\n"
                           "BT /F1 20 Tf 72 720 Td (Title) Tj ET\n"
                           "BT /F1 11 Tf 72 690 Td (Body text, with a footnote marker.) Tj ET\n"
                           "BT /F2 9 Tf 72 660 Td (int main\\(void\\) { return 0; }) Tj ET\n",
        "mutool_columns.pdf": "%%MediaBox 0 0 612 792\n%%Font F1 Helvetica\n" + "".join(
            "BT /F1 10 Tf %d %d Td (column %d line %d of text) Tj ET\n" % (72 + 270 * c, 700 - 14 * i, c, i)
            for c in range(2) for i in range(30)),
    }
    with tempfile.TemporaryDirectory() as tmp:
        for name, content in pages.items():
            src = os.path.join(tmp, name + ".txt")
            with open(src, "w") as f:
                f.write(content)
            dst = os.path.join(tmp, name)
            subprocess.run([mutool, "create", "-o", dst, src], check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            with open(dst, "rb") as f:
                seeds[name] = f.read()
    return seeds


def hostile_seeds(valid):
    seeds = {}
    base = valid["valid_hello.pdf"]
    # Not a PDF / degenerate.
    seeds["empty.pdf"] = b""
    seeds["not_pdf.pdf"] = b"GIF89a\x01\x00\x01\x00" + b"\x00" * 32
    seeds["header_only.pdf"] = b"%PDF-1.7\n"
    seeds["no_xref.pdf"] = base[:base.index(b"xref")]
    seeds["bad_startxref.pdf"] = base.replace(b"startxref\n", b"startxref\n99999999")
    # Truncated at several points.
    for frac in (10, 50, 90):
        seeds["truncated_%d.pdf" % frac] = base[: len(base) * frac // 100]
    # Bit flips (deterministic).
    rng = random.Random(7)
    for name in ("valid_hello.pdf", "valid_table.pdf", "valid_image.pdf", "valid_tree_outline.pdf"):
        data = bytearray(valid[name])
        for _ in range(12):
            i = rng.randrange(len(data))
            data[i] ^= 1 << rng.randrange(8)
        seeds["flipped_" + name] = bytes(data)
    # Huge object and page counts.
    seeds["huge_xref_size.pdf"] = base.replace(b"/Size 6", b"/Size 99999999")
    seeds["huge_page_count.pdf"] = pdf([
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R 3 0 R 3 0 R 3 0 R] /Count 2147483647 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 10 10] >>"])
    kids = b" ".join(b"3 0 R" for _ in range(4000))
    seeds["many_kids_same_page.pdf"] = pdf([
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [" + kids + b"] /Count 4000 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 10 10] /Contents 4 0 R >>",
        stream(b"", b"0 0 m 10 10 l S")])
    objs = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 10 10] >>"]
    objs += [b"<< /N %d >>" % i for i in range(1000)]
    seeds["many_objects.pdf"] = pdf(objs)
    # Deep nesting and loops.
    seeds["deep_array.pdf"] = text_page_pdf(HELLO, extra_objs=[b"[" * 20000 + b"]" * 20000])
    seeds["deep_dict.pdf"] = text_page_pdf(HELLO, extra_objs=[b"<< /A " * 5000 + b"1" + b" >>" * 5000])
    deep = [b"<< /Type /Catalog /Pages 2 0 R >>"]
    n = 400
    for i in range(n):  # objects 2 .. n+1: a chain of /Pages nodes
        deep.append(b"<< /Type /Pages /Kids [%d 0 R] /Count 1 >>" % (i + 3))
    deep.append(b"<< /Type /Page /MediaBox [0 0 10 10] >>")
    seeds["deep_page_tree.pdf"] = pdf(deep)
    seeds["page_tree_loop.pdf"] = pdf([
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 2 >>",
        b"<< /Type /Pages /Kids [2 0 R 4 0 R] /Count 2 >>",
        b"<< /Type /Page /MediaBox [0 0 10 10] >>"])
    seeds["outline_loop.pdf"] = pdf([
        b"<< /Type /Catalog /Pages 2 0 R /Outlines 5 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 4 0 R >> >> /Contents 7 0 R >>",
        HELV,
        b"<< /Type /Outlines /First 6 0 R /Last 6 0 R >>",
        b"<< /Title (Loop) /Parent 5 0 R /Next 6 0 R /First 6 0 R /Dest [3 0 R /Fit] >>",
        stream(b"", HELLO)])
    seeds["xobject_recursion.pdf"] = text_page_pdf(
        b"/X1 Do\n" + HELLO, resources=b"/Font << /F1 4 0 R >> /XObject << /X1 6 0 R >>",
        extra_objs=[stream(b"/Type /XObject /Subtype /Form /BBox [0 0 612 792] /Resources << /XObject << /X1 6 0 R >> >>",
                           b"q 0.9 0 0 0.9 1 1 cm /X1 Do Q")])
    seeds["qQ_nesting.pdf"] = text_page_pdf(b"q " * 10000 + HELLO + b"Q " * 10000)
    # Decompression bombs: small compressed, huge decoded.
    bomb = zlib.compress(b"0 0 m 1 1 l\n" * ((16 << 20) // 12), 9)  # content stream of ~16 MiB
    seeds["bomb_content.pdf"] = text_page_pdf(b"", content_obj=stream(b"/Filter /FlateDecode", bomb))
    zeros = zlib.compress(b"\0" * (256 << 20), 9)  # a 8192 x 8192 x 4 image: 256 MiB decoded, ~250 KiB here
    seeds["bomb_image.pdf"] = text_page_pdf(
        b"q 500 0 0 500 50 100 cm /Im1 Do Q\n" + HELLO,
        extra_objs=[stream(b"/Type /XObject /Subtype /Image /Width 8192 /Height 8192 /ColorSpace /DeviceCMYK "
                           b"/BitsPerComponent 8 /Filter /FlateDecode", zeros)],
        resources=b"/Font << /F1 4 0 R >> /XObject << /Im1 6 0 R >>")
    seeds["bomb_chain_filters.pdf"] = text_page_pdf(b"", content_obj=stream(
        b"/Filter [/FlateDecode /FlateDecode /ASCIIHexDecode]", zlib.compress(zlib.compress(b"30" * (8 << 20), 9), 9)))
    # Broken images.
    def image_pdf(name, dict_body, data):
        seeds[name] = text_page_pdf(
            b"q 300 0 0 300 100 300 cm /Im1 Do Q\n" + HELLO,
            extra_objs=[stream(b"/Type /XObject /Subtype /Image " + dict_body, data)],
            resources=b"/Font << /F1 4 0 R >> /XObject << /Im1 6 0 R >>")
    image_pdf("img_huge_dims_short_data.pdf",
              b"/Width 1000000 /Height 1000000 /ColorSpace /DeviceRGB /BitsPerComponent 8", b"\xff" * 64)
    image_pdf("img_zero_dims.pdf", b"/Width 0 /Height -5 /ColorSpace /DeviceGray /BitsPerComponent 8", b"\0")
    image_pdf("img_bad_bpc.pdf", b"/Width 4 /Height 4 /ColorSpace /DeviceGray /BitsPerComponent 13", b"\0" * 32)
    image_pdf("img_garbage_dct.pdf", b"/Width 64 /Height 64 /ColorSpace /DeviceRGB /BitsPerComponent 8 /Filter /DCTDecode",
              b"\xff\xd8\xff\xe0" + bytes(rng.randrange(256) for _ in range(400)))
    image_pdf("img_garbage_jpx.pdf", b"/Width 64 /Height 64 /Filter /JPXDecode",
              b"\x00\x00\x00\x0cjP  \r\n\x87\n" + bytes(rng.randrange(256) for _ in range(400)))
    image_pdf("img_garbage_jbig2.pdf", b"/Width 64 /Height 64 /ColorSpace /DeviceGray /BitsPerComponent 1 /Filter /JBIG2Decode",
              bytes(rng.randrange(256) for _ in range(300)))
    image_pdf("img_garbage_ccitt.pdf", b"/Width 2000 /Height 2000 /ImageMask true /Filter /CCITTFaxDecode"
              b" /DecodeParms << /K -1 /Columns 2000 /Rows 2000 >>", bytes(rng.randrange(256) for _ in range(300)))
    image_pdf("img_indexed_bad_lookup.pdf",
              b"/Width 8 /Height 8 /ColorSpace [/Indexed /DeviceRGB 255 <00ff00>] /BitsPerComponent 8",
              bytes(range(64)))
    image_pdf("img_smask_loop.pdf",
              b"/Width 8 /Height 8 /ColorSpace /DeviceGray /BitsPerComponent 8 /SMask 6 0 R", b"\x80" * 64)
    # Broken fonts.
    def font_pdf(name, font_dict, extra=()):
        seeds[name] = text_page_pdf(HELLO.replace(b"/F1", b"/F9") + HELLO, extra_objs=[font_dict, *extra],
                                    resources=b"/Font << /F1 4 0 R /F9 6 0 R >>")
    font_pdf("font_garbage_truetype.pdf",
             b"<< /Type /Font /Subtype /TrueType /BaseFont /Bogus /FirstChar 32 /LastChar 126"
             b" /FontDescriptor << /Type /FontDescriptor /FontName /Bogus /Flags 32 /FontFile2 7 0 R >> >>",
             [stream(b"", b"\x00\x01\x00\x00\x00\x09" + bytes(rng.randrange(256) for _ in range(600)))])
    font_pdf("font_garbage_cff.pdf",
             b"<< /Type /Font /Subtype /Type0 /BaseFont /Bogus /Encoding /Identity-H /DescendantFonts [<< /Type /Font"
             b" /Subtype /CIDFontType0 /BaseFont /Bogus /CIDSystemInfo << /Registry (Adobe) /Ordering (Identity)"
             b" /Supplement 0 >> /FontDescriptor << /Type /FontDescriptor /FontName /Bogus /Flags 4 /FontFile3 7 0 R >>"
             b" /W [0 [500 -1 99999999]] >>] /ToUnicode 8 0 R >>",
             [stream(b"/Subtype /CIDFontType0C", b"\x01\x00\x04\x02" + bytes(rng.randrange(256) for _ in range(600))),
              stream(b"", b"/CIDInit /ProcSet findresource begin 1 begincmap 2 beginbfrange <0000> <ffff> <d800>"
                          b" <0041> <0042> [<dfff> <feff0041>] endbfrange endcmap end")])
    font_pdf("font_type3_recursive.pdf",
             b"<< /Type /Font /Subtype /Type3 /FontBBox [0 0 1000 1000] /FontMatrix [0.001 0 0 0.001 0 0]"
             b" /CharProcs << /a 7 0 R >> /Resources << /Font << /R 6 0 R >> >> /Encoding << /Differences [0 /a] >>"
             b" /FirstChar 0 /LastChar 255 /Widths [1000] >>",
             [stream(b"", b"1000 0 d0 BT /R 12 Tf (\\000\\000) Tj ET")])
    font_pdf("font_widths_negative_count.pdf",
             b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /FirstChar 200 /LastChar 10 /Widths [1 2 3] >>")
    # Encryption dictionaries that make no sense.
    seeds["encrypt_garbage.pdf"] = base.replace(b"/Root 1 0 R", b"/Root 1 0 R /Encrypt << /Filter /Standard /V 5 /R 6"
                                                b" /O (short) /U (short) /P -1 /Length 256 >> /ID [<00> <00>]")
    seeds["encrypt_unknown_handler.pdf"] = base.replace(b"/Root 1 0 R", b"/Root 1 0 R /Encrypt << /Filter /Nope /V 99 >>")
    # Content stream oddities.
    seeds["text_matrix_extreme.pdf"] = text_page_pdf(
        b"BT /F1 1e30 Tf 3.4e38 -3.4e38 Td (overflow) Tj 0 0 0 0 0 0 Tm (singular) Tj ET\n" + HELLO)
    seeds["mediabox_degenerate.pdf"] = text_page_pdf(HELLO, mediabox=b"[0 0 0 0]")
    seeds["mediabox_huge.pdf"] = text_page_pdf(HELLO, mediabox=b"[-1e9 -1e9 1e9 1e9]")
    seeds["tiny_font_many_glyphs.pdf"] = text_page_pdf(
        b"BT /F1 0.01 Tf 72 700 Td (" + b"x" * 30000 + b") Tj ET\n")
    seeds["nul_and_controls.pdf"] = text_page_pdf(
        b"BT /F1 12 Tf 72 700 Td (\\000\\001\\033\\177\\377 ctl) Tj ET\n" + HELLO)
    return seeds


def main(argv):
    if len(argv) < 2:
        sys.stderr.write(__doc__)
        return 2
    out = argv[1]
    mutool = shutil.which("mutool")
    if "--mutool" in argv:
        mutool = argv[argv.index("--mutool") + 1]
    os.makedirs(out, exist_ok=True)
    seeds = valid_seeds()
    if mutool:
        seeds.update(mutool_seeds(mutool))
    else:
        sys.stderr.write("make_seeds: mutool not found, skipping the mutool-created seeds\n")
    seeds.update(hostile_seeds(seeds))
    for name, data in sorted(seeds.items()):
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)
    print("make_seeds: %d seeds in %s (%d bytes)" % (len(seeds), out, sum(map(len, seeds.values()))))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
