#!/usr/bin/env bash
# Retire apps from a protected stack, keeping their data: after you list them in
# app-databases:retiredApps, this unprotects every resource of those apps in
# one go (their database, roles, passwords, grants, dedicated container and
# volume) and runs `pulumi up`, which forgets them and leaves them in place
# (retained on delete). Other apps stay protected.
#
#   scripts/retire-apps.sh [--stack STACK] [--yes] APP...
#
# Run it where you run pulumi (the project directory, your backend and secrets
# provider in the environment; for the dev stack: source scripts/dev-env.sh).
set -euo pipefail

stack_args=() up_args=() apps=()
while [ $# -gt 0 ]; do
  case "$1" in
    --stack | -s) stack_args=(--stack "$2"); shift 2 ;;
    --yes | -y) up_args+=(--yes); shift ;;
    -*) echo "retire-apps: unknown option $1 (expected --stack STACK, --yes, then app names)" >&2; exit 2 ;;
    *) apps+=("$1"); shift ;;
  esac
done
[ ${#apps[@]} -gt 0 ] || { echo "retire-apps: name the apps to retire, e.g. scripts/retire-apps.sh --stack prod ledger" >&2; exit 2; }

retired=$(pulumi config get retiredApps "${stack_args[@]}" 2>/dev/null || echo "[]")
# Every resource of an app is named <app>@<server>... or dedicated-<app>...; list
# the protected ones of the apps named, refusing any app not retired in config.
urns=$(pulumi stack export "${stack_args[@]}" | node -e '
  const [retiredJson, ...apps] = process.argv.slice(1);
  const retired = JSON.parse(retiredJson || "[]");
  const notRetired = apps.filter((a) => !retired.includes(a));
  if (notRetired.length > 0) {
    // The next free indexes: retiredApps[0] would overwrite an app retired before.
    const sets = notRetired.map((a, i) => `pulumi config set --path "retiredApps[${retired.length + i}]" ${a}`);
    console.error(`retire-apps: ${notRetired.join(", ")} not in app-databases:retiredApps; add ${notRetired.length === 1 ? "it" : "them"} first: ${sets.join(" && ")}`);
    process.exit(2);
  }
  const state = JSON.parse(require("fs").readFileSync(0, "utf8"));
  const owned = (name) => apps.some((a) => name.startsWith(`${a}@`) || name === `dedicated-${a}` || name.startsWith(`dedicated-${a}-`));
  const urns = (state.deployment.resources || []).filter((r) => r.protect && owned(r.urn.split("::").pop())).map((r) => r.urn);
  process.stdout.write(urns.join("\n"));
' "$retired" "${apps[@]}")

if [ -n "$urns" ]; then
  mapfile -t list <<<"$urns"
  echo "retire-apps: unprotecting ${#list[@]} resources of ${apps[*]}" >&2
  pulumi state unprotect "${stack_args[@]}" --yes "${list[@]}"
else
  echo "retire-apps: no protected resources of ${apps[*]} in the state" >&2
fi
pulumi up "${stack_args[@]}" "${up_args[@]}"
