#!/usr/bin/env bash
# Build the backup runner image (components/backupRunner.ts) locally, without
# any container registry: the local PostgreSQL image that
# scripts/postgres-image.sh builds from Debian's packages, plus the runner
# script in scripts/backup-image/ and its S3 client (scripts/backup-image/s3,
# Go's standard library only, built here with the local Go toolchain).
#
#   scripts/backup-image.sh    # make sure the image exists (cached, idempotent)
#
# Environment:
#   APP_DATABASES_BACKUP_IMAGE  tag to produce (default app-databases/backup-runner:15)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CONTEXT="$HERE/backup-image"
# The runner restores drills on a server of the dump's major: 15, the major Debian's bookworm ships.
PG_MAJOR=15
BASE="app-databases/postgres:$PG_MAJOR"
IMAGE="${APP_DATABASES_BACKUP_IMAGE:-app-databases/backup-runner:$PG_MAJOR}"

log() { printf '[backup-image] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

docker info >/dev/null 2>&1 || die "Docker is not answering; run scripts/docker-engine.sh first"
APP_DATABASES_PG_MAJOR=$PG_MAJOR bash "$HERE/postgres-image.sh"

HASH="$({ docker image inspect -f '{{.Id}}' "$BASE"; cat "$CONTEXT/Dockerfile" "$CONTEXT/app-databases-backup" "$CONTEXT"/s3/*.go "$CONTEXT/s3/go.mod"; } | sha256sum | cut -c1-16)"
if [ "$(docker image inspect -f '{{ index .Config.Labels "org.app-databases.build" }}' "$IMAGE" 2>/dev/null)" = "$HASH" ]; then
  log "$IMAGE is up to date"
  exit 0
fi
log "building $IMAGE on $BASE"
# The build context is a copy: the client binary is built into it, never into the clone.
build="$(mktemp -d)"
trap 'rm -rf "$build"' EXIT
cp "$CONTEXT/Dockerfile" "$CONTEXT/app-databases-backup" "$build/"
command -v go >/dev/null 2>&1 || die "no go command: the runner's S3 client is built from scripts/backup-image/s3 with Go"
(cd "$CONTEXT/s3" && CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS=-mod=mod go build -trimpath -ldflags "-s -w" -o "$build/app-databases-s3" .) ||
  die "building the S3 client (scripts/backup-image/s3) failed"
# The legacy builder: FROM is a local image, nothing is resolved remotely.
DOCKER_BUILDKIT=0 docker build -q --build-arg BASE="$BASE" --build-arg BUILD_HASH="$HASH" -t "$IMAGE" "$build" >/dev/null ||
  die "docker build of $IMAGE failed"
log "$IMAGE ready"
