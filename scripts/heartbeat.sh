# Source this. `heartbeat [--log FILE] LABEL CMD...` runs CMD (its output
# appended to FILE when given) and, while it runs, prints
# "LABEL: still working, Ns" to stderr every HEARTBEAT_SECONDS (default 20), so
# a long build, install or download shows it is alive. Returns CMD's status.
heartbeat() {
  local log="" label every=${HEARTBEAT_SECONDS:-20} started=$SECONDS pid ticker status=0
  if [ "$1" = "--log" ]; then log=$2; shift 2; fi
  label=$1
  shift
  if [ -n "$log" ]; then "$@" >>"$log" 2>&1 & else "$@" & fi
  pid=$!
  (while sleep "$every"; do printf '    %s: still working, %ds\n' "$label" "$((SECONDS - started))" >&2; done) &
  ticker=$!
  wait "$pid" || status=$?
  kill "$ticker" 2>/dev/null || true
  wait "$ticker" 2>/dev/null || true
  return "$status"
}
