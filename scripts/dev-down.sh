#!/usr/bin/env bash
# Stops the dev stack's local PostgreSQL that scripts/dev-up.sh started (its
# data stays in .dev/postgres; dev-up starts it again). The dev stack's
# dedicated containers are Pulumi's: `pulumi destroy --stack dev` removes them.
#
#   scripts/dev-down.sh             # stop the dev cluster
#   scripts/dev-down.sh --orphans   # also remove the dev stack's Docker objects that
#                                   # this clone's state does not hold (their data too)
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/dev-env.sh
source scripts/dev-env.sh
case "${1:-}" in
  "") orphans=false ;;
  --orphans) orphans=true ;;
  *) echo "[dev-down] unknown argument '$1' (expected nothing or --orphans)" >&2; exit 2 ;;
esac
if [ ! -f "$DEV_PGDATA/PG_VERSION" ]; then
  echo "[dev-down] no dev cluster in $DEV_PGDATA" >&2
elif dev_pg pg_ctl -D "$DEV_PGDATA" status >/dev/null 2>&1; then
  dev_pg pg_ctl -D "$DEV_PGDATA" -m fast -w stop
else
  echo "[dev-down] the dev cluster in $DEV_PGDATA is not running" >&2
fi
if $orphans; then
  # The engine restarts such containers when it starts, so look with it running.
  bash scripts/docker-engine.sh
  found=$(dev_docker_orphans)
  [ -n "$found" ] || echo "[dev-down] no Docker objects of a dev stack outside this clone's state" >&2
  # Containers first: they hold the networks and volumes.
  for kind in container network volume; do
    { grep "^$kind " <<<"$found" || true; } | while read -r _ name; do
      echo "[dev-down] removing $kind $name (not in this clone's dev state)" >&2
      if [ "$kind" = container ]; then docker rm -f "$name"; else docker "$kind" rm "$name"; fi >/dev/null
    done
  done
fi
