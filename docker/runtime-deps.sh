#!/bin/sh
# runtime-deps.sh BINARY: prints the Debian packages that own the shared libraries BINARY links
# (one per line, sorted), plus data packages those libraries need at run time.
set -eu
bin=$1
libs=$(ldd "$bin" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }')
[ -n "$libs" ] || { echo "runtime-deps: ldd found no libraries in $bin" >&2; exit 1; }
for lib in $libs; do
  real=$(readlink -f "$lib")
  # usrmerge: dpkg may record /lib/... while ldd reports /usr/lib/... (or the reverse).
  pkg=$(dpkg -S "$lib" 2>/dev/null || dpkg -S "$real" 2>/dev/null || dpkg -S "${real#/usr}" 2>/dev/null \
        || dpkg -S "/usr$lib" 2>/dev/null || true)
  [ -n "$pkg" ] || { echo "runtime-deps: no package owns $lib" >&2; exit 1; }
  echo "${pkg%%:*}"
done | sed 's/, /\n/g' | sort -u > /tmp/runtime-deps.$$
if grep -q '^libtesseract' /tmp/runtime-deps.$$; then echo tesseract-ocr-eng >> /tmp/runtime-deps.$$; fi
sort -u /tmp/runtime-deps.$$
rm -f /tmp/runtime-deps.$$
