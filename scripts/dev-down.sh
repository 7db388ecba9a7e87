#!/usr/bin/env bash
# Stops the dev stack's local PostgreSQL that scripts/dev-up.sh started (its
# data stays in .dev/postgres; dev-up starts it again). The dev stack's
# dedicated containers are Pulumi's: `pulumi destroy --stack dev` removes them.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/dev-env.sh
source scripts/dev-env.sh
if [ ! -f "$DEV_PGDATA/PG_VERSION" ]; then
  echo "[dev-down] no dev cluster in $DEV_PGDATA" >&2
elif dev_pg pg_ctl -D "$DEV_PGDATA" status >/dev/null 2>&1; then
  dev_pg pg_ctl -D "$DEV_PGDATA" -m fast -w stop
else
  echo "[dev-down] the dev cluster in $DEV_PGDATA is not running" >&2
fi
