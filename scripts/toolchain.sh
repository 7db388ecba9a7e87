#!/usr/bin/env bash
# Builds the Pulumi toolchain this project needs from Go modules and installs
# it into <repo>/.pulumi-home. Afterwards: `source scripts/pulumi-env.sh`.
#
# Why: this machine reaches package registries only, so the Pulumi CLI and its
# plugins cannot be downloaded. The Go module proxy here is a mirror holding a
# subset of module versions, and that subset dictates the versions below:
#
#   PULUMI_VERSION   newest pulumi/pkg/v3 whose module zip the mirror serves
#                    (v3.260.0 answers .info but its .zip is 403; v3.261+ 403).
#                    Pin @pulumi/pulumi to the same version.
#   NODEJS_HOST_SDK  the nodejs language host's own module
#                    (pulumi/sdk/nodejs/cmd/pulumi-language-nodejs/v3) is 403 at
#                    every version; sdk/v3 v3.68.0 is the last release that
#                    still carries it in-tree. It works with the newer CLI/SDK,
#                    with one patch (scripts/toolchain/nodejs-host): it reads
#                    Pulumi.yaml's runtime options from the run request.
#   PYTHON_HOST_SDK  the Python language host: like nodejs's, its own module is
#                    403 at every version; sdk/v3 v3.79.0 is the last release
#                    with it in-tree; v3.68.0 matches the nodejs host. Beside
#                    it, its pulumi-language-python-exec shim from the same tree.
#   GO_HOST_SDK      the Go language host: its own module
#                    (pulumi/sdk/go/pulumi-language-go/v3) is 403 at every
#                    version; sdk/v3 v3.66.0 is the last release with it
#                    in-tree (v3.67.0 moved it out).
#   YAML_VERSION     pulumi-yaml's language host, built against PULUMI_VERSION:
#                    v1.38.1 (wants pkg v3.255) compiles with it; v1.19.1
#                    (wants v3.170) does not, and v1.13.0 fails its checksum.
#   BRIDGE_VERSION   newest pulumi-terraform-bridge in the mirror; it uses the
#                    same terraform-plugin-go/sdk/framework as the upstreams.
#   <NAME>_VERSION   plugin version stamped into each binary; it must equal the
#                    npm package pinned in package.json (checked below).
#   <NAME>_UPSTREAM  the upstream Terraform provider, by the path the mirror
#                    holds it under, at the commit that plugin release used.
#                    The pulumi-<name>/provider modules are 403 at every
#                    version, so scripts/toolchain/providers/<name> holds a small
#                    wrapper of our own (token mapping and plugin main).
#
# Built binaries are cached outside the clone, keyed by versions, under
# ${APP_DATABASES_CACHE:-$HOME/.cache/app-databases}/toolchain; Go's module and
# build caches are used as configured (`go env GOMODCACHE GOCACHE`).
# Cold run (empty caches), 2 cores, measured: 7 minutes on a quiet machine,
# 24 under heavy load. Warm run: 1-4 seconds.
set -euo pipefail

PULUMI_VERSION=3.259.0
NODEJS_HOST_SDK=3.68.0
PYTHON_HOST_SDK=3.68.0
GO_HOST_SDK=3.66.0
YAML_VERSION=1.38.1
BRIDGE_VERSION=3.137.0

RANDOM_VERSION=4.21.2
RANDOM_UPSTREAM=github.com/terraform-providers/terraform-provider-random@v1.3.2-0.20260824155315-e1092b0cfc07
POSTGRESQL_VERSION=3.18.1
POSTGRESQL_UPSTREAM=github.com/cyrilgdn/terraform-provider-postgresql@v1.27.0
DOCKER_VERSION=5.2.0
DOCKER_UPSTREAM=github.com/kreuzwerker/terraform-provider-docker@v0.0.0-20260916201441-96d331c98ff4

# Bump when the build recipe changes in a way that must invalidate the cache.
RECIPE=1

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WRAPPERS=$ROOT/scripts/toolchain/providers
FRONT=$ROOT/scripts/toolchain/front
CACHE=${APP_DATABASES_CACHE:-$HOME/.cache/app-databases}/toolchain
export PULUMI_HOME=$ROOT/.pulumi-home
export PULUMI_SKIP_UPDATE_CHECK=true
export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
# A go directive newer than the local Go must fail, not fetch a toolchain.
export GOTOOLCHAIN=local

