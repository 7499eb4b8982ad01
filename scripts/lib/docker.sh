# Docker helpers for the operator scripts (up, deploy, verify, recover, backup, restore) and the
# container tests. Source it after common.sh; it defines variables and functions only.
# shellcheck shell=bash

# Debian's docker client (20.10) has BuildKit built in; another client on PATH may lack buildx.
QUIRE_DOCKER_BIN=${QUIRE_DOCKER_BIN:-/usr/bin/docker}
QUIRE_DOCKER_PKGS=(docker.io docker-compose cgroupfs-mount iptables debootstrap ca-certificates curl jq git)
QUIRE_PROJECT=${QUIRE_PROJECT:-quire}
QUIRE_STATE_DIR=${QUIRE_STATE_DIR:-/var/lib/quire}
QUIRE_BASE_IMAGE=${QUIRE_BASE_IMAGE:-debian:bookworm-slim}
# Local fallback when no registry can serve QUIRE_BASE_IMAGE: built once with debootstrap, reused by tag.
QUIRE_LOCAL_BASE_IMAGE=${QUIRE_LOCAL_BASE_IMAGE:-quire-base:bookworm}
QUIRE_DEBIAN_MIRROR=${QUIRE_DEBIAN_MIRROR:-http://deb.debian.org/debian}
QUIRE_IMAGE_REPO=${QUIRE_IMAGE_REPO:-quire}
# Our PostgreSQL image is tagged by the content of docker/postgres/ at HEAD (db_image_default), so a
# host that built an older one (another entrypoint) builds the new one instead of reusing the tag.
QUIRE_DB_IMAGE_REPO=quire-postgres
QUIRE_PROD_PORT=${QUIRE_PROD_PORT:-8085}
QUIRE_EVAL_PORT=${QUIRE_EVAL_PORT:-8086}
export QUIRE_PROD_PORT QUIRE_EVAL_PORT

dk() { DOCKER_BUILDKIT=1 "$QUIRE_DOCKER_BIN" "$@"; }

# lane_port LANE: the host port a lane publishes.
lane_port() {
  case $1 in
    prod) echo "$QUIRE_PROD_PORT" ;;
    eval) echo "$QUIRE_EVAL_PORT" ;;
    *) die "unknown lane: $1 (prod or eval)" ;;
  esac
}
lane_url() { echo "http://127.0.0.1:$(lane_port "$1")"; }
check_lane() { [[ $1 == prod || $1 == eval ]] || die "unknown lane: $1 (prod or eval)"; }

# ---- the engine ----------------------------------------------------------------------------------

# ensure_docker: install the engine, docker-compose 1.29 and debootstrap when missing; start dockerd.
ensure_docker() {
  ensure_packages "${QUIRE_DOCKER_PKGS[@]}"
  if dk info >/dev/null 2>&1; then return 0; fi
  [ "$(id -u)" -eq 0 ] || die "the docker engine is not running and starting it needs root"
  if [ -d /run/systemd/system ] && command -v systemctl >/dev/null; then
    systemctl start docker >&2 || log "systemctl start docker failed; starting dockerd directly"
  fi
  if ! dk info >/dev/null 2>&1; then
    if ! mountpoint -q /sys/fs/cgroup/memory && [ ! -f /sys/fs/cgroup/cgroup.controllers ]; then
      cgroupfs-mount >&2 || log "cgroupfs-mount failed (continuing)"
    fi
    if ! pgrep -x dockerd >/dev/null; then
      mkdir -p "$QUIRE_STATE_DIR"
      log "starting dockerd (log: $QUIRE_STATE_DIR/dockerd.log)"
      setsid nohup /usr/sbin/dockerd >>"$QUIRE_STATE_DIR/dockerd.log" 2>&1 </dev/null &
    fi
  fi
  local _
  for _ in $(seq 1 60); do
    dk info >/dev/null 2>&1 && return 0
    sleep 1
  done
  tail -n 30 "$QUIRE_STATE_DIR/dockerd.log" >&2 2>/dev/null || true
  die "the docker engine did not come up within 60 s"
}

image_exists() { dk image inspect "$1" >/dev/null 2>&1; }

# ---- images -------------------------------------------------------------------------------------

