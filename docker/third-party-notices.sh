#!/bin/sh
# third-party-notices.sh PKG...: prints the notices of the third-party code compiled INTO the quire
# binary (static libraries and header-only libraries from the builder stage), from Debian's own
# copyright files of PKG..., each under a heading with the package's version. The shared libraries
# the binary loads at run time are installed as Debian packages in the runtime image and keep their
# own /usr/share/doc/PKG/copyright there; this file covers what has no package in that image.
set -eu
[ $# -gt 0 ] || { echo "usage: third-party-notices.sh PKG..." >&2; exit 2; }
cat <<'EOF'
Third-party notices for the quire binary
========================================

quire is free software under the GNU Affero General Public License, version 3 or (at your option)
any later version (/usr/share/doc/quire/LICENSE). Its Corresponding Source is served by every
running instance at GET /v1/source and named in GET /v1/info.

The binary contains code from the packages below, compiled in from static or header-only
libraries; their Debian copyright files follow verbatim. The shared libraries it loads are Debian
packages of this image, each with its copyright file under /usr/share/doc/.
EOF
for pkg in "$@"; do
  ver=$(dpkg-query -W -f='${Version}' "$pkg" 2>/dev/null) || { echo "third-party-notices: $pkg is not installed" >&2; exit 1; }
  file=/usr/share/doc/$pkg/copyright
  [ -f "$file" ] || { echo "third-party-notices: $pkg has no $file" >&2; exit 1; }
  printf '\n\n%s\n' "------------------------------------------------------------------------------"
  printf '%s %s\n' "$pkg" "$ver"
  printf '%s\n\n' "------------------------------------------------------------------------------"
  cat "$file"
done
