#!/usr/bin/env bash
# Make sure a Docker engine is running and usable on this machine.
#
#   scripts/docker-engine.sh          # install docker.io if needed, start dockerd if needed, wait for it
#   scripts/docker-engine.sh --stop   # stop the dockerd that this script started
#   scripts/docker-engine.sh --status # exit 0 if the engine answers
#
# Idempotent: when `docker info` already works it returns at once.
# Written for hosts without systemd (sandboxes, CI containers), where nothing
# else starts dockerd for us. Needs root (or passwordless sudo) to install/start.
#
# Environment:
#   APP_DATABASES_CACHE                 state dir (default ~/.cache/app-databases): dockerd.log, dockerd.pid
#   APP_DATABASES_DOCKER_STORAGE_DRIVER force a storage driver (default: probe overlay2 > fuse-overlayfs > vfs)
#   APP_DATABASES_DOCKERD_TIMEOUT       seconds to wait for dockerd to answer (default 60)
set -euo pipefail

CACHE_DIR="${APP_DATABASES_CACHE:-$HOME/.cache/app-databases}"
LOG_FILE="$CACHE_DIR/dockerd.log"
PID_FILE="$CACHE_DIR/dockerd.pid"
DATA_ROOT=/var/lib/docker
TIMEOUT="${APP_DATABASES_DOCKERD_TIMEOUT:-60}"

log() { printf '[docker-engine] %s\n' "$*" >&2; }
# shellcheck source=scripts/heartbeat.sh
source "$(dirname "${BASH_SOURCE[0]}")/heartbeat.sh"
die() { log "ERROR: $*"; exit 1; }

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO=(sudo -n); fi
fi

# The end of the log without containerd's chatty gRPC lines.
log_tail() { grep -v 'module=grpc' "$LOG_FILE" | tail -n 20 >&2 || true; }

