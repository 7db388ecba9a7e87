#!/usr/bin/env bash
# Makes a release from a tag (or the checked-out version), into dist/release/:
#
#   scripts/release.sh [vX.Y.Z]
#
#   app-databases-X.Y.Z.tgz          the npm package (npm install ./<file>)
#   pulumi-resource-app-databases-vX.Y.Z-linux-amd64.tar.gz
#                                    the component package plugin, with its
#                                    production node_modules (needs node >= 20):
#     pulumi plugin install resource app-databases X.Y.Z --file <archive>
#   pulumi_app_databases-X.Y.Z-py3-none-any.whl
#                                    the Python SDK (pip install ./<file>)
#   app-databases-go-sdk-vX.Y.Z.tar.gz
#                                    the Go SDK: module example.com/pulumi-app-databases/sdk/go
#                                    (go.mod, go.sum, appdatabases/)
#   app-databases-schema-vX.Y.Z.json the plugin's schema the SDKs come from (with
#                                    Go's importBasePath set to that module)
#   SHA256SUMS                       their sha256 (sha256sum -c SHA256SUMS)
#
# Prints SHA256SUMS's lines (`<sha256>  <file>`) on stdout, progress on stderr.
# Refuses unless the version is package.json's and CHANGELOG.md has a section
# for it. Needs the Pulumi CLI (scripts/pulumi-env.sh's, if none is on PATH)
# for the schema and the SDKs, npm's registry for the archive's node_modules
# (npm ci --omit=dev from package-lock.json) and PyPI for the wheel's build
# backend. Publishing (npm publish, a GitHub release) is left to you.
#
# Exit codes: 0 made; 1 refused (version, CHANGELOG) or a step failed (its
# output above); 2 bad usage.
set -euo pipefail
cd "$(dirname "$0")/.."

die() { printf 'release.sh: %s\n' "$*" >&2; exit 1; }
step() { printf 'release.sh: %s\n' "$*" >&2; }
case ${1:-} in -h | --help) sed -n '2,28p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;; esac
[ $# -le 1 ] || { printf 'release.sh: usage: scripts/release.sh [vX.Y.Z] (--help for more)\n' >&2; exit 2; }

version=$(node -p 'require("./package.json").version')
if [ $# -ge 1 ]; then
  [ "${1#v}" = "$version" ] || die "tag $1 is not package.json's version $version: bump package.json (and CHANGELOG.md) first"
fi
grep -q "^## $version\b" CHANGELOG.md || die "CHANGELOG.md has no section \"## $version\": say what it changes and what an upgrade does"
if ! command -v pulumi >/dev/null; then
  # shellcheck source=scripts/pulumi-env.sh
  source scripts/pulumi-env.sh
  command -v pulumi >/dev/null || die "no Pulumi CLI on PATH (scripts/toolchain.sh builds one)"
fi
export PULUMI_SKIP_UPDATE_CHECK=true PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true

out=dist/release
plugin=pulumi-resource-app-databases-v$version-linux-amd64.tar.gz
wheel=pulumi_app_databases-$version-py3-none-any.whl
gosdk=app-databases-go-sdk-v$version.tar.gz
schema=app-databases-schema-v$version.json
# The Go SDK's module path (what a Go program requires, with a replace to the unpacked folder).
GO_MODULE=example.com/pulumi-app-databases/sdk/go
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

[ -d node_modules ] || { step "npm ci"; npm ci --no-audit --no-fund --loglevel=error >&2; }
step "building"
npm run --silent build
rm -rf "$out" && mkdir -p "$out"
step "npm pack"
tarball=$(npm pack --silent --pack-destination "$out")

# The plugin archive: the npm package as it installs, its production
# dependencies from the lock file, and the launcher at the top (it runs
# ./dist/package/index.js). `pulumi plugin install --file` unpacks it as is
# into the plugin's folder; no PulumiPlugin.yaml, so nothing runs at install.
step "plugin archive (npm ci --omit=dev)"
mkdir "$work/plugin"
tar -xzf "$out/$tarball" -C "$work/plugin" --strip-components=1
cp package-lock.json "$work/plugin/"
(cd "$work/plugin" && npm ci --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error >&2)
# The schema is inferred from package/'s TypeScript at start: the compiler must be there.
[ -f "$work/plugin/node_modules/typescript/package.json" ] || die "the archive's node_modules has no typescript (the plugin's schema analyzer needs it)"
cp package/pulumi-resource-app-databases "$work/plugin/"
tar -czf "$out/$plugin" -C "$work/plugin" .

# The SDKs from the schema of the plugin as archived (run from the staged copy).
step "schema and SDKs (pulumi package gen-sdk)"
pulumi package get-schema "$work/plugin/pulumi-resource-app-databases" >"$work/schema.json"
# Go's import path set to the module the SDK tarball is (without it, the
# generated code imports .../sdk/go/app-databases/internal, a folder it does not have).
node -e '
  const [from, to, go] = process.argv.slice(1);
  const schema = JSON.parse(require("fs").readFileSync(from, "utf8"));
  schema.language = { ...schema.language, go: { ...schema.language?.go, importBasePath: go + "/appdatabases" } };
  require("fs").writeFileSync(to, JSON.stringify(schema, null, 2) + "\n");' "$work/schema.json" "$out/$schema" "$GO_MODULE"
pulumi package gen-sdk "$out/$schema" --language python --out "$work/sdk" >&2
pulumi package gen-sdk "$out/$schema" --language go --out "$work/sdk" >&2
python3 -m pip wheel --quiet --disable-pip-version-check --no-deps --wheel-dir "$out" "$work/sdk/python" >&2
[ -f "$out/$wheel" ] || die "pip wheel made no $out/$wheel (made: $(ls "$out"))"
# A module directory: go.mod and go.sum beside appdatabases/, on the Pulumi Go
# SDK of the same version as the Node.js one (the Go module proxy for the sums).
pulumi_sdk=$(node -p 'require("./package.json").dependencies["@pulumi/pulumi"]')
printf 'module %s\n\ngo 1.22\n\nrequire (\n\tgithub.com/blang/semver v3.5.1+incompatible\n\tgithub.com/pulumi/pulumi/sdk/v3 v%s\n)\n' \
  "$GO_MODULE" "$pulumi_sdk" >"$work/sdk/go/go.mod"
(cd "$work/sdk/go" && GOTOOLCHAIN=local GOFLAGS=-mod=mod go mod tidy >&2)
tar -czf "$out/$gosdk" -C "$work/sdk/go" .

(cd "$out" && sha256sum "$tarball" "$plugin" "$wheel" "$gosdk" "$schema" >SHA256SUMS && cat SHA256SUMS)