step() { printf '\n==> %s\n' "$*"; }
info() { printf '    %s\n' "$*"; }
die() { printf '\nERROR: %s\n' "$*" >&2; exit 1; }

# run CMD...: output goes to $LOG; on failure show its tail and stop.
LOG=/dev/null
# shellcheck source=scripts/heartbeat.sh
source "$(dirname "${BASH_SOURCE[0]}")/heartbeat.sh"
run() {
  if ! heartbeat --log "$LOG" "$(basename "$LOG" .log): ${1##*/} ${*:2:2}" "$@"; then
    printf '\nERROR: failed: %s\n--- last lines of %s ---\n' "$*" "$LOG" >&2
    tail -n 40 "$LOG" >&2
    exit 1
  fi
}

# modjson MOD@VER FIELD: a field of `go mod download -json` (downloads it).
modjson() {
  local out
  if ! out=$(go mod download -json "$1" 2>&1); then
    printf '%s\n' "$out" >&2
    die "cannot fetch Go module $1 from $(go env GOPROXY)"
  fi
  printf '%s\n' "$out" | sed -n "s/^[[:space:]]*\"$2\": \"\(.*\)\",*\$/\1/p"
}

# replaces_of MOD@VER...: the non-local replace directives of those go.mod
# files. Dependencies' replaces are ignored by Go, so a wrapper module must
# repeat them (first one wins for a given path).
replaces_of() {
  local m gomod
  for m in "$@"; do
    gomod=$(modjson "$m" GoMod)
    awk '/^replace[[:space:]]*\($/ { b = 1; next }
         b && /^\)/ { b = 0; next }
         b { print "replace " $0; next }
         /^replace[[:space:]]/ { print }' "$gomod"
  done | awk '$0 !~ /=>[[:space:]]*\./ && !seen[$2]++ { $1 = $1; print }'
}

# publish WORK DEST: move a finished build into the cache in one step.
publish() {
  mkdir -p "$(dirname "$2")"
  rm -rf "$2"
  mv "$1/out" "$2"
  rm -rf "$1"
  info "built in $((SECONDS - STARTED))s: $2"
}

# patched_copy MODDIR DEST PATCH: a writable copy of a Go module from the module
# cache, with PATCH (git apply -p1) applied when that file exists.
patched_copy() {
  cp -R "$1" "$2"
  chmod -R u+w "$2"
  if [ -f "$3" ]; then
    (cd "$2" && run git apply -p1 "$3")
  fi
}

# prepare NAME: a fresh work dir and log for one component.
prepare() {
  WORK=$CACHE/work/$1.$$
  LOG=$CACHE/logs/$1.log
  rm -rf "$WORK"
  mkdir -p "$WORK/out" "$CACHE/logs"
  : >"$LOG"
  STARTED=$SECONDS
  info "building (log: $LOG)"
}

check_prereqs() {
  command -v go >/dev/null || die "go is not installed (need go >= 1.26)"
  case $(go env GOVERSION) in
    go1.2[6-9]* | go1.[3-9][0-9]*) ;;
    *) die "need go >= 1.26 (the upstream providers declare go 1.26), found $(go env GOVERSION)" ;;
  esac
}

