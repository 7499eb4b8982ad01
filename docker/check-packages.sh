#!/bin/sh
# check-packages.sh NAME LOCKFILE MODE PKG...: records what went into an image and compares it with
# the lock.
#
#   /usr/share/quire/NAME-packages.txt  the installed versions of PKG... ("package=version", sorted)
#   /usr/share/quire/NAME-drift.txt     one line per difference from LOCKFILE, empty when none:
#                                         drift PKG locked=VERSION installed=VERSION
#                                         new PKG installed=VERSION      (not in the lock)
#                                         gone PKG locked=VERSION        (locked, no longer installed)
#
# MODE warn (the default of every script): a version that differs from the lock is a WARNING with the
# difference listed, and the build goes on. Debian's archive serves only the newest version of a
# package, so after a point release the exact locked versions cannot be installed any more; refusing
# them would break every fresh build until someone rewrites the lock. MODE locked (scripts/images
# --locked, for operators who must rebuild exactly what they qualified): any drift fails the build.
# New and gone packages follow a source change and are reported in both modes, never fatal.
set -eu
name=$1 lock=$2 mode=$3
shift 3
case $mode in
  warn|locked) ;;
  *) echo "check-packages[$name]: unknown mode '$mode' (warn or locked)" >&2; exit 2 ;;
esac
out_dir=${QUIRE_CHECK_OUT:-/usr/share/quire}  # tests point it elsewhere
mkdir -p "$out_dir"
out=$out_dir/$name-packages.txt
drift_out=$out_dir/$name-drift.txt
dpkg-query -W -f='${Package}=${Version}\n' "$@" | sort -u > "$out"
[ -f "$lock" ] || : > "$lock"
: > "$drift_out"
while IFS='=' read -r pkg ver; do
  [ -n "$pkg" ] || continue
  locked=$(sed -n "s/^$pkg=//p" "$lock" | head -n 1)
  if [ -z "$locked" ]; then
    echo "new $pkg installed=$ver" >> "$drift_out"
  elif [ "$locked" != "$ver" ]; then
    echo "drift $pkg locked=$locked installed=$ver" >> "$drift_out"
  fi
done < "$out"
while IFS='=' read -r pkg ver; do
  [ -n "$pkg" ] || continue
  grep -q "^$pkg=" "$out" || echo "gone $pkg locked=$ver" >> "$drift_out"
done < "$lock"

drifted=$(grep -c '^drift ' "$drift_out" || true)
sed "s/^/check-packages[$name]: /" "$drift_out" >&2
echo "check-packages[$name]: $(wc -l < "$out") packages recorded in $out" >&2
[ "$drifted" = 0 ] && exit 0
if [ "$mode" = locked ]; then
  echo "check-packages[$name]: ERROR: $drifted package(s) differ from $lock and the build is --locked;" \
    "build without --locked to accept them, or refresh the lock (scripts/images --update-lock)" >&2
  exit 1
fi
echo "check-packages[$name]: WARNING: $drifted package(s) differ from $lock (a newer Debian point" \
  "release); built with the installed versions, listed in $drift_out (scripts/images --update-lock" \
  "refreshes the lock)" >&2
