#!/usr/bin/env bash
# bench/make_gpu_bundle.sh QUIRE_BIN OUTDIR [PDF...] — packs a quire binary built here (with CUDA),
# the shared libraries it needs (not glibc), the Tesseract English model and some PDFs into
# OUTDIR/bundle.tar.xz, for bench/gpu_convert_check.sh on a GPU host that has none of our
# libraries installed (the lent device machines). Keeps the bundle under the 64 MiB a device call carries.
set -euo pipefail
bin=$1 out=$2; shift 2
[ -x "$bin" ] || { echo "usage: $0 QUIRE_BIN OUTDIR [PDF...]" >&2; exit 2; }
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/lib" "$stage/tessdata" "$stage/pdfs" "$out"
cp "$bin" "$stage/quire" && strip "$stage/quire"
ldd "$bin" | awk '/=>/{print $3}' | grep -vE '/(libc|libm|libpthread|libdl|librt|ld-linux[^/]*)\.so' \
  | xargs -I{} cp -L {} "$stage/lib/"
cp /usr/share/tesseract-ocr/5/tessdata/eng.traineddata "$stage/tessdata/"
for f in "$@"; do cp "$f" "$stage/pdfs/"; done
tar -C "$stage" -cJf "$out/bundle.tar.xz" .
ls -la "$out/bundle.tar.xz"
