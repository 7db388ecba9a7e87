#!/usr/bin/env bash
# The benchmark, in one command (see bench/README.md):
#   bash bench/run.sh            # N = 10, 50, 100; 3 runs each; Pulumi, Ansible, raw SQL
#   bash bench/run.sh --quick    # smoke test: N = 10, 1 run
#   bash bench/run.sh --explore  # where the time goes (bench/src/explore.ts)
#   bash bench/run.sh --sizes 10,50 --runs 3 --variants default,fast --tools pulumi,sql
#   bash bench/run.sh --baseline 70bfc37   # before/after: adds pulumi:before, the program at 70bfc37
set -euo pipefail
cd "$(dirname "$0")/.."

# --- the Pulumi toolchain -------------------------------------------------
toolchain=""
if [ -f scripts/pulumi-env.sh ]; then
  # shellcheck source=/dev/null
  source scripts/pulumi-env.sh 2>/dev/null || true
  # (the plugin list is read whole first: `| grep -q` under pipefail fails when pulumi gets SIGPIPE)
  plugins=$(pulumi plugin ls 2>/dev/null || true)
  if command -v pulumi >/dev/null 2>&1 && pulumi version >/dev/null 2>&1 \
     && command -v pulumi-language-nodejs >/dev/null 2>&1 \
     && grep -q '^postgresql' <<<"$plugins"; then
    toolchain="scripts/pulumi-env.sh (PULUMI_HOME=$PULUMI_HOME)"
  fi
fi
if [ -z "$toolchain" ]; then
  if [ -x /tmp/mybin/pulumi ] && [ -d /tmp/myph ]; then
    export PATH="/tmp/mybin:$PATH" PULUMI_HOME=/tmp/myph
    export PULUMI_SKIP_UPDATE_CHECK=true PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
    toolchain="/tmp/mybin + PULUMI_HOME=/tmp/myph (fallback: scripts/pulumi-env.sh missing or without a working pulumi)"
  else
    echo "bench: no Pulumi toolchain: run scripts/toolchain.sh (then scripts/pulumi-env.sh works)" >&2
    exit 1
  fi
fi
echo "bench: Pulumi toolchain from $toolchain: $(pulumi version)" >&2
# The benchmark measures the file backend's journal (opt-in, see scripts/pulumi-env.sh);
# the explore scenario journal-off turns it off for the comparison.
export PULUMI_DIY_BACKEND_JOURNAL=${BENCH_JOURNAL:-true}

# --- PostgreSQL, node_modules ---------------------------------------------
PG_BIN="${PG_BIN:-/usr/lib/postgresql/15/bin}"
if [ ! -x "$PG_BIN/initdb" ]; then
  echo "bench: no PostgreSQL server binaries in $PG_BIN (apt-get install postgresql, or set PG_BIN)" >&2
  exit 1
fi
export PG_BIN
command -v psql >/dev/null || { echo "bench: psql not found (apt-get install postgresql-client)" >&2; exit 1; }
[ -d node_modules ] || npm ci --no-audit --no-fund --loglevel=error

# --- the Python venv: Ansible (with community.postgresql), psycopg2, matplotlib
cache="${APP_DATABASES_CACHE:-$HOME/.cache/app-databases}"
export BENCH_VENV="$cache/bench-venv"
if ! "$BENCH_VENV/bin/python" -c 'import ansible, psycopg2, matplotlib' 2>/dev/null \
   || [ ! -x "$BENCH_VENV/bin/ansible-playbook" ]; then
  echo "bench: creating $BENCH_VENV (ansible, psycopg2-binary, matplotlib)" >&2
  mkdir -p "$cache"
  python3 -m venv "$BENCH_VENV"
  "$BENCH_VENV/bin/pip" install --quiet ansible psycopg2-binary matplotlib
fi

if [ "${1:-}" = "--explore" ]; then
  shift
  exec node_modules/.bin/ts-node --transpile-only -P bench/tsconfig.json bench/src/explore.ts "$@"
fi
exec node_modules/.bin/ts-node --transpile-only -P bench/tsconfig.json bench/src/main.ts "$@"
