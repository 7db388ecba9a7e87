#!/usr/bin/env bash
# The main job: `pulumi up` of the local dev stack, from nothing.
#
# Sets up the machine (scripts/setup.sh), starts a local PostgreSQL for the
# dev stack's shared server on 127.0.0.1 (Pulumi.dev.yaml: servers.local), keeps
# Pulumi state in a file backend under .dev/ with a generated passphrase, and
# the local server's admin password in .dev/admin-password (Pulumi.dev.yaml
# names that file; nothing per-user goes into a tracked file), then runs
# `pulumi up`. Extra arguments go to `pulumi up` (default: --yes).
#
# Afterwards, in any shell: `source scripts/dev-env.sh` and use pulumi as usual.
set -eEuo pipefail
cd "$(dirname "$0")/.."

log() { printf '[dev-up] %s\n' "$*" >&2; }

# Each step says what it is; a failure names the step and what to do next,
# under the failing command's own output (nothing is sent to /dev/null).
STEP="" HINT="" STEP_STARTED=$SECONDS
step() {
  [ -z "$STEP" ] || log "$STEP: done in $((SECONDS - STEP_STARTED))s"
  STEP=$1 HINT=$2 STEP_STARTED=$SECONDS
  log "$STEP"
}
trap 'status=$?; log "FAILED: $STEP (exit $status, after $((SECONDS - STEP_STARTED))s). $HINT"; exit $status' ERR
umask 077 # state files, passphrase and password: the user's own

step "setting up the machine (PostgreSQL packages, npm, Pulumi toolchain, Docker, local image)" \
  "The lines above say which part failed; rerun ./scripts/dev-up.sh after fixing it (finished parts are cached)."
bash scripts/setup.sh --docker

# shellcheck source=scripts/dev-env.sh
source scripts/dev-env.sh

# The dev cluster: created once, started when it is not running.
port=$(sed -n '/servers:/,/apps:/{s/^ *port: *\([0-9]*\).*/\1/p}' Pulumi.dev.yaml | head -1)
port=${port:-15432}
data="$DEV_PGDATA"
password_file="$DEV_DIR/admin-password"
step "dev PostgreSQL on 127.0.0.1:$port ($data)" \
  "The lines above say why (the server log: $data/server.log). If the cluster itself is broken, remove $data and $password_file and rerun (the dev stack's databases go with it)."
if [ ! -f "$data/PG_VERSION" ]; then
  log "creating the cluster (admin password: $password_file)"
  [ -s "$password_file" ] || head -c 24 /dev/urandom | base64 | tr -d '/+=\n' >"$password_file"
  mkdir -p "$data"
  pwfile=$(mktemp)
  cp "$password_file" "$pwfile"
  [ "$(id -u)" -eq 0 ] && chown -R postgres:postgres "$data" "$pwfile"
  dev_pg initdb -D "$data" -U postgres --pwfile "$pwfile" --auth=scram-sha-256 -E UTF8 --locale=C >"$DEV_DIR/initdb.log" ||
    { cat "$DEV_DIR/initdb.log" >&2; rm -f "$pwfile"; false; }
  rm -f "$pwfile"
elif [ ! -s "$password_file" ]; then
  log "$password_file is missing, but the cluster in $data was made with it"
  false
fi
if ! dev_pg pg_ctl -D "$data" status >/dev/null 2>&1; then
  # Another server on the port would only show as "could not start server".
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    log "127.0.0.1:$port is taken by another process ($(ss -ltnpH "sport = :$port" 2>/dev/null | grep -o 'users:.*' || echo 'see ss -ltnp'))"
    log "stop it (another clone's dev cluster: scripts/dev-down.sh there), or change servers.local.port in Pulumi.dev.yaml"
    false
  fi
  dev_pg pg_ctl -D "$data" -l "$data/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$data" start
fi

step "stack dev (state: $PULUMI_BACKEND_URL)" \
  "If Pulumi says 'incorrect passphrase', Pulumi.dev.yaml holds an encryptionsalt made with another passphrase: remove that line and rerun."
pulumi stack select dev --create
# Pulumi has just written the passphrase's salt into Pulumi.dev.yaml. The clean
# filter keeps it out of diffs and commits; when it is the only change, refresh
# git's index entry so `git status` shows the file unchanged too.
if git rev-parse --is-inside-work-tree >/dev/null 2>&1 && git diff --quiet -- Pulumi.dev.yaml; then
  git add -- Pulumi.dev.yaml
fi

step "Docker objects of the dev stack" \
  "Where the dev stack is still alive in another clone, destroy it there (pulumi destroy --stack dev); otherwise ./scripts/dev-down.sh --orphans removes them (their data too), then rerun ./scripts/dev-up.sh."
orphans=$(dev_docker_orphans)
if [ -n "$orphans" ]; then
  log "this engine holds the dev stack's Docker objects that this clone's state (.dev/state) does not:"
  while read -r kind name; do log "  $kind $name"; done <<<"$orphans"
  log "a run stopped half-way, or another clone of the project, left them; Pulumi would fail on their names"
  false
fi

step "pulumi up (dev)" "Pulumi's own error is above; fix the config or the server it names, then rerun ./scripts/dev-up.sh."
if [ $# -eq 0 ]; then set -- --yes; fi
pulumi up --stack dev "$@"
step "done" ""
log "Outputs: source scripts/dev-env.sh && pulumi stack output --stack dev --show-secrets"
