# Source this for the dev stack: the offline toolchain, a file state backend
# and a passphrase kept under .dev/ (git-ignored). Not for production stacks.
_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/pulumi-env.sh
source "$_root/scripts/pulumi-env.sh"
export DEV_DIR="$_root/.dev"
mkdir -p "$DEV_DIR/state"
chmod 711 "$DEV_DIR" # postgres (the dev cluster) must traverse it; files inside are 0600
[ -s "$DEV_DIR/passphrase" ] || (umask 077; head -c 32 /dev/urandom | base64 >"$DEV_DIR/passphrase")
export PULUMI_BACKEND_URL="file://$DEV_DIR/state"
export PULUMI_CONFIG_PASSPHRASE_FILE="$DEV_DIR/passphrase"
unset _root
