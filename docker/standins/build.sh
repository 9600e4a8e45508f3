#!/usr/bin/env bash
# Base images for a machine that reaches no image registry, only Debian's package mirror.
#
# docker/ names public base images: debian:bookworm-slim, python:3.11-slim-bookworm,
# postgres:15-bookworm, redis:7.0-bookworm. For each one missing locally, this script first tries
# `docker pull`; where that fails it builds a local stand-in under the same name from Debian
# bookworm packages: a minbase root filesystem made with debootstrap (root needed) and loaded with
# `docker import`, then Dockerfiles beside this script for Python, PostgreSQL and Redis. Users
# with a registry get the real images and never run the rest.
#
#   docker/standins/build.sh            # pull or build what is missing
#   STANDINS=always docker/standins/build.sh   # rebuild the stand-ins even if present
#
# Environment: DEBIAN_MIRROR (default http://deb.debian.org/debian), STANDINS=auto|always|never,
# PULL_TIMEOUT (seconds per `docker pull`, default 60).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
mode="${STANDINS:-auto}"
pull_timeout="${PULL_TIMEOUT:-60}"

have() { docker image inspect "$1" >/dev/null 2>&1; }

# want IMAGE: true when IMAGE is there (present or pulled) and need not be built.
want() {
  local image="$1"
  [ "$mode" = always ] && return 1
  have "$image" && return 0
  [ "$mode" = never ] && { echo "standins: $image missing and STANDINS=never" >&2; exit 1; }
  if [ -z "${no_registry:-}" ]; then
    echo "standins: pulling $image (${pull_timeout}s at most)"
    timeout "$pull_timeout" docker pull -q "$image" >/dev/null 2>&1 && return 0
    no_registry=1  # one failed pull is enough: do not wait for the others
  fi
  echo "standins: no registry answered for $image; building a local stand-in"
  return 1
}

if ! want debian:bookworm-slim; then
  command -v debootstrap >/dev/null || { echo "standins: debootstrap is not installed (apt-get install debootstrap)" >&2; exit 1; }
  rootfs="$(mktemp -d /var/tmp/tonewatch-rootfs.XXXXXX)"
  trap 'rm -rf "$rootfs"' EXIT
  debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$rootfs.log" 2>&1 \
    || { tail -20 "$rootfs.log" >&2; exit 1; }
  rm -f "$rootfs.log"
  # What the real slim image leaves out: apt lists, caches, docs and man pages.
  rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/usr/share/doc/* \
         "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/*
  tar -C "$rootfs" --numeric-owner -c . | docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["bash"]' \
    --message "tonewatch stand-in: debootstrap --variant=minbase bookworm" - debian:bookworm-slim
  rm -rf "$rootfs"; trap - EXIT
fi

standin() {  # standin IMAGE DOCKERFILE
  want "$1" && return 0
  docker build --network host -q -f "$here/$2" -t "$1" "$here" >/dev/null
  echo "standins: built $1"
}
standin python:3.11-slim-bookworm python.Dockerfile
standin postgres:15-bookworm postgres.Dockerfile
standin redis:7.0-bookworm redis.Dockerfile