# resolve_base_image: prints the base image to build on. QUIRE_BASE_IMAGE when it is present or can be
# pulled; otherwise a debootstrapped bookworm (minbase, with -updates and -security) imported as
# QUIRE_LOCAL_BASE_IMAGE, built once and reused. QUIRE_OFFLINE=1 skips the pull attempt.
resolve_base_image() {
  if image_exists "$QUIRE_BASE_IMAGE"; then echo "$QUIRE_BASE_IMAGE"; return 0; fi
  if [ "${QUIRE_OFFLINE:-0}" != 1 ] && [ "$QUIRE_BASE_IMAGE" != "$QUIRE_LOCAL_BASE_IMAGE" ]; then
    if timeout 60 "$QUIRE_DOCKER_BIN" pull -q "$QUIRE_BASE_IMAGE" >/dev/null 2>&1; then
      echo "$QUIRE_BASE_IMAGE"; return 0
    fi
    log "cannot pull $QUIRE_BASE_IMAGE (no registry?): using a debootstrapped base image"
  fi
  if ! image_exists "$QUIRE_LOCAL_BASE_IMAGE"; then
    build_debootstrap_base "$QUIRE_LOCAL_BASE_IMAGE" >&2
  fi
  echo "$QUIRE_LOCAL_BASE_IMAGE"
}

