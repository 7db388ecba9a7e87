# Source this for the dev stack: the offline toolchain, a file state backend
# and a passphrase kept under .dev/ (git-ignored). Not for production stacks.
_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/pulumi-env.sh
source "$_root/scripts/pulumi-env.sh"
export DEV_DIR="$_root/.dev"
mkdir -p "$DEV_DIR/state"
# postgres (the dev cluster) must traverse .dev/; the state and the secrets stay
# the user's own: the state directory is 0700, the passphrase and password 0600.
chmod 711 "$DEV_DIR"
chmod 700 "$DEV_DIR/state"
[ -s "$DEV_DIR/passphrase" ] || (umask 077; head -c 32 /dev/urandom | base64 >"$DEV_DIR/passphrase")
export PULUMI_BACKEND_URL="file://$DEV_DIR/state"
export PULUMI_CONFIG_PASSPHRASE_FILE="$DEV_DIR/passphrase"
# The passphrase's salt lives in the state too: when Pulumi.dev.yaml comes back
# from git without it, Pulumi takes it from there instead of making a new one.
export PULUMI_FALLBACK_TO_STATE_SECRETS_MANAGER=true
# Pulumi writes that salt into Pulumi.dev.yaml; this clean filter (.gitattributes)
# keeps the line out of diffs and commits, so the tracked file stays everyone's.
if git -C "$_root" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  git -C "$_root" config filter.pulumi-dev-salt.clean "sed '/^encryptionsalt:/d'"
  git -C "$_root" config filter.pulumi-dev-salt.smudge cat
fi
# The dev cluster (scripts/dev-up.sh makes and starts it, scripts/dev-down.sh
# stops it): its data directory, and its server tools, run as postgres when root.
export DEV_PGDATA="$DEV_DIR/postgres"
dev_pg() {
  local bin
  bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$bin/$1" "${@:2}"; else "$bin/$1" "${@:2}"; fi
}
# Docker objects labelled for the dev stack that this clone's dev state does
# not hold: what a run stopped half-way, or another clone of the project, left
# on this engine. Pulumi would only fail on them ("network ... already exists").
# Prints one "kind name" per line; fails when the state cannot be read.
dev_docker_orphans() {
  local held="" kind stacks
  docker info >/dev/null 2>&1 || return 0 # no engine: nothing of ours runs
  stacks=$(pulumi stack ls --json) || return 1
  if grep -q '"name": *"dev"' <<<"$stacks"; then
    held=$(pulumi stack export --stack dev | node -e '
      const d = JSON.parse(require("fs").readFileSync(0, "utf8"));
      for (const r of d.deployment?.resources ?? [])
        if (r.type.startsWith("docker:") && r.outputs?.name) console.log(r.outputs.name);') || return 1
  fi
  for kind in container network volume; do
    case $kind in
      container) docker ps -a --filter label=app-databases.stack=dev --format '{{.Names}}' ;;
      network) docker network ls --filter label=app-databases.stack=dev --format '{{.Name}}' ;;
      volume) docker volume ls --filter label=app-databases.stack=dev --format '{{.Name}}' ;;
    esac | while read -r name; do
      grep -qxF -- "$name" <<<"$held" || echo "$kind $name"
    done
  done
}
unset _root
