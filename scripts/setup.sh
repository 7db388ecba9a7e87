#!/usr/bin/env bash
# Everything app-databases needs on a fresh Debian machine, idempotent:
# PostgreSQL's server packages (for local and test clusters), Python's venv, the npm
# dependencies, and the Pulumi CLI and providers built offline (scripts/toolchain.sh).
#
#   scripts/setup.sh            # all of it
#   scripts/setup.sh --docker   # also a running Docker engine and the local Postgres image
#   scripts/setup.sh --docker --browser   # and Debian's chromium, for the report page's test
set -euo pipefail
cd "$(dirname "$0")/.."

docker=false browser=false
for arg in "$@"; do
  case $arg in
    --docker) docker=true ;;
    --browser) browser=true ;;
    *) printf 'setup.sh: unknown argument %s (expected --docker, --browser)\n' "$arg" >&2; exit 2 ;;
  esac
done

log() { printf '[setup] %s\n' "$*" >&2; }
# shellcheck source=scripts/heartbeat.sh
source scripts/heartbeat.sh

SUDO=()
[ "$(id -u)" -eq 0 ] || SUDO=(sudo -n)

need_apt=()
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need_apt+=(postgresql)
command -v psql >/dev/null 2>&1 || need_apt+=(postgresql-client)
# Python programs using the component package (examples/python, its e2e test).
python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || need_apt+=(python3-venv)
# The report page's e2e test drives it headless (puppeteer-core, no browser download).
if $browser; then command -v chromium >/dev/null 2>&1 || need_apt+=(chromium); fi
if [ ${#need_apt[@]} -gt 0 ]; then
  log "installing ${need_apt[*]} from Debian"
  apt_install() {
    "${SUDO[@]}" apt-get update -qq &&
      "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_apt[@]}"
  }
  apt_log=$(mktemp)
  heartbeat --log "$apt_log" "apt-get install ${need_apt[*]}" apt_install ||
    { cat "$apt_log" >&2; log "installing ${need_apt[*]} failed (output above)"; exit 1; }
  rm -f "$apt_log"
fi

# npm ci only when the lock file changed since the last install: the
# program's, and the policy pack's (policy/, its own package as packs are).
for dir in . policy; do
  stamp=$dir/node_modules/.package-lock.sha
  want=$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    log "npm ci in $dir"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
    echo "$want" >"$stamp"
  fi
done

# pg_dump/pg_restore/pg_upgrade of PostgreSQL 18 (they read every major 14-18;
# Debian's are 15): data copies, backups of any major. Cached once (scripts/pgClientTools.ts).
log "PostgreSQL client tools: $(node -r ts-node/register/transpile-only scripts/pgClientTools.ts)"

bash scripts/toolchain.sh

if $docker; then
  bash scripts/docker-engine.sh
  bash scripts/postgres-image.sh
  bash scripts/pgbouncer-image.sh
  # The S3-compatible server the backup tests upload to (built once from its Go module).
  bash scripts/seaweedfs.sh
fi