# package.json, if present, must pin the provider SDKs to the plugin versions
# built here: the engine asks for exactly the version the npm package names.
check_package_json() {
  [ -f "$ROOT/package.json" ] || return 0
  command -v node >/dev/null || { info "node not found; package.json not checked"; return 0; }
  local pair name want got bad=0
  for pair in random=$RANDOM_VERSION postgresql=$POSTGRESQL_VERSION \
    docker=$DOCKER_VERSION pulumi=$PULUMI_VERSION; do
    name=${pair%%=*} want=${pair#*=}
    got=$(node -e 'const p = require(process.argv[1]), n = "@pulumi/" + process.argv[2];
      process.stdout.write((p.dependencies || {})[n] || (p.devDependencies || {})[n] || "")' \
      "$ROOT/package.json" "$name")
    if [ -z "$got" ] || [ "$got" = "$want" ]; then continue; fi
    if [ "$name" = pulumi ]; then
      info "note: package.json has @pulumi/pulumi \"$got\"; the CLI is $want"
    else
      printf 'ERROR: package.json has @pulumi/%s "%s", the plugin built here is %s\n' \
        "$name" "$got" "$want" >&2
      bad=1
    fi
  done
  [ "$bad" = 0 ] || die "pin those npm packages to exactly the versions in scripts/toolchain.sh, or change the versions there"
}

# The CLI, via a wrapper module: pkg/v3 has replace directives, so
# `go install github.com/pulumi/pulumi/pkg/v3/cmd/pulumi@vX` refuses it.
# Beside it, as in Pulumi's release archives, the script that runs dynamic
# providers (pulumi.dynamic.Resource), taken from the same sdk release.
build_cli() {
  local src=$ROOT/scripts/toolchain/cli key dest sdkdir pkgdir
  # scripts/toolchain/cli/upstream.patch: the file backend journals an update's
  # steps instead of rewriting the whole checkpoint after each (see the patch's
  # backend/diy/journal.go); the cache key follows the patch.
  key=$(sha256sum "$src/upstream.patch" | cut -c1-12)
  dest=$CACHE/pulumi-cli-$PULUMI_VERSION-r$RECIPE-$key
  CLI_KEY=$key
  CLI_BIN=$dest/pulumi
  DYNAMIC_BIN=$dest/pulumi-resource-pulumi-nodejs
  step "Pulumi CLI v$PULUMI_VERSION"
  if [ -x "$CLI_BIN" ] && [ -x "$DYNAMIC_BIN" ]; then info "cached: $CLI_BIN"; return; fi
  prepare pulumi-cli
  sdkdir=$(modjson "github.com/pulumi/pulumi/sdk/v3@v$PULUMI_VERSION" Dir)
  pkgdir=$(modjson "github.com/pulumi/pulumi/pkg/v3@v$PULUMI_VERSION" Dir)
  install -m 755 "$sdkdir/nodejs/dist/pulumi-resource-pulumi-nodejs" "$WORK/out/"
  patched_copy "$pkgdir" "$WORK/pkg" "$src/upstream.patch"
  {
    printf 'module toolchain.local/pulumi-cli\n\ngo 1.26.0\n\n'
    printf 'require github.com/pulumi/pulumi/pkg/v3 v%s\n\n' "$PULUMI_VERSION"
    printf 'replace github.com/pulumi/pulumi/pkg/v3 => ./pkg\n\n'
    replaces_of "github.com/pulumi/pulumi/pkg/v3@v$PULUMI_VERSION" \
      "github.com/pulumi/pulumi/sdk/v3@v$PULUMI_VERSION"
  } >"$WORK/go.mod"
  printf '//go:build tools\n\npackage tools\n\nimport _ "%s"\n' \
    github.com/pulumi/pulumi/pkg/v3/cmd/pulumi >"$WORK/tools.go"
  (
    cd "$WORK"
    run go mod tidy
    run go build -trimpath -o out/pulumi \
      -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$PULUMI_VERSION" \
      github.com/pulumi/pulumi/pkg/v3/cmd/pulumi
  )
  publish "$WORK" "$dest"
}

# The nodejs language host, from the sdk/v3 release that still contains it,
# with scripts/toolchain/nodejs-host/upstream.patch applied to a copy of that
# module (the file says what and why).
build_langhost() {
  local src=$ROOT/scripts/toolchain/nodejs-host dest key sdkdir
  local pkg=github.com/pulumi/pulumi/sdk/v3/nodejs/cmd/pulumi-language-nodejs
  key=$({
    echo "$RECIPE $NODEJS_HOST_SDK"
    cat "$src/upstream.patch"
  } | sha256sum | cut -c1-12)
  NODEJS_HOST_ID=$NODEJS_HOST_SDK-$key
  dest=$CACHE/pulumi-language-nodejs-$NODEJS_HOST_ID
  LANG_BIN=$dest/pulumi-language-nodejs
  step "nodejs language host (from pulumi/sdk v$NODEJS_HOST_SDK, patched)"
  if [ -x "$LANG_BIN" ]; then info "cached: $LANG_BIN"; return; fi
  prepare pulumi-language-nodejs
  sdkdir=$(modjson "github.com/pulumi/pulumi/sdk/v3@v$NODEJS_HOST_SDK" Dir)
  patched_copy "$sdkdir" "$WORK/sdk" "$src/upstream.patch"
  printf 'module toolchain.local/pulumi-language-nodejs\n\ngo 1.26.0\n\nrequire github.com/pulumi/pulumi/sdk/v3 v%s\n\nreplace github.com/pulumi/pulumi/sdk/v3 => ./sdk\n' \
    "$NODEJS_HOST_SDK" >"$WORK/go.mod"
  printf '//go:build tools\n\npackage tools\n\nimport _ "%s"\n' "$pkg" >"$WORK/tools.go"
  (
    cd "$WORK"
    run go mod tidy
    run go build -trimpath -o out/pulumi-language-nodejs \
      -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$NODEJS_HOST_SDK" \
      "$pkg"
  )
  publish "$WORK" "$dest"
}

# front_key SDK SRC: cache key of a language host front (SRC/main.go and the
# shared front.go) over the old host of sdk/v3 vSDK: the files' contents, not
# their paths, so every clone on the machine shares the build.
front_key() {
  {
    echo "$RECIPE $1 $PULUMI_VERSION"
    cat "$2/main.go" "$FRONT/front.go" | sha256sum
  } | sha256sum | cut -c1-12
}

# build_front LANG SDK PKG SRC: into $WORK/out, the old language host PKG of
# pulumi/sdk vSDK as pulumi-language-LANG-run, and the front from SRC/main.go
# and the shared front.go as pulumi-language-LANG, built against the CLI's
# pulumi (for its code generators). `prepare` first.
build_front() {
  local lang=$1 sdk=$2 pkg=$3 src=$4
  mkdir -p "$WORK/run" "$WORK/host"
  printf 'module toolchain.local/pulumi-language-%s-run\n\ngo 1.26.0\n\nrequire github.com/pulumi/pulumi/sdk/v3 v%s\n' \
    "$lang" "$sdk" >"$WORK/run/go.mod"
  printf '//go:build tools\n\npackage tools\n\nimport _ "%s"\n' "$pkg" >"$WORK/run/tools.go"
  cp "$src/main.go" "$FRONT/front.go" "$WORK/host/"
  {
    printf 'module toolchain.local/pulumi-language-%s\n\ngo 1.26.0\n\nrequire (\n' "$lang"
    printf '\tgithub.com/pulumi/pulumi/pkg/v3 v%s\n' "$PULUMI_VERSION"
    printf '\tgithub.com/pulumi/pulumi/sdk/v3 v%s\n)\n\n' "$PULUMI_VERSION"
    replaces_of "github.com/pulumi/pulumi/pkg/v3@v$PULUMI_VERSION" \
      "github.com/pulumi/pulumi/sdk/v3@v$PULUMI_VERSION"
  } >"$WORK/host/go.mod"
  (
    cd "$WORK/run"
    run go mod tidy
    run go build -trimpath -o "../out/pulumi-language-$lang-run" \
      -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$sdk" \
      "$pkg"
    cd "$WORK/host"
    run go mod tidy
    run go build -trimpath -o "../out/pulumi-language-$lang" -ldflags "-s -w" .
  )
}

# The Python language host: the one from the sdk/v3 release that still
# contains it (with its exec shim), installed as pulumi-language-python-run,
# behind scripts/toolchain/python-host, which adds what `pulumi package add`
# needs and the old host predates (GeneratePackage, Link) and passes every
# other request on. Built against the CLI's pulumi for its Python codegen.
build_python_host() {
  local src=$ROOT/scripts/toolchain/python-host key dest sdkdir
  key=$(front_key "$PYTHON_HOST_SDK" "$src")
  PYTHON_HOST_ID=$PYTHON_HOST_SDK-$key
  dest=$CACHE/pulumi-language-python-$PYTHON_HOST_ID
  PYTHON_BIN=$dest/pulumi-language-python
  PYTHON_RUN_BIN=$dest/pulumi-language-python-run
  PYTHON_EXEC_BIN=$dest/pulumi-language-python-exec
  step "python language host (from pulumi/sdk v$PYTHON_HOST_SDK, package support from pkg v$PULUMI_VERSION)"
  if [ -x "$PYTHON_BIN" ] && [ -x "$PYTHON_RUN_BIN" ] && [ -x "$PYTHON_EXEC_BIN" ]; then info "cached: $PYTHON_BIN"; return; fi
  prepare pulumi-language-python
  sdkdir=$(modjson "github.com/pulumi/pulumi/sdk/v3@v$PYTHON_HOST_SDK" Dir)
  install -m 755 "$sdkdir/python/cmd/pulumi-language-python-exec" "$WORK/out/"
  build_front python "$PYTHON_HOST_SDK" github.com/pulumi/pulumi/sdk/v3/python/cmd/pulumi-language-python "$src"
  publish "$WORK" "$dest"
}

# The Go language host: the one from the sdk/v3 release that still contains
# it, installed as pulumi-language-go-run, behind scripts/toolchain/go-host,
# which adds what `pulumi package add` needs and the old host predates
# (GeneratePackage with the CLI's own Go code generator, Link into go.mod) and
# passes every other request on. Go programs build against the Go SDK
# (github.com/pulumi/pulumi/sdk/v3) from the module proxy, as usual.
build_go_host() {
  local src=$ROOT/scripts/toolchain/go-host key dest
  key=$(front_key "$GO_HOST_SDK" "$src")
  GO_HOST_ID=$GO_HOST_SDK-$key
  dest=$CACHE/pulumi-language-go-$GO_HOST_ID
  GO_BIN=$dest/pulumi-language-go
  GO_RUN_BIN=$dest/pulumi-language-go-run
  step "go language host (from pulumi/sdk v$GO_HOST_SDK, package support from pkg v$PULUMI_VERSION)"
  if [ -x "$GO_BIN" ] && [ -x "$GO_RUN_BIN" ]; then info "cached: $GO_BIN"; return; fi
  prepare pulumi-language-go
  build_front go "$GO_HOST_SDK" github.com/pulumi/pulumi/sdk/v3/go/pulumi-language-go "$src"
  publish "$WORK" "$dest"
}

# The YAML language host, from pulumi-yaml, against the CLI's pulumi version
# (its own go.mod asks for one the mirror may not serve).
build_yaml_host() {
  local dest=$CACHE/pulumi-language-yaml-$YAML_VERSION-$PULUMI_VERSION-r$RECIPE
  local pkg=github.com/pulumi/pulumi-yaml/cmd/pulumi-language-yaml
  YAML_BIN=$dest/pulumi-language-yaml
  step "yaml language host (pulumi-yaml v$YAML_VERSION)"
  if [ -x "$YAML_BIN" ]; then info "cached: $YAML_BIN"; return; fi
  prepare pulumi-language-yaml
  {
    printf 'module toolchain.local/pulumi-language-yaml\n\ngo 1.26.0\n\nrequire (\n'
    printf '\tgithub.com/pulumi/pulumi-yaml v%s\n' "$YAML_VERSION"
    printf '\tgithub.com/pulumi/pulumi/pkg/v3 v%s\n' "$PULUMI_VERSION"
    printf '\tgithub.com/pulumi/pulumi/sdk/v3 v%s\n)\n\n' "$PULUMI_VERSION"
    replaces_of "github.com/pulumi/pulumi-yaml@v$YAML_VERSION" \
      "github.com/pulumi/pulumi/pkg/v3@v$PULUMI_VERSION" \
      "github.com/pulumi/pulumi/sdk/v3@v$PULUMI_VERSION"
  } >"$WORK/go.mod"
  printf '//go:build tools\n\npackage tools\n\nimport _ "%s"\n' "$pkg" >"$WORK/tools.go"
  (
    cd "$WORK"
    run go mod tidy
    run go build -trimpath -o out/pulumi-language-yaml \
      -ldflags "-s -w -X github.com/pulumi/pulumi-yaml/pkg/version.Version=v$YAML_VERSION" \
      "$pkg"
  )
  publish "$WORK" "$dest"
}

# A virtualenv with Pulumi's Python SDK (PyPI's `pulumi`, the CLI's version),
# for Python programs that use the component package: the end-to-end tests
# give each program's own virtualenv a .pth file pointing at its site-packages.
# Built in place (a virtualenv cannot move), marked complete when it is.
build_python_sdk() {
  local py dest
  command -v python3 >/dev/null || die "python3 is not installed (scripts/setup.sh installs it)"
  py=$(python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')
  dest=$CACHE/python-sdk-$PULUMI_VERSION-py$py-r$RECIPE
  PYTHON_SDK_DIR=$dest
  step "Pulumi Python SDK v$PULUMI_VERSION (PyPI, python $py)"
  if [ -f "$dest/.complete" ]; then info "cached: $dest"; return; fi
  LOG=$CACHE/logs/python-sdk.log && : >"$LOG"
  STARTED=$SECONDS
  rm -rf "$dest"
  run python3 -m venv "$dest"
  run "$dest/bin/python" -m pip install --quiet --disable-pip-version-check "pulumi==$PULUMI_VERSION"
  touch "$dest/.complete"
  info "built in $((SECONDS - STARTED))s: $dest"
}

# build_provider NAME VERSION UPSTREAM: copy the wrapper, put the upstream
# module in ./upstream (its go.mod declares a module path other than the one
# it is fetched by, so it is used through a directory replace) with the
# wrapper's upstream.patch applied if it has one, generate the
# schema with the wrapper's tfgen, then build the plugin that embeds it.
build_provider() {
  local name=$1 version=$2 upstream=$3 src=$WRAPPERS/$1 key dest declared updir
  [ -f "$src/provider.go" ] || die "missing wrapper sources in $src"
  key=$({
    echo "$RECIPE $version $upstream $BRIDGE_VERSION $PULUMI_VERSION"
    cd "$src" && find . -type f \( -name '*.go' -o -name '*.patch' \) | LC_ALL=C sort | xargs sha256sum
  } | sha256sum | cut -c1-12)
  dest=$CACHE/pulumi-resource-$name-$version-$key
  PLUGIN_BIN[$name]=$dest/pulumi-resource-$name
  step "resource plugin $name v$version (upstream ${upstream#github.com/})"
  if [ -x "${PLUGIN_BIN[$name]}" ]; then info "cached: ${PLUGIN_BIN[$name]}"; return; fi
  prepare "pulumi-resource-$name"
  cp -R "$src/." "$WORK/"
  updir=$(modjson "$upstream" Dir)
  # A wrapper's upstream.patch fixes the upstream module (the file says what and why).
  patched_copy "$updir" "$WORK/upstream" "$src/upstream.patch"
  declared=$(awk '$1 == "module" { print $2; exit }' "$WORK/upstream/go.mod")
  {
    printf 'module toolchain.local/pulumi-%s\n\ngo 1.26.0\n\nrequire (\n' "$name"
    printf '\tgithub.com/pulumi/pulumi-terraform-bridge/v3 v%s\n' "$BRIDGE_VERSION"
    # Same pulumi as the CLI: left to MVS it picks versions whose
    # dependencies the mirror lacks.
    printf '\tgithub.com/pulumi/pulumi/pkg/v3 v%s\n' "$PULUMI_VERSION"
    printf '\tgithub.com/pulumi/pulumi/sdk/v3 v%s\n' "$PULUMI_VERSION"
    printf '\t%s v0.0.0\n' "$declared"
    [ ! -d "$WORK/shim" ] || printf '\t%s/shim v0.0.0\n' "$declared"
    printf ')\n\nreplace %s => ./upstream\n' "$declared"
    [ ! -d "$WORK/shim" ] || printf 'replace %s/shim => ./shim\n' "$declared"
    replaces_of "github.com/pulumi/pulumi-terraform-bridge/v3@v$BRIDGE_VERSION" \
      "github.com/pulumi/pulumi/pkg/v3@v$PULUMI_VERSION" \
      "github.com/pulumi/pulumi/sdk/v3@v$PULUMI_VERSION"
  } >"$WORK/go.mod"
  if [ -d "$WORK/shim" ]; then
    printf 'module %s/shim\n\ngo 1.26.0\n\nrequire %s v0.0.0\n' "$declared" "$declared" >"$WORK/shim/go.mod"
  fi
  local cmd=$WORK/cmd/pulumi-resource-$name ldflags="-s -w -X main.version=$version"
  # Placeholders so the packages compile before tfgen writes the real files.
  echo '{}' >"$cmd/bridge-metadata.json"
  echo '{}' >"$cmd/schema.json"
  (
    cd "$WORK"
    run go mod tidy
    run go build -trimpath -ldflags "$ldflags" -o "$WORK/tfgen" "./cmd/pulumi-tfgen-$name"
    run "$WORK/tfgen" schema --out "$cmd" --skip-docs --skip-examples
    run go build -trimpath -ldflags "$ldflags" -o "out/pulumi-resource-$name" "./cmd/pulumi-resource-$name"
    cp "$cmd/schema.json" "$cmd/bridge-metadata.json" out/
  )
  publish "$WORK" "$dest"
}

# The CLI looks for the plugins it ships with (language host, dynamic-provider
# script) beside its own resolved path, and warns on every run when the ones
# on PATH live elsewhere; so lay them out in one directory, as a release does.
assemble_bundle() {
  local dir=$CACHE/bundle-$PULUMI_VERSION-$CLI_KEY-nodejs-$NODEJS_HOST_ID-python-$PYTHON_HOST_ID-go-$GO_HOST_ID-yaml-$YAML_VERSION-r$RECIPE
  local f tmp complete=1
  BUNDLE=(pulumi pulumi-language-nodejs pulumi-resource-pulumi-nodejs pulumi-language-python
    pulumi-language-python-run pulumi-language-python-exec pulumi-language-go pulumi-language-go-run
    pulumi-language-yaml)
  BUNDLE_DIR=$dir
  for f in "${BUNDLE[@]}"; do [ -x "$dir/$f" ] || complete=0; done
  [ "$complete" = 0 ] || return 0
  tmp=$dir.$$
  rm -rf "$tmp" && mkdir -p "$tmp"
  for f in "$CLI_BIN" "$LANG_BIN" "$DYNAMIC_BIN" "$PYTHON_BIN" "$PYTHON_RUN_BIN" "$PYTHON_EXEC_BIN" \
    "$GO_BIN" "$GO_RUN_BIN" "$YAML_BIN"; do
    ln "$f" "$tmp/" 2>/dev/null || cp -p "$f" "$tmp/"
  done
  rm -rf "$dir" && mv "$tmp" "$dir"
}

# Install into PULUMI_HOME: the bundle as links on its bin/ (no provider
# plugins there: a pulumi-resource-<name> on PATH overrides the installed
# plugin, with a warning on every run), the provider plugins with
# `pulumi plugin install --file`.
install_home() {
  step "installing into $PULUMI_HOME"
  assemble_bundle
  mkdir -p "$PULUMI_HOME/bin"
  local f name version installed
  for f in "${BUNDLE[@]}"; do ln -sfn "$BUNDLE_DIR/$f" "$PULUMI_HOME/bin/$f"; done
  ln -sfn "$PYTHON_SDK_DIR" "$PULUMI_HOME/python-sdk"
  for name in random postgresql docker; do
    version=${VERSIONS[$name]}
    installed=$PULUMI_HOME/plugins/resource-$name-v$version/pulumi-resource-$name
    if cmp -s "$installed" "${PLUGIN_BIN[$name]}"; then
      info "$name v$version already installed"
      continue
    fi
    LOG=$CACHE/logs/install-$name.log && : >"$LOG"
    run "$CLI_BIN" plugin install resource "$name" "$version" --file "${PLUGIN_BIN[$name]}" --reinstall
    info "$name v$version installed"
  done
}

# Check the result the way a user will see it, then print what was built.
verify() {
  step "verifying"
  local bins=$PULUMI_HOME/bin got name plugins
  got=$("$bins/pulumi" version) || die "$bins/pulumi does not run"
  [ "$got" = "v$PULUMI_VERSION" ] || die "pulumi version says $got, expected v$PULUMI_VERSION"
  for name in pulumi-language-nodejs pulumi-resource-pulumi-nodejs pulumi-language-python \
    pulumi-language-python-run pulumi-language-python-exec pulumi-language-go pulumi-language-go-run \
    pulumi-language-yaml; do
    [ -x "$bins/$name" ] || die "missing $bins/$name"
  done
  plugins=$("$bins/pulumi" plugin ls) || die "pulumi plugin ls failed"
  for name in random postgresql docker; do
    got=$("${PLUGIN_BIN[$name]}" -version) || die "${PLUGIN_BIN[$name]} does not run"
    [ "$got" = "${VERSIONS[$name]}" ] || die "pulumi-resource-$name says $got, expected ${VERSIONS[$name]}"
    # A here-string, not `printf | grep -q`: grep -q stops at the first match, and under
    # pipefail printf's SIGPIPE then failed the check at random.
    grep -Eq "^$name +resource +${VERSIONS[$name]} " <<<"$plugins" ||
      die "pulumi plugin ls does not list $name ${VERSIONS[$name]}"
  done

  step "done"
  printf '    %-30s %-9s %s\n' \
    pulumi "$PULUMI_VERSION" "$BUNDLE_DIR/pulumi" \
    pulumi-language-nodejs "$NODEJS_HOST_SDK" "$BUNDLE_DIR/pulumi-language-nodejs" \
    pulumi-resource-pulumi-nodejs "$PULUMI_VERSION" "$BUNDLE_DIR/pulumi-resource-pulumi-nodejs" \
    pulumi-language-python "$PYTHON_HOST_SDK" "$BUNDLE_DIR/pulumi-language-python" \
    pulumi-language-go "$GO_HOST_SDK" "$BUNDLE_DIR/pulumi-language-go" \
    pulumi-language-yaml "$YAML_VERSION" "$BUNDLE_DIR/pulumi-language-yaml"
  for name in random postgresql docker; do
    printf '    %-30s %-9s %s\n' "pulumi-resource-$name" "${VERSIONS[$name]}" "${PLUGIN_BIN[$name]}"
  done
  printf '    %-30s %-9s %s\n' "pulumi (PyPI)" "$PULUMI_VERSION" "$PULUMI_HOME/python-sdk"
  printf '\n    PULUMI_HOME=%s\n    next: source scripts/pulumi-env.sh\n' "$PULUMI_HOME"
}

main() {
  check_prereqs
  check_package_json
  mkdir -p "$CACHE"
  CACHE=$(cd "$CACHE" && pwd)
  # Module look-ups outside any go.mod the caller may be standing in.
  cd "$CACHE"
  # Serialise concurrent runs (e.g. two clones) on the shared cache.
  if command -v flock >/dev/null; then
    exec 9>"$CACHE/.lock"
    flock 9
  fi
  # Leftovers of interrupted builds (upstream copies may be read-only).
  chmod -R u+w "$CACHE/work" 2>/dev/null || true
  rm -rf "$CACHE/work"
  declare -gA PLUGIN_BIN=()
  declare -gA VERSIONS=([random]=$RANDOM_VERSION [postgresql]=$POSTGRESQL_VERSION [docker]=$DOCKER_VERSION)
  printf 'Pulumi toolchain cache: %s\n' "$CACHE"
  build_cli
  build_langhost
  build_python_host
  build_go_host
  build_yaml_host
  build_python_sdk
  build_provider random "$RANDOM_VERSION" "$RANDOM_UPSTREAM"
  build_provider postgresql "$POSTGRESQL_VERSION" "$POSTGRESQL_UPSTREAM"
  build_provider docker "$DOCKER_VERSION" "$DOCKER_UPSTREAM"
  install_home
  verify
}

main "$@"
