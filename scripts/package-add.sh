#!/usr/bin/env bash
# Adds the app-databases component package to a Pulumi program of another
# language (Python, Go; YAML needs no SDK): `pulumi package add` generates the
# SDK into the program's sdks/app-databases and links it (requirements.txt and
# the virtualenv, or go.mod), then this script points the program's
# `packages: app-databases:` entry at this repository's package/ folder.
#
#   scripts/package-add.sh [PROGRAM_DIR]      # default: the current directory
#
# Why the second step: given the plugin's executable, `pulumi package add`
# records `app-databases: app-databases@<version>` (it condenses a local plugin
# file to its name and version, pulumi/pulumi#21349), and the engine then
# looks for an installed plugin of that version, which does not exist: the
# plugin runs from this clone. Given the folder instead it fails (a folder must
# hold a PulumiPlugin.yaml, which would need a nodejs host that runs source
# plugins; the offline toolchain's cannot). So the folder is written here, the
# same entry the examples carry: relative to the program when the program lives
# in this repository, else absolute. (A team on releases does not need this
# script: README "Install a release".)
#
# Exit codes: 0 added; 1 a check or `pulumi package add` failed (the message
# says which); 2 bad usage.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PACKAGE=$ROOT/package
PLUGIN=$PACKAGE/pulumi-resource-app-databases

die() { printf 'package-add.sh: %s\n' "$*" >&2; exit 1; }

case ${1:-} in -h | --help) sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;; esac
[ $# -le 1 ] || { printf 'package-add.sh: usage: scripts/package-add.sh [PROGRAM_DIR] (--help for more)\n' >&2; exit 2; }
PROGRAM=$(cd "${1:-.}" && pwd) || die "no such directory: ${1:-.}"
PROJECT=$PROGRAM/Pulumi.yaml
[ -f "$PROJECT" ] || die "$PROGRAM has no Pulumi.yaml: run it in (or name) your program's folder"
[ -f "$ROOT/dist/package/index.js" ] || die "$ROOT/dist/package/index.js is missing: run \`npm ci\` (or \`npm run build\`) in $ROOT"
command -v pulumi >/dev/null || die "pulumi is not on PATH (source $ROOT/scripts/pulumi-env.sh)"

case $PROGRAM/ in
  "$ROOT"/*) folder=$(realpath --relative-to="$PROGRAM" "$PACKAGE") ;;
  *) folder=$PACKAGE ;;
esac

# point_entry: rewrite the `app-databases:` entry of the top-level `packages:`
# block to the folder; fails (3) when there is none.
point_entry() {
  local tmp status=0
  tmp=$(mktemp)
  awk -v folder="$folder" '
    /^[^ #]/ { inblock = ($0 ~ /^packages:[[:space:]]*$/) }
    inblock && /^  app-databases:/ { print "  app-databases: " folder; done = 1; next }
    { print }
    END { exit done ? 0 : 3 }' "$PROJECT" >"$tmp" || status=$?
  [ "$status" = 0 ] && cat "$tmp" >"$PROJECT"
  rm -f "$tmp"
  return "$status"
}

# An entry already there must name a folder that exists before package add
# reads the project (a copied program's relative path may not).
point_entry || true
(cd "$PROGRAM" && pulumi package add "$PLUGIN")
point_entry || die "pulumi package add left no \`packages: app-databases:\` entry in $PROJECT"
printf 'packages.app-databases in %s: %s\n' "$PROJECT" "$folder"
