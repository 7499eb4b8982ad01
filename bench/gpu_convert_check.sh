#!/usr/bin/env bash
# bench/gpu_convert_check.sh BUNDLE_DIR OUT — on a GPU host: unpacks bundle.tar.xz (see
# make_gpu_bundle.sh) and converts every bundled PDF with --acceleration cpu_only and gpu_required
# (OCR forced too, so every page goes through page analysis). Checks that the GPU run really used
# CUDA and that its Markdown is byte-identical to the CPU run's; times both. Exit 1 on a mismatch.
set -uo pipefail
bundle=$1 out=$2
work=$(mktemp -d)
tar -C "$work" -xJf "$bundle/bundle.tar.xz"
export LD_LIBRARY_PATH=$work/lib TESSDATA_PREFIX=$work/tessdata
q=$work/quire
{ nvidia-smi -L; "$q" --version; } >"$out/host.txt" 2>&1
status=0
printf '%-22s %-6s %-13s %-10s %8s %s\n' pdf ocr policy used seconds identical >"$out/summary.txt"
for pdf in "$work"/pdfs/*.pdf; do
  name=$(basename "$pdf" .pdf)
  for ocr in auto force; do
    for pol in cpu_only gpu_required; do
      t0=$(date +%s.%N)
      "$q" convert "$pdf" --json --ocr "$ocr" --acceleration "$pol" >"$work/$name.$ocr.$pol.json" 2>"$out/$name.$ocr.$pol.err"
      rc=$?
      t1=$(date +%s.%N)
      used=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['acceleration_used'])" "$work/$name.$ocr.$pol.json" 2>/dev/null || echo "rc=$rc")
      same=-
      if [ "$pol" = gpu_required ]; then
        if python3 - "$work/$name.$ocr.cpu_only.json" "$work/$name.$ocr.gpu_required.json" 2>/dev/null <<'PY'
import json, sys
a, b = (json.load(open(p))["markdown"] for p in sys.argv[1:3])
sys.exit(0 if a == b else 1)
PY
        then same=yes; else same=NO; status=1; fi
        case $used in cuda:*) ;; *) status=1 ;; esac
      fi
      printf '%-22s %-6s %-13s %-10s %8.2f %s\n' "$name" "$ocr" "$pol" "$used" "$(python3 -c "print($t1 - $t0)")" "$same" >>"$out/summary.txt"
    done
  done
done
cat "$out/summary.txt"
exit $status
