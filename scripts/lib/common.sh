# Shared helpers for scripts/*. Source it; it defines functions only.
# shellcheck shell=bash

QUIRE_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
export QUIRE_ROOT

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# Packages each step needs (Debian bookworm).
QUIRE_BUILD_PKGS=(build-essential cmake ninja-build ccache pkg-config git
  libcaf-dev librestinio-dev libpqxx-dev libfmt-dev catch2 libmupdf-dev mupdf-tools
  libasio-dev libhttp-parser-dev libfreetype-dev libharfbuzz-dev libjbig2dec0-dev libopenjp2-7-dev
  libjpeg-dev libgumbo-dev libmujs-dev zlib1g-dev nlohmann-json3-dev libspdlog-dev libcli11-dev
  uuid-dev libssl-dev libcurl4-openssl-dev libtesseract-dev libleptonica-dev tesseract-ocr-eng libseccomp-dev libzip-dev)
# tesseract-ocr-deu: the system tests accept a job in a second installed OCR language.
QUIRE_TEST_PKGS=(postgresql-15 postgresql-client-15 tesseract-ocr-deu python3 python3-levenshtein python3-markdown-it
  python3-mdit-py-plugins python3-jsonschema time poppler-utils curl shellcheck prometheus)

# ensure_packages PKG...: apt-get installs whichever are not installed yet (needs root).
ensure_packages() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  [ "$(id -u)" -eq 0 ] || die "missing packages (run as root to install): ${missing[*]}"
  log "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  if [ -z "${QUIRE_APT_UPDATED:-}" ]; then
    apt-get -o DPkg::Lock::Timeout=900 update -qq >&2 || die "apt-get update failed"
    QUIRE_APT_UPDATED=1
  fi
  apt-get -o DPkg::Lock::Timeout=900 install -y -qq --no-install-recommends "${missing[@]}" >&2 \
    || die "apt-get install failed"
}

# ensure_node: node and npm (Debian's nodejs and npm, unless a node that brings npm is installed).
ensure_node() {
  command -v node >/dev/null && command -v npm >/dev/null && return 0
  ensure_packages nodejs npm
}

# ensure_npm_tree DIR: `npm ci` in DIR (from the npm registry, exactly its package-lock.json, no
# install scripts) unless DIR/node_modules already matches that lock file.
ensure_npm_tree() {
  local dir=$1 want have=""
  want=$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)
  [ -f "$dir/node_modules/.quire-lock.sha256" ] && have=$(cat "$dir/node_modules/.quire-lock.sha256")
  [ "$want" = "$have" ] && return 0
  ensure_node
  log "npm ci in $dir (pinned by its package-lock.json)"
  (cd "$dir" && npm ci --ignore-scripts --no-audit --no-fund >&2) || die "npm ci in $dir failed (it needs the npm registry)"
  echo "$want" >"$dir/node_modules/.quire-lock.sha256"
}

# ensure_web_assets: the browser libraries the binary embeds for its web page (web/CMakeLists.txt
# refuses to configure without them).
ensure_web_assets() { ensure_npm_tree "$QUIRE_ROOT/web"; }

# build_quire BUILD_DIR [cmake args...]: configure (once) and build everything with ccache.
build_quire() {
  local dir=$1; shift
  ensure_web_assets
  export CCACHE_DIR=${CCACHE_DIR:-$HOME/.cache/ccache}
  ccache --max-size=5G >/dev/null 2>&1 || true
  if [ ! -f "$dir/build.ninja" ]; then
    cmake -S "$QUIRE_ROOT" -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >&2 || die "configure failed"
  fi
  cmake --build "$dir" -j "$(nproc)" >&2 || die "build failed"
}
