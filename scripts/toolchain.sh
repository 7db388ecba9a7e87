#!/usr/bin/env bash
# Builds the Pulumi toolchain this project needs from Go modules and installs
# it into <repo>/.pulumi-home; afterwards `source scripts/pulumi-env.sh`.
#
# Why: this machine reaches package registries only, so the Pulumi CLI and its
# plugins cannot be downloaded. The Go module proxy here is a mirror holding a
# subset of module versions, which dictates the versions below:
#
#   PULUMI_VERSION    pkg/v3 is the newest whose module zip the mirror serves
#                     (v3.260.0 answers .info but its .zip is 403; v3.261+ 403).
#                     Pin @pulumi/pulumi to the same version.
#   NODEJS_HOST_SDK   the nodejs language host's own module
#                     (sdk/nodejs/cmd/pulumi-language-nodejs/v3) is 403 at every
#                     version; sdk/v3 v3.68.0 is the last release that still
#                     carries it in-tree. It works with the newer CLI and SDK.
#   BRIDGE_VERSION    newest pulumi-terraform-bridge in the mirror; it speaks the
#                     same terraform-plugin-go/sdk/framework as the upstreams.
#   *_VERSION         the plugin version stamped into each binary; it must equal
#                     the npm package pinned in package.json (checked below).
#   *_UPSTREAM        the upstream Terraform provider, fetched by the path the
#                     mirror holds it under, at the commit that release used.
#                     The pulumi-<name>/provider modules themselves are 403 at
#                     every version, so scripts/toolchain/providers/<name> holds
#                     a small wrapper of our own (token mapping + plugin main).
#
# Builds are cached outside the clone, keyed by versions, in
# ${APP_DATABASES_CACHE:-$HOME/.cache/app-databases}/toolchain; Go's own module
# and build caches are used as configured (go env GOMODCACHE GOCACHE).
# A cold run takes about 15 minutes on 2 cores; a warm one a few seconds.
set -euo pipefail

PULUMI_VERSION=3.259.0
NODEJS_HOST_SDK=3.68.0
BRIDGE_VERSION=3.137.0

RANDOM_VERSION=4.21.2
RANDOM_UPSTREAM=github.com/terraform-providers/terraform-provider-random@v1.3.2-0.20260824155315-e1092b0cfc07
POSTGRESQL_VERSION=3.18.1
POSTGRESQL_UPSTREAM=github.com/cyrilgdn/terraform-provider-postgresql@v1.27.0
DOCKER_VERSION=5.2.0
DOCKER_UPSTREAM=github.com/kreuzwerker/terraform-provider-docker@v0.0.0-20260916201441-96d331c98ff4

# Bump when the build recipe changes in a way that must invalidate caches.
RECIPE=1

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WRAPPERS=$ROOT/scripts/toolchain/providers
CACHE=${APP_DATABASES_CACHE:-$HOME/.cache/app-databases}/toolchain
export PULUMI_HOME=$ROOT/.pulumi-home
export PULUMI_SKIP_UPDATE_CHECK=true
export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
# A newer go.mod directive must not make go try to download a toolchain.
export GOTOOLCHAIN=local

step() { printf '\n==> %s\n' "$*"; }
info() { printf '    %s\n' "$*"; }
die() { printf '\nERROR: %s\n' "$*" >&2; exit 1; }

LOG=
# Runs a command with its output in $LOG; on failure shows the log's tail.
run() {
  if ! "$@" >>"$LOG" 2>&1; then
    printf '\nERROR: command failed: %s\n--- last lines of %s ---\n' "$*" "$LOG" >&2
    tail -n 40 "$LOG" >&2
    exit 1
  fi
}

# Directory of a module in the module cache, downloading it if needed.
moddir() {
  local out
  out=$(go mod download -json "$1" 2>&1) || {
    printf '%s\n' "$out" >&2
    die "cannot fetch Go module $1 from ${GOPROXY:-$(go env GOPROXY)}"
  }
  printf '%s\n' "$out" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",*$/\1/p'
}

