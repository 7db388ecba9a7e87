#!/usr/bin/env bash
# After a crash: when `pulumi up` died half-way (kill -9, a closed laptop, a
# lost CI runner), the stack is left locked and with pending operations, and
# Pulumi's own messages lead through `pulumi cancel`, another `up` and
# `pulumi refresh --clear-pending-creates`. This says what is left, whether the
# update that held the lock is really gone, and the exact commands; with --yes
# it runs them:
#   1. `pulumi cancel`, only when the lock's process is gone (file backends:
#      the lock names the host and pid; other backends: when you say --yes);
#   2. Docker objects with the fixed names of a pending create that the dead
#      update's plugins made after it died: a container is removed (its data is
#      in the volume, which the next `up` reuses), a network too; volumes are
#      kept (Docker hands the existing one to the next create);
#   3. `pulumi up`, which finishes the creates (app-databases's own resources
#      take over what a half-done create made: the same database, the same
#      roles, the passwords from the state);
#   4. forgets exactly the pending operations whose resource that `up` has
#      recorded (provably stale); any other is listed for you to look at.
#
#   scripts/recover.sh [--stack STACK] [--yes]
#
# Run it where you run pulumi (the project directory, your backend and secrets
# provider in the environment; for the dev stack: source scripts/dev-env.sh).
# Exit status: 0 nothing left to do (or done), 1 something needs you, 2 bad usage.
set -euo pipefail

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }
stack_args=() yes=false
while [ $# -gt 0 ]; do
  case "$1" in
    --stack | -s) stack_args=(--stack "$2"); shift 2 ;;
    --yes | -y) yes=true; shift ;;
    --help | -h) usage; exit 0 ;;
    *) echo "recover: unknown argument $1 (expected --stack STACK, --yes, --help)" >&2; exit 2 ;;
  esac
done
say() { printf 'recover: %s\n' "$*" >&2; }
stack=$(pulumi stack "${stack_args[@]}" --show-name)

# The lock: a file backend keeps it as <backend>/.pulumi/locks/.../<stack>/<id>.json
# with the host and pid of the update holding it.
backend=$(pulumi whoami -v 2>/dev/null | sed -n 's/^ *Backend URL: *//p')
lock_state=none lock_holder=""
if [[ "$backend" == file://* ]]; then
  root=${backend#file://}
  root=${root%%\?*}
  for f in $(find "$root/.pulumi/locks" -path "*/$stack/*.json" 2>/dev/null); do
    read -r host pid < <(node -e 'const l = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")); console.log(l.hostname || "?", l.pid || 0)' "$f")
    lock_holder="pid $pid on $host"
    if [ "$host" = "$(hostname)" ] && ! kill -0 "$pid" 2>/dev/null; then lock_state=dead; else lock_state=alive; fi
  done
elif [ -n "$backend" ]; then
  lock_state=unknown
fi
if [ "$lock_state" = alive ]; then
  say "an update of $stack is still running ($lock_holder): wait for it to end, then run this again"
  exit 1
fi

state=$(pulumi stack export "${stack_args[@]}")
# Pending operations, one per line: kind<TAB>type<TAB>urn<TAB>docker name (when it has one).
pending=$(node -e '
  const d = JSON.parse(require("fs").readFileSync(0, "utf8")).deployment || {};
  for (const p of d.pending_operations || []) {
    const r = p.resource || {};
    console.log([p.type, r.type, r.urn, (r.type || "").startsWith("docker:") ? ((r.inputs || {}).name || "") : ""].join("\t"));
  }' <<<"$state")

if [ -z "$pending" ] && [ "$lock_state" != dead ]; then
  say "$stack has no pending operations and no stale lock: nothing to recover"
  exit 0
fi
[ "$lock_state" = dead ] && say "$stack is locked by an update that is gone ($lock_holder)"
plan=()
[ "$lock_state" = dead ] && plan+=("pulumi cancel --stack $stack --yes")
if [ -n "$pending" ]; then
  say "$stack has $(wc -l <<<"$pending") pending operations from an update that did not finish:"
  while IFS=$'\t' read -r kind type urn name; do
    note="its create takes over what the half-done one made"
    case "$type" in
      docker:index/container:Container | docker:index/network:Network)
        kind_of=${type##*:}
        flag=$([ "$kind_of" = Container ] && echo "container" || echo "network")
        if [ -n "$name" ] && docker "$flag" inspect "$name" >/dev/null 2>&1; then
          note="docker $flag $name exists but is not in the state: it is removed, and the next up creates it again"
          [ "$flag" = container ] && note="$note on the same volume (the data stays)"
          plan+=("docker $flag rm -f $name")
          [ "$flag" = network ] && plan[-1]="docker network rm $name"
        else
          note="no docker $flag $name: the next up creates it"
        fi
        ;;
      docker:index/volume:Volume) note="kept: Docker gives the existing volume to the next create" ;;
      random:*) note="a generated value never stored: the next up generates it (nothing used it yet)" ;;
    esac
    printf '    %-9s %s\n              %s\n' "$kind" "${urn##*::} ($type)" "$note" >&2
  done <<<"$pending"
fi
plan+=("pulumi up --stack $stack --yes" "forget the pending operations that up recorded (pulumi stack export | import)")

say "what to do:"
printf '    %s\n' "${plan[@]}" >&2
if ! $yes; then
  say "run again with --yes to do exactly that"
  exit 1
fi

[ "$lock_state" = dead ] && pulumi cancel --stack "$stack" --yes
for step in "${plan[@]}"; do
  case "$step" in docker\ *) say "$step"; eval "$step" >/dev/null ;; esac
done
pulumi up --stack "$stack" --yes --skip-preview
# Only what the up recorded is forgotten: a pending create whose resource is in
# the state is stale; anything else stays and is reported.
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
left=$(pulumi stack export --stack "$stack" | node -e '
  const fs = require("fs");
  const s = JSON.parse(fs.readFileSync(0, "utf8"));
  const d = s.deployment || {};
  const have = new Set((d.resources || []).map((r) => r.urn));
  const all = d.pending_operations || [];
  const left = all.filter((p) => !(p.type === "creating" && have.has((p.resource || {}).urn)));
  d.pending_operations = left;
  fs.writeFileSync(process.argv[1], JSON.stringify(s));
  console.log(left.map((p) => `${p.type} ${(p.resource || {}).urn}`).join("\n"));
  process.exitCode = all.length === left.length ? 3 : 0;
' "$tmp") && pulumi stack import --stack "$stack" --file "$tmp" >/dev/null || true
if [ -n "$left" ]; then
  say "still pending (not recorded by the up, so not provably done; look at each, then pulumi refresh --stack $stack):"
  printf '    %s\n' "$left" >&2
  exit 1
fi
say "$stack recovered: no lock, no pending operations"