engine_up() { docker info >/dev/null 2>&1 || { [ ${#SUDO[@]} -gt 0 ] && "${SUDO[@]}" docker info >/dev/null 2>&1; }; }

# Our dockerd, if the pid file points at a live dockerd process.
our_pid() {
  local pid
  [ -f "$PID_FILE" ] || return 1
  pid="$(cat "$PID_FILE" 2>/dev/null)" || return 1
  [ -n "$pid" ] && [ -r "/proc/$pid/comm" ] && [ "$(cat "/proc/$pid/comm")" = dockerd ] || return 1
  echo "$pid"
}

stop_engine() {
  local pid
  if ! pid="$(our_pid)"; then
    log "no dockerd started by this script is running"
    rm -f "$PID_FILE"
    return 0
  fi
  log "stopping dockerd (pid $pid)"
  # SIGTERM lets dockerd stop its containers and its containerd cleanly.
  "${SUDO[@]}" kill -TERM "$pid"
  for _ in $(seq 1 60); do
    [ -d "/proc/$pid" ] || { rm -f "$PID_FILE"; log "stopped"; return 0; }
    sleep 0.5
  done
  die "dockerd (pid $pid) did not exit within 30s"
}

install_docker() {
  command -v apt-get >/dev/null 2>&1 || die "dockerd is missing and apt-get is not available to install it"
  log "installing docker.io from Debian (dockerd not found)"
  local t0=$SECONDS guard=""
  # No init system here: keep the package's postinst from trying to start the
  # service with default flags (we start dockerd ourselves, below).
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    guard=/usr/sbin/policy-rc.d
    printf '#!/bin/sh\nexit 101\n' | "${SUDO[@]}" tee "$guard" >/dev/null
    "${SUDO[@]}" chmod +x "$guard"
  fi
  # An empty package list means `apt-get update` was never run on this machine.
  if ! compgen -G '/var/lib/apt/lists/*_Packages*' >/dev/null; then
    "${SUDO[@]}" apt-get update -q >/dev/null
  fi
  local apt_log="$CACHE_DIR/apt.log"
  apt_install() {
    heartbeat --log "$apt_log" "apt-get install docker.io" "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
      apt-get install -y -q --no-install-recommends docker.io iptables
  }
  if ! apt_install; then
    # Stale lists (packages moved on the mirror): refresh once and retry.
    "${SUDO[@]}" apt-get update -q >>"$apt_log" 2>&1 || true
    apt_install || { tail -n 20 "$apt_log" >&2; die "installing docker.io failed (see $apt_log)"; }
  fi
  [ -n "$guard" ] && "${SUDO[@]}" rm -f "$guard"
  log "docker.io installed in $((SECONDS - t0))s"
}

# Pick a storage driver that actually mounts here. overlay2 is fastest; it fails
# when /var/lib/docker sits on overlayfs itself or the kernel lacks overlay.
pick_storage_driver() {
  if [ -n "${APP_DATABASES_DOCKER_STORAGE_DRIVER:-}" ]; then
    echo "$APP_DATABASES_DOCKER_STORAGE_DRIVER"; return
  fi
  # Keep the driver an earlier run chose: switching would hide its images.
  local d
  for d in overlay2 fuse-overlayfs vfs; do
    if [ -d "$DATA_ROOT/image/$d" ]; then echo "$d"; return; fi
  done
  "${SUDO[@]}" mkdir -p "$DATA_ROOT"
  local t ok=1
  t="$("${SUDO[@]}" mktemp -d "$DATA_ROOT/.overlay-probe.XXXXXX")"
  "${SUDO[@]}" mkdir -p "$t/l" "$t/u" "$t/w" "$t/m"
  if "${SUDO[@]}" mount -t overlay overlay -o "lowerdir=$t/l,upperdir=$t/u,workdir=$t/w" "$t/m" 2>/dev/null; then
    "${SUDO[@]}" umount "$t/m"; ok=0
  fi
  "${SUDO[@]}" rm -rf "$t"
  if [ "$ok" -eq 0 ]; then echo overlay2; return; fi
  if [ -e /dev/fuse ]; then
    command -v fuse-overlayfs >/dev/null 2>&1 ||
      "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends fuse-overlayfs >/dev/null 2>&1 || true
    if command -v fuse-overlayfs >/dev/null 2>&1; then echo fuse-overlayfs; return; fi
  fi
  echo vfs # always works, but copies every layer: slower and bigger
}

# Docker programs NAT/filter rules through iptables. Debian defaults to the nft
# backend; fall back to legacy, and as a last resort run without iptables
# (published ports then still work through docker-proxy).
iptables_flags() {
  if "${SUDO[@]}" iptables -t nat -L -n >/dev/null 2>&1 && "${SUDO[@]}" iptables -t filter -L -n >/dev/null 2>&1; then
    return
  fi
  if command -v iptables-legacy >/dev/null 2>&1 && "${SUDO[@]}" iptables-legacy -t nat -L -n >/dev/null 2>&1; then
    log "iptables (nft backend) unusable here, switching to iptables-legacy"
    "${SUDO[@]}" update-alternatives --set iptables /usr/sbin/iptables-legacy >/dev/null
    "${SUDO[@]}" update-alternatives --set ip6tables /usr/sbin/ip6tables-legacy >/dev/null 2>&1 || true
    return
  fi
  log "WARNING: no usable iptables; starting dockerd with --iptables=false"
  echo "--iptables=false --ip-masq=false"
}

# runc needs a cgroup hierarchy; without systemd nobody may have mounted one.
ensure_cgroups() {
  if [ -e /sys/fs/cgroup/cgroup.controllers ] || [ -d /sys/fs/cgroup/memory ] || [ -d /sys/fs/cgroup/cpu ]; then
    return
  fi
  log "no cgroup hierarchy mounted, mounting one"
  if grep -qw cgroup2 /proc/filesystems; then
    "${SUDO[@]}" mount -t cgroup2 none /sys/fs/cgroup
  elif command -v cgroupfs-mount >/dev/null 2>&1 ||
       "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends cgroupfs-mount >/dev/null; then
    "${SUDO[@]}" cgroupfs-mount
  fi
}

start_engine() {
  mkdir -p "$CACHE_DIR"
  command -v dockerd >/dev/null 2>&1 || install_docker
  command -v docker >/dev/null 2>&1 || die "docker CLI not found"

  local pid
  if pid="$(our_pid)"; then
    log "dockerd (pid $pid) is running but not answering yet; waiting"
  elif pgrep -x dockerd >/dev/null 2>&1; then
    log "a dockerd not started by this script is running but not answering yet; waiting"
  else
    ensure_cgroups
    local driver flags
    driver="$(pick_storage_driver)"
    flags="$(iptables_flags)"
    log "starting dockerd (storage driver $driver${flags:+, $flags}); log: $LOG_FILE"
    printf '\n==== %s dockerd --storage-driver=%s %s\n' "$(date -u +%FT%TZ)" "$driver" "$flags" >>"$LOG_FILE"
    # setsid + nohup: dockerd must outlive this shell and its session.
    # cgroupfs: there is no systemd to act as cgroup manager.
    # shellcheck disable=SC2086
    "${SUDO[@]}" setsid nohup dockerd \
      --storage-driver="$driver" \
      --exec-opt native.cgroupdriver=cgroupfs \
      --data-root="$DATA_ROOT" \
      $flags >>"$LOG_FILE" 2>&1 </dev/null &
    echo $! >"$PID_FILE"
  fi

  local t0=$SECONDS deadline=$((SECONDS + TIMEOUT))
  until engine_up; do
    if pid="$(cat "$PID_FILE" 2>/dev/null)" && [ -n "$pid" ] && [ ! -d "/proc/$pid" ] && ! pgrep -x dockerd >/dev/null; then
      log "dockerd exited during startup; last lines of $LOG_FILE:"
      log_tail
      rm -f "$PID_FILE"
      exit 1
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      log "dockerd did not answer within ${TIMEOUT}s; last lines of $LOG_FILE:"
      log_tail
      exit 1
    fi
    sleep 0.5
  done
  # Record dockerd's own pid (not a sudo wrapper's) for --stop.
  if [ -s /var/run/docker.pid ] && [ -f "$PID_FILE" ]; then cp /var/run/docker.pid "$PID_FILE" 2>/dev/null || true; fi
  log "dockerd is up ($((SECONDS - t0))s)"
}

case "${1:-}" in
  --stop) stop_engine ;;
  --status) engine_up ;;
  -h|--help) sed -n '2,15p' "$0" ;;
  "")
    if engine_up; then
      exit 0 # already running: nothing to do
    fi
    start_engine
    ;;
  *) die "unknown argument: $1 (try --help)" ;;
esac
