#!/usr/bin/env bash
# Builds SeaweedFS (Apache-2.0), the S3-compatible server the backup tests
# upload to, from its Go module, once, into a cache outside the clone. Prints
# nothing but progress; the binary's path is `scripts/seaweedfs.sh --path`.
#
# Why from source: no container registry or release download is reachable here,
# and MinIO is AGPL. Its go.mod has a replace directive, so `go install
# module@version` refuses it: the module's source is copied out of the module
# cache and built as the main module. Cold build, 2 cores: 10-25 minutes.
set -euo pipefail

# The version the Go module proxy mirror serves (its only listed pseudo-version).
SEAWEEDFS_VERSION=v0.0.0-20261109003541-7506e5f91cd6
MODULE=github.com/seaweedfs/seaweedfs
CACHE=${APP_DATABASES_CACHE:-$HOME/.cache/app-databases}/seaweedfs
BIN=$CACHE/weed-$SEAWEEDFS_VERSION

if [ "${1:-}" = "--path" ]; then
  printf '%s\n' "$BIN"
  exit 0
fi
[ -x "$BIN" ] && exit 0

# shellcheck source=scripts/heartbeat.sh
source "$(dirname "${BASH_SOURCE[0]}")/heartbeat.sh"
export GOTOOLCHAIN=local GOFLAGS=-mod=mod
mkdir -p "$CACHE"
# One build at a time; a second caller waits for the first and finds the binary.
exec 9>"$CACHE/.lock"
flock 9
[ -x "$BIN" ] && exit 0
log=$CACHE/build.log
: >"$log"
printf '[seaweedfs] building weed %s (log: %s)\n' "$SEAWEEDFS_VERSION" "$log" >&2
src=$(go mod download -json "$MODULE@$SEAWEEDFS_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
[ -d "$src" ] || { printf '[seaweedfs] go mod download %s@%s failed\n' "$MODULE" "$SEAWEEDFS_VERSION" >&2; exit 1; }
work=$(mktemp -d "$CACHE/src.XXXXXX")
trap 'rm -rf "$work"' EXIT
cp -r "$src/." "$work/"
chmod -R u+w "$work"
build() { (cd "$work" && go build -trimpath -ldflags "-s -w" -o "$BIN.partial" ./weed); }
if ! HEARTBEAT_SECONDS=60 heartbeat --log "$log" "go build weed" build; then
  tail -30 "$log" >&2
  printf '[seaweedfs] build failed (log above)\n' >&2
  exit 1
fi
mv "$BIN.partial" "$BIN"
printf '[seaweedfs] built %s\n' "$BIN" >&2
