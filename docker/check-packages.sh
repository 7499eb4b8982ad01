#!/bin/sh
# check-packages.sh NAME LOCKFILE ALLOW PKG...: records the installed versions of PKG... in
# /usr/share/quire/NAME-packages.txt and compares them with LOCKFILE (lines "package=version").
# A locked package whose version differs fails the build unless ALLOW=1 (unexpected drift: the same
# revision must build with the same packages). Packages new to the lock, or gone from it, follow a
# source change and are reported only; scripts/images --update-lock rewrites the lock.
set -eu
name=$1 lock=$2 allow=$3
shift 3
out_dir=${QUIRE_CHECK_OUT:-/usr/share/quire}  # tests point it elsewhere
mkdir -p "$out_dir"
out=$out_dir/$name-packages.txt
dpkg-query -W -f='${Package}=${Version}\n' "$@" | sort -u > "$out"
[ -f "$lock" ] || : > "$lock"
drift=0
while IFS='=' read -r pkg ver; do
  [ -n "$pkg" ] || continue
  locked=$(sed -n "s/^$pkg=//p" "$lock" | head -n 1)
  if [ -z "$locked" ]; then
    echo "check-packages[$name]: $pkg=$ver is not in the lock (new dependency)" >&2
  elif [ "$locked" != "$ver" ]; then
    echo "check-packages[$name]: DRIFT $pkg: locked $locked, installed $ver" >&2
    drift=1
  fi
done < "$out"
while IFS='=' read -r pkg ver; do
  [ -n "$pkg" ] || continue
  grep -q "^$pkg=" "$out" || echo "check-packages[$name]: $pkg is locked but no longer installed" >&2
done < "$lock"
if [ "$drift" = 1 ]; then
  if [ "$allow" = 1 ]; then
    echo "check-packages[$name]: drift allowed (ALLOW_PACKAGE_DRIFT=1); recorded in $out" >&2
  else
    echo "check-packages[$name]: package versions drifted from $lock; if expected, run scripts/images --update-lock" >&2
    exit 1
  fi
fi
echo "check-packages[$name]: $(wc -l < "$out") packages recorded in $out" >&2
