#!/usr/bin/env bash
# Build the local PgBouncer image (app-databases/pgbouncer:1.18) from Debian
# bookworm's `pgbouncer` package, without any container registry: the .debs
# come from the host's apt (`apt-get download`), the base is the Debian rootfs
# scripts/postgres-image.sh imports (it has postgresql-common, libssl3, libpam).
#
#   scripts/pgbouncer-image.sh            # make sure the image exists (cached, idempotent)
#   scripts/pgbouncer-image.sh --rebuild  # download the packages again too
#
# Caching, cheapest first: the image with the current build hash is in Docker
# -> nothing to do; the .debs are in $CACHE/images/pgbouncer-debs -> docker build (~2 s).
#
# Environment:
#   APP_DATABASES_PGBOUNCER_IMAGE   tag to produce (default app-databases/pgbouncer:1.18)
#   APP_DATABASES_CACHE             cache dir (default ~/.cache/app-databases)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CONTEXT="$HERE/pgbouncer-image"
IMAGE="${APP_DATABASES_PGBOUNCER_IMAGE:-app-databases/pgbouncer:1.18}"
CACHE_DIR="${APP_DATABASES_CACHE:-$HOME/.cache/app-databases}"
DEBS_DIR="$CACHE_DIR/images/pgbouncer-debs"
# The rootfs postgres-image.sh imports for its Debian major (bookworm, recipe 1).
BASE_IMAGE="app-databases/postgres-rootfs:15-bookworm-r1"
# What Debian's pgbouncer needs that the rootfs lacks.
PACKAGES=(pgbouncer libc-ares2 libevent-2.1-7 lsb-base)

log() { printf '[pgbouncer-image] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# shellcheck source=scripts/image-common.sh
source "$(dirname "${BASH_SOURCE[0]}")/image-common.sh"
image_args "$@"

build_hash() {
  { echo "$BASE_IMAGE ${PACKAGES[*]}"; cat "$CONTEXT/Dockerfile" "$CONTEXT/pgbouncer-start.sh"; } | sha256sum | cut -c1-16
}
HASH="$(build_hash)"

mkdir -p "$CACHE_DIR/images"
exec 9>"$CACHE_DIR/images/.pgbouncer.lock"
flock 9

if [ "$REBUILD" -eq 0 ] && [ "$(image_label "$IMAGE")" = "$HASH" ]; then
  log "$IMAGE is up to date"
  exit 0
fi

docker image inspect "$BASE_IMAGE" >/dev/null 2>&1 || "$HERE/postgres-image.sh" || die "could not make the base image $BASE_IMAGE"

[ "$REBUILD" -eq 0 ] || rm -rf "$DEBS_DIR"
if ! ls "$DEBS_DIR"/pgbouncer_*.deb >/dev/null 2>&1; then
  log "downloading ${PACKAGES[*]} with the host's apt"
  tmp="$(mktemp -d "$CACHE_DIR/images/debs.XXXXXX")"
  (cd "$tmp" && apt-get download -q "${PACKAGES[@]}" >/dev/null 2>&1) ||
    (apt-get update -q >/dev/null && cd "$tmp" && apt-get download -q "${PACKAGES[@]}" >/dev/null) ||
    { rm -rf "$tmp"; die "apt-get download ${PACKAGES[*]} failed"; }
  rm -rf "$DEBS_DIR" && mv "$tmp" "$DEBS_DIR"
fi

build="$(mktemp -d "$CACHE_DIR/images/build.XXXXXX")"
trap 'rm -rf "$build"' EXIT
cp -a "$CONTEXT/." "$build/"
mkdir "$build/debs" && cp "$DEBS_DIR"/*.deb "$build/debs/"
log "building $IMAGE from $(cd "$DEBS_DIR" && echo pgbouncer_*.deb)"
# The legacy builder needs no registry when FROM is a local image.
DOCKER_BUILDKIT=0 docker build -q --build-arg BASE="$BASE_IMAGE" --build-arg BUILD_HASH="$HASH" -t "$IMAGE" "$build" >"$build/build.log" 2>&1 ||
  { cat "$build/build.log" >&2; die "docker build of $IMAGE failed"; }
log "$IMAGE ready ($(docker run --rm --entrypoint pgbouncer "$IMAGE" --version | head -1))"
