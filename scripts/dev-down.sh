#!/usr/bin/env bash
# Stops the dev stack's local PostgreSQL that scripts/dev-up.sh started (its
# data stays in .dev/postgres; dev-up starts it again). The dev stack's
# dedicated containers are Pulumi's: `pulumi destroy --stack dev` removes them.
set -euo pipefail
cd "$(dirname "$0")/.."
data=.dev/postgres
if [ ! -f "$data/PG_VERSION" ]; then
  echo "[dev-down] no dev cluster in $data" >&2
  exit 0
fi
pg_bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
as_pg=()
[ "$(id -u)" -eq 0 ] && as_pg=(runuser -u postgres --)
if "${as_pg[@]}" "$pg_bin/pg_ctl" -D "$data" status >/dev/null 2>&1; then
  "${as_pg[@]}" "$pg_bin/pg_ctl" -D "$data" -m fast -w stop
else
  echo "[dev-down] the dev cluster in $data is not running" >&2
fi
