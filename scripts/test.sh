#!/usr/bin/env bash
# The test command: sets up what the tests need (scripts/setup.sh), then runs
# the unit tests and the end-to-end tests against real PostgreSQL and Docker.
#   scripts/test.sh              # everything
#   scripts/test.sh --unit       # unit tests only (no toolchain, no servers)
#   scripts/test.sh <vitest args> # e.g. test/e2e/sharedServer.test.ts
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${1:-}" = "--unit" ]; then
  shift
  [ -d node_modules ] || npm ci --no-audit --no-fund --loglevel=error
  exec npx vitest run --project unit "$@"
fi

bash scripts/setup.sh --docker --browser
# shellcheck source=scripts/pulumi-env.sh
source scripts/pulumi-env.sh
npx tsc --noEmit
npx tsc -p examples/tsconfig.json # the examples, against this package's sources
npm run --silent build # dist/: the package entry point other programs import
npm run --silent lint
exec npx vitest run "$@"
