#!/usr/bin/env bash
# Quality regression gate: converts the public eval corpus with the real binary, scores it with
# the eval kit's scorer, and fails when OVERALL or any metric falls below tests/quality/floors.json.
# The floors sit just under what the engine reaches; raise them when quality improves.
#
#   tests/quality/gate.sh QUIRE_BIN [OUTDIR]
set -euo pipefail
bin=$(realpath "$1")
here=$(cd "$(dirname "$0")" && pwd)
eval_dir=${QUIRE_EVAL_DIR:-$here/../../../shared/eval}
[ -x "$eval_dir/run_eval.sh" ] || { echo "gate: eval kit not found at $eval_dir" >&2; exit 1; }
out=${2:-$(mktemp -d /tmp/quire-quality.XXXXXX)}

# Documents listed under "exclude" in floors.json are not scored here.
only=$(/usr/bin/python3 - "$eval_dir/corpus" "$here/floors.json" <<'PY'
import json, os, sys
corpus, floors = sys.argv[1], json.load(open(sys.argv[2]))
names = sorted(f[:-4] for f in os.listdir(corpus) if f.endswith(".pdf"))
print(",".join(n for n in names if n not in floors.get("exclude", [])))
PY
)
"$eval_dir/run_eval.sh" "$bin convert {in} -o {out}" "$out" --timeout 120 --label quire --only "$only" >"$out.log" 2>&1 \
  || { tail -20 "$out.log" >&2; exit 1; }
/usr/bin/python3 "$here/check_floors.py" "$out/results.json" "$here/floors.json"
