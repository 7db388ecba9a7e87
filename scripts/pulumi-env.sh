# Source this file (`source scripts/pulumi-env.sh`) to use the project-local
# Pulumi toolchain that scripts/toolchain.sh builds into <repo>/.pulumi-home.
# Sets environment only; it never builds, downloads or contacts anything.

_app_db_root=$(cd "$(dirname "${BASH_SOURCE[0]:-$0}")/.." && pwd)

# Plugins, login state (pulumi login file://...) and the CLI live here.
export PULUMI_HOME="$_app_db_root/.pulumi-home"
case ":$PATH:" in
  *":$PULUMI_HOME/bin:"*) ;;
  *) export PATH="$PULUMI_HOME/bin:$PATH" ;;
esac

# No network: no update check, no plugin downloads (a missing plugin is an
# error instead), and the Automation API does not probe the CLI version.
export PULUMI_SKIP_UPDATE_CHECK=true
export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
export PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK=true

# The file backend's journal (scripts/toolchain/cli/upstream.patch) is opt-in: with it, an
# `up` after a refused `up` failed with "cipher: message authentication failed" reading
# the state (test/e2e/dedicatedUpgrade.test.ts's rollback). Set it to true to measure it.
export PULUMI_DIY_BACKEND_JOURNAL=${PULUMI_DIY_BACKEND_JOURNAL:-false}

if [ ! -x "$PULUMI_HOME/bin/pulumi" ]; then
  echo "pulumi-env.sh: no toolchain in $PULUMI_HOME yet; run scripts/toolchain.sh" >&2
fi
unset _app_db_root
