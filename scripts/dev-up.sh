#!/usr/bin/env bash
# The main job: `pulumi up` of the local dev stack, from nothing.
#
# Sets up the machine (scripts/setup.sh), starts a local PostgreSQL for the
# dev stack's shared server on 127.0.0.1 (Pulumi.dev.yaml: servers.local), keeps
# Pulumi state in a file backend under .dev/ with a generated passphrase, sets
# the admin password as a secret on first run, then runs `pulumi up`.
# Extra arguments go to `pulumi up` (default: --yes).
#
# Afterwards, in any shell: `source scripts/dev-env.sh` and use pulumi as usual.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '[dev-up] %s\n' "$*" >&2; }

bash scripts/setup.sh --docker
# shellcheck source=scripts/dev-env.sh
source scripts/dev-env.sh

# The dev cluster: created once, started when it is not running.
port=$(sed -n '/servers:/,/apps:/{s/^ *port: *\([0-9]*\).*/\1/p}' Pulumi.dev.yaml | head -1)
port=${port:-55432}
pg_bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
as_pg=()
[ "$(id -u)" -eq 0 ] && as_pg=(runuser -u postgres --)
data="$DEV_DIR/postgres"
if [ ! -f "$data/PG_VERSION" ]; then
  log "creating the dev PostgreSQL cluster in $data (port $port)"
  [ -s "$DEV_DIR/admin-password" ] || (umask 077; head -c 24 /dev/urandom | base64 | tr -d '/+=' >"$DEV_DIR/admin-password")
  mkdir -p "$data"
  pwfile=$(mktemp); cp "$DEV_DIR/admin-password" "$pwfile"
  [ "$(id -u)" -eq 0 ] && chown -R postgres:postgres "$data" "$pwfile"
  "${as_pg[@]}" "$pg_bin/initdb" -D "$data" -U postgres --pwfile "$pwfile" --auth=scram-sha-256 -E UTF8 --locale=C >/dev/null
  rm -f "$pwfile"
fi
if ! "${as_pg[@]}" "$pg_bin/pg_ctl" -D "$data" status >/dev/null 2>&1; then
  log "starting the dev PostgreSQL on 127.0.0.1:$port"
  "${as_pg[@]}" "$pg_bin/pg_ctl" -D "$data" -l "$data/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$data" start >/dev/null
fi

pulumi stack select dev --create >/dev/null
if ! pulumi config get --path servers.local.admin.password >/dev/null 2>&1; then
  log "storing the dev admin password as a secret in Pulumi.dev.yaml"
  pulumi config set --secret --path servers.local.admin.password -- "$(cat "$DEV_DIR/admin-password")"
fi

log "pulumi up (dev)"
if [ $# -eq 0 ]; then set -- --yes; fi
pulumi up --stack dev "$@"
log "done. Outputs: source scripts/dev-env.sh && pulumi stack output --show-secrets"