# The non-local replace directives of a module's go.mod: `go install` and
# dependency resolution ignore them, so wrapper modules must repeat them.
replaces_of() {
  local gomod
  gomod=$(go mod download -json "$1" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",*$/\1/p')
  awk '
    /^replace[[:space:]]*\($/ { block = 1; next }
    block && /^\)/ { block = 0; next }
    block { print "replace " $0; next }
    /^replace[[:space:]]/ { print }
  ' "$gomod" | grep -v '=>[[:space:]]*\.' | sed 's/^replace[[:space:]]*//; s/^/replace /' || true
}

hash_of() { sha256sum | cut -c1-12; }

check_prereqs() {
  command -v go >/dev/null || die "go is not installed (need go >= 1.26)"
  local gov
  gov=$(go env GOVERSION)
  case $gov in
    go1.2[6-9]* | go1.[3-9]* | go[2-9]*) ;;
    *) die "need go >= 1.26 (the upstream providers declare go 1.26), found $gov" ;;
  esac
}

# package.json (if present) must pin the npm SDKs to the versions built here,
# or the engine asks for a plugin version that is not installed.
check_package_json() {
  [ -f "$ROOT/package.json" ] || return 0
  command -v node >/dev/null || { info "node not found; skipping package.json check"; return 0; }
  local pkg want got bad=0
  for pkg in random:$RANDOM_VERSION postgresql:$POSTGRESQL_VERSION docker:$DOCKER_VERSION pulumi:$PULUMI_VERSION; do
    want=${pkg#*:}
    got=$(node -e 'const p=require(process.argv[1]);const n="@pulumi/"+process.argv[2];
      process.stdout.write(String((p.dependencies||{})[n]||(p.devDependencies||{})[n]||""))' \
      "$ROOT/package.json" "${pkg%%:*}")
    [ -z "$got" ] || [ "$got" = "$want" ] && continue
    if [ "${pkg%%:*}" = pulumi ]; then
      info "note: package.json has @pulumi/pulumi $got, CLI is $want (pin $want to match)"
    else
      printf 'ERROR: package.json has @pulumi/%s "%s" but the plugin built here is %s\n' \
        "${pkg%%:*}" "$got" "$want" >&2
      bad=1
    fi
  done
  [ $bad = 0 ] || die "pin the npm packages above to exactly the versions in scripts/toolchain.sh (or change the versions there)"
}

# build_cli: the CLI from a wrapper module (pkg/v3 has replace directives, so
# `go install pkg@version` refuses it).
build_cli() {
  local dest=$CACHE/pulumi-cli-$PULUMI_VERSION-r$RECIPE
  CLI_BIN=$dest/pulumi
  step "Pulumi CLI v$PULUMI_VERSION"
  if [ -x "$CLI_BIN" ]; then info "cached: $CLI_BIN"; return; fi
  info "building (about 7 minutes cold)..."
  local work=$CACHE/work/cli.$$
  LOG=$CACHE/logs/pulumi-cli-$PULUMI_VERSION.log
  rm -rf "$work" && mkdir -p "$work" && : >"$LOG"
  {
    printf 'module toolchain.local/pulumi-cli\n\ngo 1.26.0\n\n'
    printf 'require github.com/pulumi/pulumi/pkg/v3 v%s\n\n' "$PULUMI_VERSION"
    replaces_of "github.com/pulumi/pulumi/pkg/v3@v$PULUMI_VERSION"
    replaces_of "github.com/pulumi/pulumi/sdk/v3@v$PULUMI_VERSION"
  } | sort -u -s -k1,1 >/dev/null # validate the commands above ran
  {
    printf 'module toolchain.local/pulumi-cli\n\ngo 1.26.0\n\n'
    printf 'require github.com/pulumi/pulumi/pkg/v3 v%s\n\n' "$PULUMI_VERSION"
    { replaces_of "github.com/pulumi/pulumi/pkg/v3@v$PULUMI_VERSION"
      replaces_of "github.com/pulumi/pulumi/sdk/v3@v$PULUMI_VERSION"; } | awk '!seen[$2]++'
  } >"$work/go.mod"
  printf '//go:build tools\n\npackage tools\n\nimport _ "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi"\n' >"$work/tools.go"
  (cd "$work" && run go mod tidy &&
    run go build -trimpath -o "$work/out/pulumi" \
      -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$PULUMI_VERSION" \
      github.com/pulumi/pulumi/pkg/v3/cmd/pulumi)
  publish "$work/out" "$dest"
}