# build_debootstrap_base TAG: Debian bookworm minbase as a docker image (about 1-2 minutes).
build_debootstrap_base() {
  local tag=$1 dir
  command -v debootstrap >/dev/null || ensure_packages debootstrap
  dir=$(mktemp -d /tmp/quire-rootfs.XXXXXX)
  log "debootstrap bookworm into $dir (once; reused as $tag)"
  if ! debootstrap --variant=minbase bookworm "$dir" "$QUIRE_DEBIAN_MIRROR" >"$dir.log" 2>&1; then
    tail -n 30 "$dir.log" >&2; rm -rf "$dir" "$dir.log"; die "debootstrap failed"
  fi
  local mirror=$QUIRE_DEBIAN_MIRROR security=${QUIRE_DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
  cat >"$dir/etc/apt/sources.list" <<EOF
deb $mirror bookworm main
deb $mirror bookworm-updates main
deb $security bookworm-security main
EOF
  # Same container-friendly apt/dpkg settings as the official slim image.
  printf 'path-exclude /usr/share/doc/*\npath-include /usr/share/doc/*/copyright\npath-exclude /usr/share/man/*\npath-exclude /usr/share/locale/*\npath-exclude /usr/share/info/*\n' \
    >"$dir/etc/dpkg/dpkg.cfg.d/quire-slim"
  printf 'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n' >"$dir/etc/apt/apt.conf.d/90quire"
  rm -rf "$dir"/var/cache/apt/archives/*.deb "$dir"/var/lib/apt/lists/* "$dir"/usr/share/man/* "$dir"/usr/share/doc/*/changelog*
  tar -C "$dir" --numeric-owner -c . | dk import \
    -c 'ENV LANG=C.UTF-8 PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    -c 'CMD ["/bin/bash"]' - "$tag" >/dev/null || { rm -rf "$dir" "$dir.log"; die "docker import failed"; }
  rm -rf "$dir" "$dir.log"
  log "base image $tag ready"
}

# source_revision: the revision an image built now would carry (git HEAD, short form as app/revision.cmake).
source_revision() { git -C "$QUIRE_ROOT" rev-parse --short=12 HEAD; }

# build_context_tar: the committed tree at HEAD as a tar stream (deterministic: the same revision
# always gives the same context; uncommitted edits never leak into an image).
build_context_tar() { context_tar HEAD; }

# context_tar REV: the committed tree at REV plus web/node_modules, the browser libraries pinned by
# web/package-lock.json, which the host installed (ensure_web_assets, before the pipe): the image
# build then needs no registry of its own (a build container may not trust what the host's npm
# client trusts), and the bytes are what the lock names.
context_tar() {
  local dir
  dir=$(mktemp -d /tmp/quire-ctx.XXXXXX)
  git -C "$QUIRE_ROOT" archive --format=tar "$1" | tar -C "$dir" -x
  cp -a "$QUIRE_ROOT/web/node_modules" "$dir/web/node_modules"
  tar -C "$dir" --sort=name -c .
  rm -rf "$dir"
}

# db_image_default: quire-postgres:15-<git tree hash of docker/postgres at HEAD>.
db_image_default() {
  local tree
  tree=$(git -C "$QUIRE_ROOT" rev-parse --short=12 HEAD:docker/postgres) || die "docker/postgres is not committed"
  echo "$QUIRE_DB_IMAGE_REPO:15-$tree"
}

# db_image: the stack's database image. The state file records one only when the operator chose
# another image at the first start (QUIRE_DB_IMAGE=postgres:15); ours always follows HEAD.
db_image() {
  local chosen
  chosen=${QUIRE_DB_IMAGE:-$(state_get QUIRE_DB_IMAGE "")}
  if [ -z "$chosen" ] || [[ $chosen == "$QUIRE_DB_IMAGE_REPO":* ]]; then db_image_default; else echo "$chosen"; fi
}

# ensure_db_image: db_image is on this host afterwards (ours built from HEAD, another pulled).
ensure_db_image() {
  local img
  img=$(db_image)
  image_exists "$img" && return 0
  if [[ $img == "$QUIRE_DB_IMAGE_REPO":* ]]; then build_db_image "$img"; else
    dk pull "$img" >&2 || die "cannot get the database image $img"
  fi
}

# build_db_image [TAG]: the PostgreSQL 15 image from Debian's package, from docker/postgres at HEAD
# (committed content only, like the service image: the tag names that content).
build_db_image() {
  local tag=${1:-$(db_image_default)} base dir
  base=$(resolve_base_image)
  log "building $tag on $base"
  dir=$(mktemp -d /tmp/quire-dbctx.XXXXXX)
  git -C "$QUIRE_ROOT" archive --format=tar HEAD docker/postgres | tar -C "$dir" -x
  dk build -q -t "$tag" --build-arg "BASE_IMAGE=$base" -f "$dir/docker/postgres/Dockerfile" \
    "$dir/docker/postgres" >/dev/null || { rm -rf "$dir"; die "building $tag failed"; }
  rm -rf "$dir"
}

# build_service_image [--gpu]: builds the service image for the committed HEAD; tags it
# QUIRE_IMAGE_REPO:REVISION (and :gpu-REVISION with --gpu). Prints the tag.
build_service_image() {
  local variant=cpu
  [ "${1:-}" = --gpu ] && variant=gpu
  # QUIRE_SERVICE_IMAGE names a prebuilt image to use instead of building HEAD (e.g. one built by CI).
  if [ -n "${QUIRE_SERVICE_IMAGE:-}" ]; then
    image_exists "$QUIRE_SERVICE_IMAGE" || die "QUIRE_SERVICE_IMAGE=$QUIRE_SERVICE_IMAGE does not exist"
    log "using the prebuilt image $QUIRE_SERVICE_IMAGE (QUIRE_SERVICE_IMAGE)"
    echo "$QUIRE_SERVICE_IMAGE"; return 0
  fi
  local rev base tag target=runtime
  rev=$(source_revision)
  tag="$QUIRE_IMAGE_REPO:$rev"
  if [ "$variant" = gpu ]; then tag="$QUIRE_IMAGE_REPO:gpu-$rev"; target=runtime-gpu; fi
  if image_exists "$tag" && [ "${QUIRE_REBUILD:-0}" != 1 ]; then
    log "image $tag already built (QUIRE_REBUILD=1 rebuilds)"
    if [ "$(package_lock_mode)" = locked ] && [ -n "$(image_package_drift "$tag")" ]; then
      report_package_drift "$tag"
      die "$tag was built with package drift and the build is --locked (--rebuild --locked to retry)"
    fi
    echo "$tag"; return 0
  fi
  local lock_mode
  lock_mode=$(package_lock_mode)
  base=$(resolve_base_image)
  log "building $tag (revision $rev, base $base, target $target, package lock: $lock_mode)"
  local args=(--build-arg "BASE_IMAGE=$base" --build-arg "QUIRE_REVISION=$rev"
    --build-arg "BUILD_PKGS=${QUIRE_BUILD_PKGS[*]}"
    --build-arg "PACKAGE_LOCK=$lock_mode"
    --build-arg "BASE_IMAGE_ID=$(dk image inspect -f '{{.Id}}' "$base")"
    --build-arg "CREATED=$(git -C "$QUIRE_ROOT" log -1 --format=%cI HEAD)"
    --build-arg "SOURCE_DATE_EPOCH=$(git -C "$QUIRE_ROOT" log -1 --format=%ct HEAD)"
    --target "$target" -t "$tag" -f docker/Dockerfile)
  # Tesseract languages of the runtime image (docker/Dockerfile's OCR_LANGUAGES has the default).
  [ -n "${QUIRE_OCR_LANGUAGES:-}" ] && args+=(--build-arg "OCR_LANGUAGES=$QUIRE_OCR_LANGUAGES")
  local logf t0
  mkdir -p "$QUIRE_STATE_DIR"
  logf="$QUIRE_STATE_DIR/build-${tag//[:\/]/-}.log"
  log "build log: $logf"
  t0=$(date +%s)
  ensure_web_assets
  local ctx=build_context_tar
  if [ "$variant" = gpu ]; then
    [ -x /usr/local/cuda/bin/nvcc ] || die "the GPU image needs a CUDA toolkit in /usr/local/cuda"
    ctx=build_gpu_context_tar
  fi
  if [ "${QUIRE_VERBOSE:-0}" = 1 ]; then
    "$ctx" | dk build --progress=plain "${args[@]}" - 2>&1 | tee "$logf" >&2
    [ "${PIPESTATUS[1]}" -eq 0 ] || die "building $tag failed (log: $logf)"
  elif ! "$ctx" | dk build --progress=plain "${args[@]}" - >"$logf" 2>&1; then
    tail -n 60 "$logf" >&2
    die "building $tag failed (log: $logf)"
  fi
  log "built $tag in $(( $(date +%s) - t0 ))s, $(dk image inspect -f '{{.Size}}' "$tag" | awk '{printf "%d MB", $1/1e6}')"
  report_package_drift "$tag"
  echo "$tag"
}

# package_lock_mode: how a build treats package versions that differ from docker/packages/*.lock:
# warn (default; a newer Debian point release must not break a fresh machine's quick start) or locked
# (QUIRE_PACKAGE_LOCK=locked, scripts/images --locked / scripts/up --locked: drift fails the build).
package_lock_mode() {
  case ${QUIRE_PACKAGE_LOCK:-warn} in
    warn|locked) echo "${QUIRE_PACKAGE_LOCK:-warn}" ;;
    *) die "QUIRE_PACKAGE_LOCK must be warn or locked, not '${QUIRE_PACKAGE_LOCK}'" ;;
  esac
}

