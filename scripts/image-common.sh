# Shared by the scripts that build the local images (postgres-image.sh,
# pgbouncer-image.sh): the same arguments, the same engine check, the same
# build-hash label that decides whether an image is up to date. Sourced, after
# the script has defined log() and die() with its own prefix.
#   image_args "$@"        # sets REBUILD=0|1; --help prints the script's header
#   image_label IMAGE      # the build hash the image was made from, or nothing

image_args() {
  REBUILD=0
  case "${1:-}" in
    "") ;;
    --rebuild) REBUILD=1 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d'; exit 0 ;;
    *) die "unknown argument: $1 (try --help)" ;;
  esac
  docker info >/dev/null 2>&1 || die "Docker is not answering; run scripts/docker-engine.sh first"
}

image_label() {
  docker image inspect -f '{{ index .Config.Labels "org.app-databases.build" }}' "$1" 2>/dev/null
}
