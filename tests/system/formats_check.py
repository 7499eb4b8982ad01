#!/usr/bin/env python3
"""The result formats one service job produced, as test_serve_formats.cpp fetched them into DIR:

  result.md, document.json, chunks.json, result.txt   GET /v1/convert/jobs/{id}/result/{format}
  bundle.zip, bundle-embedded.zip                      GET …/result/bundle (?images=embedded)

Checks:
- document.json validates against docs/document.schema.json, chunks.json against
  docs/chunks.schema.json (python3-jsonschema, Draft 2020-12, as tests/system/document_check.py);
- the JSON's markdown is result.md; every block's page is a page of the document, and each
  PHRASE=PAGE given is in a block of that page (and in no block of another);
- the chunks' texts, concatenated, are result.md exactly (each block's text once, in order);
- result.txt holds the blocks' texts, in order, and nothing else (modulo whitespace);
- bundle.zip holds result.md (the same bytes), document.json, chunks.json, result.txt, and every
  relative link of its result.md resolves to a file in the zip; at least one is an image;
- bundle-embedded.zip has no assets/, and its result.md has the same images as data: URIs.

usage: formats_check.py DIR PAGE_COUNT [PHRASE=PAGE ...]
Exit 77 (skipped) without jsonschema; 1 on any failure.
"""
import base64
import json
import pathlib
import posixpath
import re
import sys
import zipfile

root = pathlib.Path(__file__).resolve().parents[2]
try:
    import jsonschema
except ImportError as e:  # pragma: no cover - environment without the validator
    print(f"skipped: {e}")
    sys.exit(77)

out = pathlib.Path(sys.argv[1])
page_count = int(sys.argv[2])
expected_pages = [arg.rsplit("=", 1) for arg in sys.argv[3:]]
failures = []


def check(ok, what):
    if not ok:
        failures.append(what)


def validator(name):
    schema = json.loads((root / "docs" / name).read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def words(s):
    return re.findall(r"\S+", s)


markdown = (out / "result.md").read_text(encoding="utf-8")
doc = json.loads((out / "document.json").read_text(encoding="utf-8"))
chunks = json.loads((out / "chunks.json").read_text(encoding="utf-8"))
text = (out / "result.txt").read_text(encoding="utf-8")

errors = sorted(validator("document.schema.json").iter_errors(doc), key=str)
check(not errors, f"document.json does not validate: {errors[:3]}")
errors = sorted(validator("chunks.schema.json").iter_errors(chunks), key=str)
check(not errors, f"chunks.json does not validate: {errors[:3]}")

check(doc["markdown"] == markdown, "document.json's markdown is not result.md")
check(doc["page_count"] == page_count, f"page_count {doc['page_count']}, the PDF has {page_count}")
check([p["page"] for p in doc["pages"]] == list(range(1, page_count + 1)), f"pages {doc['pages']}")
for b in doc["blocks"]:
    check(1 <= b["page"] <= page_count, f"block {b['id']} on page {b['page']} of {page_count}")
for phrase, page in expected_pages:
    holders = sorted({b["page"] for b in doc["blocks"] if phrase in b["text"]})
    check(holders == [int(page)], f"'{phrase}' is in blocks of pages {holders}, the PDF has it on page {page}")

check("".join(c["text"] for c in chunks["chunks"]) == markdown,
      "the chunks' texts, concatenated, are not result.md")
check(all(c["size"] <= chunks["limit"] for c in chunks["chunks"]), "a chunk is over the limit")
check(len(chunks["chunks"]) > 1, f"{len(chunks['chunks'])} chunk(s) at limit {chunks['limit']}: nothing was split")
block_ids = [i for c in chunks["chunks"] for i in c["block_ids"]]
check(sorted(set(block_ids)) == [b["id"] for b in doc["blocks"]], "the chunks do not hold every block")



def plain(b):
    """A block's text as result.txt has it: a footnote with its label as the Markdown writes it."""
    if b["type"] != "footnote" or not b.get("label"):
        return b["text"]
    return (f"[^{b['label']}]: " if b.get("referenced") else f"{b['label']} ") + b["text"]


check(words(text) == [w for b in doc["blocks"] for w in words(plain(b))], "result.txt is not the blocks' texts in order")
check("#" not in text and "![" not in text, "result.txt has Markdown syntax")


def relative_links(md):
    return [t for t in re.findall(r"\]\(([^)\s]+)\)", md) if not re.match(r"^[a-z][a-z0-9+.-]*:", t, re.I)]


with zipfile.ZipFile(out / "bundle.zip") as z:
    check(z.testzip() is None, "bundle.zip has a corrupt member")
    names = set(z.namelist())
    for n in ("result.md", "document.json", "chunks.json", "result.txt"):
        check(n in names, f"bundle.zip lacks {n}")
    zipped_md = z.read("result.md").decode("utf-8")
    check(zipped_md == markdown, "bundle.zip's result.md is not the result's")
    links = relative_links(zipped_md)
    check(any(l.startswith("assets/") for l in links), f"no image link in the Markdown: {links}")
    for link in links:
        check(posixpath.normpath(link) in names, f"bundle.zip: link {link} resolves to nothing in {sorted(names)}")
    assets = {n: z.read(n) for n in names if n.startswith("assets/")}
    check(assets, "bundle.zip has no images")

with zipfile.ZipFile(out / "bundle-embedded.zip") as z:
    names = set(z.namelist())
    check(not any(n.startswith("assets/") for n in names), f"bundle-embedded.zip has images: {sorted(names)}")
    embedded = z.read("result.md").decode("utf-8")
    check(not relative_links(embedded), f"bundle-embedded.zip's result.md links {relative_links(embedded)}")
    uris = re.findall(r"\]\(data:([a-z/]+);base64,([A-Za-z0-9+/=]+)\)", embedded)
    check(sorted(base64.b64decode(data) for _, data in uris) == sorted(assets.values()),
          "the data URIs are not the bundle's images")
    check(re.sub(r"\]\(data:[^)]*\)", "](X)", embedded) == re.sub(r"\]\(assets/[^)]*\)", "](X)", markdown),
          "embedding changed more than the image links")

for f in failures:
    print("FAIL:", f)
print(f"result formats: {len(doc['blocks'])} blocks, {len(chunks['chunks'])} chunks, {len(failures)} failures")
sys.exit(1 if failures else 0)