# image_package_drift IMAGE [NAME...]: the "drift PKG locked=… installed=…" lines recorded in IMAGE
# (builder and runtime by default); nothing when its packages match the lock.
image_package_drift() {
  local image=$1; shift
  local names=("$@") name
  [ ${#names[@]} -gt 0 ] || names=(builder runtime)
  for name in "${names[@]}"; do
    dk run --rm --entrypoint cat "$image" "/usr/share/quire/$name-drift.txt" 2>/dev/null | grep '^drift ' || true
  done
}

# report_package_drift IMAGE: logs a WARNING listing every package whose version differs from the
# lock (the image's /usr/share/quire/{builder,runtime}-drift.txt); silent when there is none.
report_package_drift() {
  local image=$1 name lines line
  for name in builder runtime; do
    lines=$(image_package_drift "$image" "$name")
    [ -n "$lines" ] || continue
    log "WARNING: $image was built with $(wc -l <<<"$lines") $name package(s) newer than docker/packages/$name.lock" \
      "(a Debian point release; scripts/images --update-lock refreshes the lock, --locked refuses drift):"
    while IFS= read -r line; do printf '  %s\n' "$line" >&2; done <<<"$lines"
  done
}

# check_reproducible IMAGE: is the image's binary what its revision builds? Compiles the revision once
# more (Dockerfile target `rebuild`: no ccache, other directories, same toolchain lock) and compares
# that binary's sha256 with the image's /usr/share/quire/BUILDINFO and with the installed binary.
# Logs both; returns 1 when they differ (with the toolchain difference, if any, as the likely cause).
check_reproducible() {
  local image=$1 info rev variant want installed got tag logf t0
  info=$(dk run --rm --entrypoint cat "$image" /usr/share/quire/BUILDINFO 2>/dev/null) \
    || { log "$image has no /usr/share/quire/BUILDINFO (built before reproducible builds)"; return 1; }
  rev=$(sed -n 's/^revision=//p' <<<"$info")
  variant=$(sed -n 's/^variant=//p' <<<"$info")
  want=$(sed -n 's/^binary_sha256=//p' <<<"$info")
  [ "$variant" = cpu ] || { log "only the CPU image can be rebuilt here ($image is '$variant')"; return 1; }
  installed=$(dk run --rm --entrypoint sha256sum "$image" /usr/local/bin/quire | cut -d' ' -f1)
  if [ "$installed" != "$want" ]; then
    log "MISMATCH: $image's /usr/local/bin/quire is $installed, its BUILDINFO says $want"
    return 1
  fi
  git -C "$QUIRE_ROOT" cat-file -e "$rev^{commit}" 2>/dev/null \
    || { log "revision $rev of $image is not in $QUIRE_ROOT (fetch it first)"; return 1; }
  tag="$QUIRE_IMAGE_REPO:rebuild-$rev"
  mkdir -p "$QUIRE_STATE_DIR"
  logf="$QUIRE_STATE_DIR/rebuild-$rev.log"
  log "rebuilding revision $rev without ccache (log: $logf)"
  t0=$(date +%s)
  ensure_web_assets
  if ! context_tar "$rev" | dk build --progress=plain --target rebuild -t "$tag" \
      --build-arg "BASE_IMAGE=$(resolve_base_image)" --build-arg "QUIRE_REVISION=$rev" \
      --build-arg "BUILD_PKGS=${QUIRE_BUILD_PKGS[*]}" --build-arg "PACKAGE_LOCK=$(package_lock_mode)" \
      --build-arg "SOURCE_DATE_EPOCH=$(git -C "$QUIRE_ROOT" log -1 --format=%ct "$rev")" \
      -f docker/Dockerfile - >"$logf" 2>&1; then
    tail -n 40 "$logf" >&2
    log "the rebuild of $rev failed (log: $logf)"
    return 1
  fi
  got=$(dk run --rm --entrypoint cat "$tag" /out/BUILDINFO | sed -n 's/^binary_sha256=//p')
  log "rebuilt $rev in $(( $(date +%s) - t0 ))s"
  log "image   $image: quire sha256 $want"
  log "rebuild $tag: quire sha256 $got"
  local tools=""
  if [ "$got" != "$want" ]; then
    tools=$(diff <(dk run --rm --entrypoint cat "$image" /usr/share/quire/builder-packages.txt 2>/dev/null) \
      <(dk run --rm --entrypoint cat "$tag" /usr/share/quire/builder-packages.txt 2>/dev/null) || true)
  fi
  dk rmi "$tag" >/dev/null 2>&1 || true  # BuildKit keeps its cache: a second check reuses this rebuild
  if [ "$got" != "$want" ]; then
    log "NOT REPRODUCIBLE: the rebuild of $rev differs from $image${tools:+ (toolchain differs: $tools)}"
    return 1
  fi
  log "reproducible: $image's binary is byte-identical to an independent rebuild of $rev"
}

# build_gpu_context_tar: the source tree plus the CUDA parts the builder needs (under cuda/).
build_gpu_context_tar() {
  local dir
  dir=$(mktemp -d /tmp/quire-gpuctx.XXXXXX)
  git -C "$QUIRE_ROOT" archive --format=tar HEAD | tar -C "$dir" -x
  cp -a "$QUIRE_ROOT/web/node_modules" "$dir/web/node_modules"
  # Only what nvcc and a static cudart link need (about 220 MB, not the whole toolkit).
  local cuda
  cuda=$(readlink -f /usr/local/cuda)
  mkdir -p "$dir/cuda/lib" "$dir/cuda/targets/x86_64-linux"
  cp -a "$cuda/bin" "$cuda/nvvm" "$cuda/include" "$dir/cuda/" || die "copying $cuda into the build context failed"
  cp -a "$cuda"/lib/libcudart* "$cuda/lib/libcudadevrt.a" "$cuda/lib/libculibos.a" "$dir/cuda/lib/" \
    || die "copying the CUDA runtime libraries failed"
  [ -d "$cuda/lib/stubs" ] && cp -a "$cuda/lib/stubs" "$dir/cuda/lib/"
  ln -s lib "$dir/cuda/lib64"
  ln -s ../../include "$dir/cuda/targets/x86_64-linux/include"
  ln -s ../../lib "$dir/cuda/targets/x86_64-linux/lib"
  tar -C "$dir" -c .
  rm -rf "$dir"
}

# ---- compose --------------------------------------------------------------------------------------

# The state file holds, per project, the image and expected revision of each lane (written by deploy).
state_file() { echo "$QUIRE_STATE_DIR/$QUIRE_PROJECT.env"; }

# state_get KEY [DEFAULT]
state_get() {
  local f v
  f=$(state_file)
  [ -f "$f" ] || { echo "${2:-}"; return 0; }
  v=$(sed -n "s/^$1=//p" "$f" | tail -n 1)
  echo "${v:-${2:-}}"
}

# state_set KEY VALUE: atomic rewrite of the state file.
state_set() {
  local f tmp
  f=$(state_file)
  mkdir -p "$QUIRE_STATE_DIR"
  tmp=$(mktemp "$f.XXXXXX")
  if [ -f "$f" ]; then grep -v "^$1=" "$f" >"$tmp" || true; fi
  echo "$1=$2" >>"$tmp"
  mv -f "$tmp" "$f"
}

# compose_args: -f arguments: the base file, then the overrides named (colon-separated, relative to
# the repository root or absolute) by QUIRE_COMPOSE_OVERRIDES, else by the state file.
compose_args() {
  local args=(-p "$QUIRE_PROJECT" -f "$QUIRE_ROOT/docker/compose.yaml") o list
  list=${QUIRE_COMPOSE_OVERRIDES-$(state_get QUIRE_COMPOSE_OVERRIDES "")}
  if [ -n "$list" ]; then
    local IFS=:
    for o in $list; do
      [[ $o == /* ]] || o="$QUIRE_ROOT/$o"
      args+=(-f "$o")
    done
  fi
  printf '%s\n' "${args[@]}"
}

# state_init: creates the project's state file once, with random database passwords and API keys
# (mode 600). Idempotent: existing values are kept.
state_init() {
  local f k
  f=$(state_file)
  mkdir -p "$QUIRE_STATE_DIR"
  [ -f "$f" ] || { (umask 077; : >"$f"); log "created state file $f"; }
  chmod 600 "$f"
  for k in QUIRE_DB_SUPERUSER_PASSWORD QUIRE_DB_PROD_PASSWORD QUIRE_DB_EVAL_PASSWORD; do
    [ -n "$(state_get "$k")" ] || state_set "$k" "$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
  done
  for k in QUIRE_PROD_API_KEYS QUIRE_EVAL_API_KEYS; do
    [ -n "$(state_get "$k")" ] || state_set "$k" "qk_$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
  done
  # QUIRE_DB_IMAGE=postgres:15 at the first start selects the official image (needs a registry);
  # without it nothing is recorded and db_image follows docker/postgres at HEAD.
  if [ -z "$(state_get QUIRE_DB_IMAGE)" ] && [ -n "${QUIRE_DB_IMAGE:-}" ]; then state_set QUIRE_DB_IMAGE "$QUIRE_DB_IMAGE"; fi
}

# api_key LANE: the first API key of the lane (from the state file).
api_key() { local k; k=$(state_get "QUIRE_${1^^}_API_KEYS"); echo "${k%%,*}"; }

# ---- secrets: files, never environment values (`docker inspect` shows a container's environment) ----

# The uid the quire image runs as (docker/Dockerfile: useradd --uid 10001) and the one PostgreSQL
# drops to in the official image; files they read are given to them (0400) when we run as root.
QUIRE_IMAGE_UID=10001
QUIRE_DB_IMAGE_UID=999
secrets_dir() { echo "$QUIRE_STATE_DIR/$QUIRE_PROJECT.secrets"; }

# secret_put NAME VALUE UID: (re)writes one secret file when its content changed. As root: owned by
# UID, mode 0400. Otherwise 0444: Compose outside swarm mounts the file as it is and cannot set its
# owner, so the container's user must be able to read it; the 0700 directory keeps it from other
# users of the host.
secret_put() {
  local dir f tmp
  dir=$(secrets_dir)
  f="$dir/$1"
  if [ -f "$f" ] && [ "$(cat "$f")" = "$2" ]; then return 0; fi
  tmp=$(mktemp "$dir/.$1.XXXXXX")
  printf '%s\n' "$2" >"$tmp"
  if [ "$(id -u)" = 0 ]; then
    chown "$3:$3" "$tmp" && chmod 0400 "$tmp"
  else
    chmod 0444 "$tmp"
  fi
  mv -f "$tmp" "$f"
}

# secrets_sync: the stack's secrets as files in secrets_dir (docker/compose.yaml mounts them at
# /run/secrets/NAME), from the state file; a value set in the calling environment wins, as for the
# other settings. Records QUIRE_SECRETS_DIR in the state file, where Compose finds it.
secrets_sync() {
  local dir lane pw keys pw_var keys_var
  dir=$(secrets_dir)
  (umask 077 && mkdir -p "$dir")
  chmod 700 "$dir"
  secret_put db_superuser_password "${QUIRE_DB_SUPERUSER_PASSWORD:-$(state_get QUIRE_DB_SUPERUSER_PASSWORD)}" "$QUIRE_DB_IMAGE_UID"
  for lane in prod eval; do
    pw_var=QUIRE_DB_${lane^^}_PASSWORD keys_var=QUIRE_${lane^^}_API_KEYS
    pw=${!pw_var:-$(state_get "$pw_var")}
    keys=${!keys_var:-$(state_get "$keys_var")}
    if [ -z "$pw" ] || [ -z "$keys" ]; then die "the state file $(state_file) lacks $pw_var or $keys_var"; fi
    secret_put "db_${lane}_password" "$pw" "$QUIRE_DB_IMAGE_UID"
    secret_put "${lane}_database_url" "postgresql://quire_$lane:$pw@db:5432/quire_$lane" "$QUIRE_IMAGE_UID"
    secret_put "${lane}_api_keys" "$(tr ',' '\n' <<<"$keys")" "$QUIRE_IMAGE_UID"
  done
  [ "$(state_get QUIRE_SECRETS_DIR)" = "$dir" ] || state_set QUIRE_SECRETS_DIR "$dir"
}

# dc ARGS...: docker-compose for this project. Values come from the state file (--env-file); variables
# set in the calling environment win (tests use that to inject faults).
dc() {
  local args=()
  mapfile -t args < <(compose_args)
  [ -f "$(state_file)" ] || state_init
  secrets_sync
  QUIRE_DB_IMAGE=$(db_image) DOCKER_HOST=${DOCKER_HOST:-unix:///var/run/docker.sock} \
    docker-compose --env-file "$(state_file)" "${args[@]}" "$@"
}

# container_id SERVICE: the id of the service's container ("" when none).
container_id() { dc ps -q "$1" 2>/dev/null | head -n 1; }

# health_of SERVICE: healthy | unhealthy | starting | exited | missing | running (no healthcheck).
health_of() {
  local id
  id=$(container_id "$1")
  [ -n "$id" ] || { echo missing; return 0; }
  dk inspect -f '{{if .State.Health}}{{if eq .State.Status "running"}}{{.State.Health.Status}}{{else}}{{.State.Status}}{{end}}{{else}}{{.State.Status}}{{end}}' "$id" 2>/dev/null || echo missing
}

# wait_health SERVICE WANT TIMEOUT_S: waits until health_of SERVICE is WANT; returns 1 on timeout.
wait_health() {
  local svc=$1 want=$2 timeout=$3 t0 h
  t0=$(date +%s)
  while :; do
    h=$(health_of "$svc")
    [ "$h" = "$want" ] && return 0
    [ $(( $(date +%s) - t0 )) -ge "$timeout" ] && { log "$svc is $h after ${timeout}s (wanted $want)"; return 1; }
    sleep 2
  done
}

# readyz LANE: prints the /readyz body; returns 0 iff HTTP 200.
readyz() {
  local body code
  # ?verbose with the lane's key: the full reason messages (the open /readyz gives one fixed
  # sentence per code), which tell a converters_not_ready caused by the missing GPU from others.
  body=$(curl -sS --max-time 5 -w '\n%{http_code}' -H "X-API-Key: $(api_key "$1")" "$(lane_url "$1")/readyz?verbose" 2>/dev/null) \
    || { echo '{"error":"unreachable"}'; return 2; }
  code=${body##*$'\n'}
  echo "${body%$'\n'*}"
  [ "$code" = 200 ]
}

# wait_ready LANE TIMEOUT_S: waits for /readyz 200 on the lane's port.
wait_ready() {
  local lane=$1 timeout=$2 t0 body=""
  t0=$(date +%s)
  while :; do
    if body=$(readyz "$lane"); then return 0; fi
    [ $(( $(date +%s) - t0 )) -ge "$timeout" ] && { log "$lane not ready after ${timeout}s: $body"; return 1; }
    sleep 2
  done
}

# wait_reason LANE REASON TIMEOUT_S: waits until /readyz is 503 and lists REASON.
wait_reason() {
  local lane=$1 reason=$2 timeout=$3 t0 body=""
  t0=$(date +%s)
  while :; do
    if ! body=$(readyz "$lane") && grep -q "\"$reason\"" <<<"$body"; then return 0; fi
    [ $(( $(date +%s) - t0 )) -ge "$timeout" ] && { log "$lane never reported $reason in ${timeout}s: $body"; return 1; }
    sleep 2
  done
}

# host_gpu_available: 0 when the host shows an NVIDIA GPU and the container toolkit is installed.
host_gpu_available() {
  command -v nvidia-smi >/dev/null && nvidia-smi -L >/dev/null 2>&1 && command -v nvidia-container-runtime >/dev/null
}

# ---- lanes ----------------------------------------------------------------------------------------

# migrate_lane LANE: applies pending migrations to the lane's database with the lane's own image
# (a one-off container; the database must be healthy).
migrate_lane() {
  local lane=$1
  log "migrating the $lane database"
  dc run --rm --no-deps -T quire-"$lane" migrate >&2 || die "quire migrate failed for the $lane lane"
}

# convert_pdf LANE PDF OUT_MD: uploads PDF through the lane's API, waits for the job, downloads the
# Markdown to OUT_MD. Prints the job JSON (final state) on stdout; non-zero on any failure.
convert_pdf() {
  local lane=$1 pdf=$2 out=$3 url key resp id status t0
  url=$(lane_url "$lane"); key=$(api_key "$lane")
  resp=$(curl -sS --max-time 60 -H "X-API-Key: $key" -F "file=@$pdf;type=application/pdf" \
    "$url/v1/convert/jobs?wait_seconds=20") || { log "upload to $lane failed"; return 1; }
  id=$(jq -r '.job.job_id // empty' <<<"$resp" 2>/dev/null)
  [ -n "$id" ] || { log "upload to $lane refused: $resp"; return 1; }
  t0=$(date +%s)
  while :; do
    status=$(jq -r '.job.status // empty' <<<"$resp" 2>/dev/null)
    case $status in
      succeeded) break ;;
      failed|canceled|expired) log "job $id on $lane ended $status: $resp"; return 1 ;;
    esac
    [ $(( $(date +%s) - t0 )) -lt "${QUIRE_CONVERT_TIMEOUT:-300}" ] || { log "job $id on $lane still $status"; return 1; }
    resp=$(curl -sS --max-time 40 -H "X-API-Key: $key" "$url/v1/convert/jobs/$id?wait_seconds=20") \
      || { log "polling job $id failed"; sleep 2; resp='{}'; }
  done
  mkdir -p "$(dirname "$out")"
  curl -sS --fail --max-time 60 -H "X-API-Key: $key" -o "$out.tmp" "$url/v1/convert/jobs/$id/result/markdown" \
    || { log "downloading the Markdown of job $id failed"; return 1; }
  [ -s "$out.tmp" ] || { log "job $id produced empty Markdown"; return 1; }
  mv -f "$out.tmp" "$out"
  jq -c '.job' <<<"$resp"
}

# prod_should_be_ready: true when the prod lane is expected to become ready here: the GPU override
# (a GPU host) or the local-testing CPU override is in use. Otherwise gpu_unavailable is correct.
prod_should_be_ready() {
  local o
  o=":${QUIRE_COMPOSE_OVERRIDES-$(state_get QUIRE_COMPOSE_OVERRIDES "")}:"
  [[ $o == *"compose.gpu.yaml:"* || $o == *"compose.prod-cpu.yaml:"* ]]
}

# unexpected_without_gpu READYZ_JSON: prints the failing reason codes that a prod lane on a host
# without a GPU should NOT have. Expected there: gpu_unavailable, and the converters_not_ready that
# follows from it when no CPU converter is configured ("no converters: no working GPU ...").
# Prints nothing when the body shows exactly that state; "unknown" when the body is unreadable.
unexpected_without_gpu() {
  jq -r '[.reasons[] | select(.code != "gpu_unavailable")
          | select(.code != "converters_not_ready" or ((.message // "") | startswith("no converters:") | not))
          | .code] | join(",")' <<<"$1" 2>/dev/null || echo unknown
}

# only_no_gpu READYZ_JSON: true when the lane fails for no other reason than the missing GPU.
only_no_gpu() {
  jq -e '[.reasons[].code] | index("gpu_unavailable") != null' <<<"$1" >/dev/null 2>&1 \
    && [ -z "$(unexpected_without_gpu "$1")" ]
}

# wait_prod TIMEOUT_S: waits for the state the prod lane should reach on this host: ready, or not
# ready only because there is no GPU (gpu_unavailable, said plainly). Returns 1 otherwise.
wait_prod() {
  local timeout=$1 body others
  if prod_should_be_ready; then
    wait_ready prod "$timeout" || return 1
    log "prod lane ready on $(lane_url prod)"
    return 0
  fi
  wait_reason prod gpu_unavailable "$timeout" || return 1
  body=$(readyz prod || true)
  others=$(unexpected_without_gpu "$body")
  if [ -n "$others" ]; then log "the prod lane is not ready for other reasons too: $others"; return 1; fi
  log "prod lane is NOT ready, as it should be on this host: gpu_unavailable (no working GPU or no NVIDIA"
  log "container toolkit). It needs a GPU host; for local testing only: scripts/up --prod-on-cpu."
}
