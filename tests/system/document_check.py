#!/usr/bin/env python3
"""`quire convert --format json|chunks` through the real binary (QUIRE_BIN) on real PDFs:

- the JSON validates against docs/document.schema.json and the chunks against
  docs/chunks.schema.json (python3-jsonschema, Draft 2020-12);
- the JSON's markdown is what `--format markdown` prints, and its blocks' markdown, in order, is
  found in it;
- each block begins on the page the PDF has its text on (pdftotext of that page holds the block's
  first words) and its box lies on the page;
- the chunks' texts, concatenated, are the Markdown exactly; a table or code block that fits the
  limit is in one chunk; --page-markers changes nothing but the markers.

PDFs: docker/sample/sample.pdf, and the eval corpus's when QUIRE_EVAL_DIR (or ../shared/eval) has
it. Exit 77 (ctest: skipped) without QUIRE_BIN, jsonschema or pdftotext; 1 on any failure.
"""
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys

root = pathlib.Path(__file__).resolve().parents[2]
try:
    import jsonschema
except ImportError as e:  # pragma: no cover - environment without the validator
    print(f"skipped: {e}")
    sys.exit(77)
quire = os.environ.get("QUIRE_BIN")
if not quire or not shutil.which("pdftotext"):
    print("skipped: needs QUIRE_BIN and pdftotext")
    sys.exit(77)

failures = []


def check(ok, what):
    if not ok:
        failures.append(what)


def run(*args):
    return subprocess.run([quire, "convert", *args], check=True, capture_output=True).stdout.decode("utf-8")


def words(s):
    return re.findall(r"[^\W_]{3,}", s.lower())


def page_words(pdf, page, cache={}):
    """The page's words as pdftotext reads them, space-separated, with a space at each end."""
    key = (pdf, page)
    if key not in cache:
        out = subprocess.run(["pdftotext", "-f", str(page), "-l", str(page), "-enc", "UTF-8", pdf, "-"],
                             capture_output=True, check=True).stdout.decode("utf-8", "replace")
        cache[key] = " " + " ".join(words(out)) + " "
    return cache[key]


def on_page(text, pdf, page):
    """Six consecutive words (or all, when fewer) from the first ten of text are on the page; one
    run is enough, as the two extractors may split a word differently."""
    w = words(text)[:10]
    n = min(6, len(w))
    return any(" " + " ".join(w[i:i + n]) + " " in page_words(pdf, page) for i in range(len(w) - n + 1))


def validator(name):
    schema = json.loads((root / "docs" / name).read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


doc_schema, chunk_schema = validator("document.schema.json"), validator("chunks.schema.json")

pdfs = [root / "docker/sample/sample.pdf"]
eval_dir = pathlib.Path(os.environ.get("QUIRE_EVAL_DIR") or root / "../shared/eval")
for name in ("code_listings", "table_long", "lo_footnotes", "blockquotes_faq", "nested_lists", "paper_twocol"):
    if (eval_dir / "corpus" / f"{name}.pdf").exists():
        pdfs.append(eval_dir / "corpus" / f"{name}.pdf")

for pdf in map(str, pdfs):
    markdown = run(pdf)
    doc = json.loads(run(pdf, "--format", "json"))
    errors = sorted(doc_schema.iter_errors(doc), key=str)
    check(not errors, f"{pdf}: JSON does not validate: {errors[:3]}")
    check(doc["markdown"] == markdown, f"{pdf}: the JSON's markdown differs from --format markdown")
    at = 0
    sizes = {p["page"]: (p["width"], p["height"]) for p in doc["pages"]}
    checked = unverified = 0
    page_count = doc["page_count"]
    for b in doc["blocks"]:
        found = markdown.find(b["markdown"], at)
        check(found >= 0, f"{pdf}: block {b['id']}'s markdown is not next in the Markdown")
        at = max(at, found)
        w, h = sizes.get(b["page"], (0, 0))
        x0, y0, x1, y1 = b["bbox"]
        check(0 <= x0 <= x1 <= w + 1 and 0 <= y0 <= y1 <= h + 1, f"{pdf}: block {b['id']} box {b['bbox']} off page {b['page']}")
        # its text is on its page; a block pdftotext reads nowhere (two-column interleaving,
        # ligatures) cannot be placed and is counted
        if b["type"] in ("heading", "paragraph", "list", "caption", "footnote") and len(words(b["text"])) >= 3:
            checked += 1
            if not on_page(b["text"], pdf, b["page"]):
                elsewhere = [p for p in range(1, page_count + 1) if p != b["page"] and on_page(b["text"], pdf, p)]
                check(not elsewhere, f"{pdf}: block {b['id']} ({b['type']}) is on page {elsewhere}, not {b['page']}")
                unverified += not elsewhere
    check(checked > 0 and unverified * 10 <= checked, f"{pdf}: {unverified} of {checked} blocks not found on any page")

    for limit, unit in ((400, "characters"), (60, "tokens"), (5, "characters")):
        chunks = json.loads(run(pdf, "--format", "chunks", "--chunk-size", str(limit), "--chunk-unit", unit))
        errors = sorted(chunk_schema.iter_errors(chunks), key=str)
        check(not errors, f"{pdf}: chunks do not validate: {errors[:3]}")
        check("".join(c["text"] for c in chunks["chunks"]) == markdown,
              f"{pdf}: chunks ({limit} {unit}) do not cover the Markdown exactly once")
        for c in chunks["chunks"]:
            check(c["size"] <= limit, f"{pdf}: chunk {c['id']} is over the limit")
        per_char = 4 if unit == "tokens" else 1
        for b in doc["blocks"]:
            if b["type"] in ("table", "code") and len(b["markdown"]) + 3 <= limit * per_char:
                holders = [c for c in chunks["chunks"] if b["id"] in c["block_ids"]]
                check(len(holders) == 1 and b["markdown"] in holders[0]["text"],
                      f"{pdf}: {b['type']} block {b['id']} split at {limit} {unit}")

    marked = run(pdf, "--page-markers")
    check(re.sub(r"<!-- page \d+ -->\n\n", "", marked) == markdown, f"{pdf}: --page-markers changed more than markers")
    check(marked.startswith("<!-- page 1 -->"), f"{pdf}: no marker for page 1")

for f in failures:
    print("FAIL:", f)
print(f"document formats: {len(pdfs)} PDFs, {len(failures)} failures")
sys.exit(1 if failures else 0)
