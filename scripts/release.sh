#!/usr/bin/env bash
# Makes a release of the npm package from a tag (or the checked-out version):
#
#   scripts/release.sh [vX.Y.Z]        # writes dist/release/app-databases-X.Y.Z.tgz
#
# Refuses unless the version is package.json's and CHANGELOG.md has a section
# for it (what it changes, what an upgrade of a stack does). It builds, packs
# with `npm pack` (package.json `files`: the compiled components and the
# component package, their sources, README, CHANGELOG) and prints the
# tarball's sha256. Publishing (`npm publish <tgz>` to your registry) is left
# to you; a team can also install the tarball as it is:
#   npm install ./app-databases-X.Y.Z.tgz
# The component package plugin and the Python/Go SDKs are not part of a
# release yet: other languages use this repository (README "Use it from Python, Go or YAML").
set -euo pipefail
cd "$(dirname "$0")/.."

die() { printf 'release.sh: %s\n' "$*" >&2; exit 1; }
case ${1:-} in -h | --help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;; esac

version=$(node -p 'require("./package.json").version')
if [ $# -ge 1 ]; then
  [ "${1#v}" = "$version" ] || die "tag $1 is not package.json's version $version: bump package.json (and CHANGELOG.md) first"
fi
grep -q "^## $version\b" CHANGELOG.md || die "CHANGELOG.md has no section \"## $version\": say what it changes and what an upgrade does"

[ -d node_modules ] || npm ci --no-audit --no-fund --loglevel=error
npm run --silent build
mkdir -p dist/release
tarball=$(npm pack --silent --pack-destination dist/release)
printf 'dist/release/%s\n' "$tarball"
sha256sum "dist/release/$tarball" | cut -d' ' -f1
