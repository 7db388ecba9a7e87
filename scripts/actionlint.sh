#!/usr/bin/env bash
# Lints the GitHub Actions workflows with actionlint.
#
#   scripts/actionlint.sh            # lint .github/workflows/*.yml (and *.yaml)
#   scripts/actionlint.sh FILE...    # lint these files
#
# actionlint is built from source with `go install` (the Go module proxy is
# the one place it can come from here) once per machine and version, into
# ${APP_DATABASES_CACHE:-$HOME/.cache/app-databases}/actionlint/<version>/,
# outside the repo. Later runs reuse that binary and take well under a second.
# Exits non-zero when actionlint reports anything.
set -euo pipefail
cd "$(dirname "$0")/.."

# v1.7.12: the newest release the module proxy mirror serves.
ACTIONLINT_VERSION=1.7.12
CACHE_DIR="${APP_DATABASES_CACHE:-$HOME/.cache/app-databases}/actionlint/$ACTIONLINT_VERSION"
BIN="$CACHE_DIR/actionlint"

log() { printf '[actionlint] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 2; }

build() {
  command -v go >/dev/null 2>&1 || die "go is not installed: it builds actionlint (apt-get install golang-go, or /usr/local/go/bin on PATH)"
  mkdir -p "$CACHE_DIR"
  local tmp
  tmp=$(mktemp -d "$CACHE_DIR/.build.XXXXXX")
  # shellcheck disable=SC2064 # expand $tmp now
  trap "rm -rf '$tmp'" EXIT
  log "building actionlint v$ACTIONLINT_VERSION (once) into $CACHE_DIR"
  # GOTOOLCHAIN=local: use the installed Go, never download another one.
  # Outside any go.mod, so the repo's modules (if any) play no part.
  if ! (cd "$tmp" && GOTOOLCHAIN=local GOBIN="$tmp" go install \
    "github.com/rhysd/actionlint/cmd/actionlint@v$ACTIONLINT_VERSION") >"$tmp/build.log" 2>&1; then
    cat "$tmp/build.log" >&2
    die "go install of actionlint v$ACTIONLINT_VERSION failed"
  fi
  # Atomic publish: a reader never sees a half-written binary.
  mv -f "$tmp/actionlint" "$BIN"
  rm -rf "$tmp"
  trap - EXIT
}

if [ ! -x "$BIN" ]; then
  mkdir -p "$CACHE_DIR"
  # One build even when several runs (e.g. parallel test workers) start at once.
  if command -v flock >/dev/null 2>&1; then
    exec 9>"$CACHE_DIR/.lock"
    flock 9
  fi
  [ -x "$BIN" ] || build
fi

if [ $# -eq 0 ]; then
  shopt -s nullglob
  set -- .github/workflows/*.yml .github/workflows/*.yaml
  shopt -u nullglob
  [ $# -gt 0 ] || die "no workflow files under .github/workflows"
fi

flags=(-no-color)
# Shell scripts in run: steps are checked with shellcheck when it is installed,
# Python ones with pyflakes; otherwise those checks are left out, not failed.
command -v shellcheck >/dev/null 2>&1 || flags+=(-shellcheck=)
command -v pyflakes >/dev/null 2>&1 || flags+=(-pyflakes=)

exec "$BIN" "${flags[@]}" "$@"
