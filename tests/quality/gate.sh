#!/usr/bin/env bash
# Quality regression gate over the eval kit's three public sets, with the real binary:
#   corpus/       synthetic documents, scored against their Markdown truth   (floors.json)
#   corpus_docs/  real documentation by four producers, scored the same way  (floors_docs.json:
#                 the macro metrics and each producer's, so two-column LaTeX cannot sink unseen)
#   realworld/    13 PDFs from Debian packages, truth derived from each PDF (floors_rw.json:
#                 heading F1 and depth, coverage, furniture leaks, failed documents); their PDFs
#                 are fetched with the kit's fetch.sh (apt-get download, nothing installed) into a
#                 temporary folder when the kit has none.
# Fails when any value is below its floor (or above a ceiling). The floors sit just under what the
# engine reaches; raise them when quality improves.
#
#   tests/quality/gate.sh QUIRE_BIN [OUTDIR]
set -euo pipefail
bin=$(realpath "$1")
here=$(cd "$(dirname "$0")" && pwd)
eval_dir=${QUIRE_EVAL_DIR:-$here/../../../shared/eval}
[ -x "$eval_dir/run_eval.sh" ] || { echo "gate: eval kit not found at $eval_dir" >&2; exit 1; }
out=${2:-$(mktemp -d /tmp/quire-quality.XXXXXX)}
mkdir -p "$out"
failed=()

# Documents listed under "exclude" in floors.json are not scored here.
only=$(/usr/bin/python3 - "$eval_dir/corpus" "$here/floors.json" <<'PY'
import json, os, sys
corpus, floors = sys.argv[1], json.load(open(sys.argv[2]))
names = sorted(f[:-4] for f in os.listdir(corpus) if f.endswith(".pdf"))
print(",".join(n for n in names if n not in floors.get("exclude", [])))
PY
)
echo "== synthetic corpus"
"$eval_dir/run_eval.sh" "$bin convert {in} -o {out}" "$out/corpus" --timeout 120 --label quire --only "$only" \
  >"$out/corpus.log" 2>&1 || { tail -20 "$out/corpus.log" >&2; exit 1; }
/usr/bin/python3 "$here/check_floors.py" "$out/corpus/results.json" "$here/floors.json" || failed+=(corpus)

echo "== real documentation (corpus_docs)"
"$eval_dir/run_eval.sh" --corpus corpus_docs "$bin convert {in} -o {out}" "$out/docs" --timeout 120 --label quire \
  >"$out/docs.log" 2>&1 || { tail -20 "$out/docs.log" >&2; exit 1; }
/usr/bin/python3 "$here/check_floors.py" "$out/docs/results.json" "$here/floors_docs.json" || failed+=(corpus_docs)

echo "== real-world PDFs (realworld)"
pdfs=$eval_dir/realworld/pdfs
if [ ! -f "$pdfs/manifest.json" ]; then
  mkdir -p "$out/rw-fetch"
  cp "$eval_dir/realworld/fetch.sh" "$out/rw-fetch/"
  "$out/rw-fetch/fetch.sh" --extract >"$out/rw-fetch.log" 2>&1 || { tail -20 "$out/rw-fetch.log" >&2; exit 1; }
  pdfs=$out/rw-fetch/pdfs
fi
"$eval_dir/realworld/run_rw.sh" "$bin convert {in} -o {out}" "$out/rw" --timeout 300 --label quire --pdfs "$pdfs" \
  >"$out/rw.log" 2>&1 || { tail -20 "$out/rw.log" >&2; exit 1; }
/usr/bin/python3 "$here/check_floors.py" --realworld "$out/rw/results_rw.json" "$here/floors_rw.json" || failed+=(realworld)

if [ ${#failed[@]} -gt 0 ]; then
  echo "quality gate FAILED on: ${failed[*]} (outputs in $out)"
  exit 1
fi
echo "quality gate passed on all three sets (outputs in $out)"
