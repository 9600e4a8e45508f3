#!/usr/bin/env bash
# Build every image of the compose stack from the repository root: `make images` runs this.
#
#   tonewatch-airflow:$AIRFLOW_VERSION  Airflow services and the CPU Celery worker
#   tonewatch:latest                    the `tonewatch` CLI and the dashboard
#   tonewatch-gpu:$AIRFLOW_VERSION      Celery worker for the `gpu` queue (CUDA torch from PyPI)
#   and, through docker/standins/build.sh, the base images (pulled, or built locally from Debian
#   packages where no registry answers).
#
# pip settings of the calling environment are honoured, so a machine with a local wheel
# directory or a TLS-intercepting proxy builds as it installs: when PIP_FIND_LINKS (or
# TORCH_WHEELS) names a directory holding the pinned CPU torch wheel, it is handed to the build
# as the build context `wheels` and torch's dependencies come from PyPI; PIP_CERT (or PIP_CA)
# becomes the build secret `ca`. Without them the images install exactly as docker/Dockerfile
# says. IMAGES="cpu" skips the GPU image (several GB of CUDA wheels); BUILD_ARGS adds options.
set -euo pipefail
cd "$(dirname "$0")/.."
airflow_version="${AIRFLOW_VERSION:-3.3.2}"
torch_version="$(sed -n 's/^ *"torch==\([^"]*\)".*/\1/p' pyproject.toml)"
images="${IMAGES:-cpu gpu}"

docker/standins/build.sh

args=()
wheels="${TORCH_WHEELS:-${PIP_FIND_LINKS:-}}"
if [ -n "$wheels" ] && compgen -G "$wheels/torch-${torch_version}+cpu-*.whl" >/dev/null; then
  args+=(--build-context "wheels=$wheels" --build-arg TORCH_INDEX_URL=https://pypi.org/simple)
  echo "images: torch ${torch_version}+cpu from $wheels"
fi
ca="${PIP_CA:-${PIP_CERT:-}}"
[ -n "$ca" ] && [ -f "$ca" ] && args+=(--secret "id=ca,src=$ca")
# shellcheck disable=SC2206
extra=(${BUILD_ARGS:-})

timed() {  # timed NAME docker build ...
  local name="$1" start; shift
  start=$(date +%s)
  "$@"
  echo "images: $name built in $(( $(date +%s) - start )) s"
}

if [[ " $images " == *" cpu "* ]]; then
  timed tonewatch-airflow docker build -f docker/Dockerfile --target airflow \
    --build-arg "AIRFLOW_VERSION=$airflow_version" "${args[@]}" "${extra[@]}" \
    -t "tonewatch-airflow:$airflow_version" .
  timed tonewatch docker build -f docker/Dockerfile "${args[@]}" "${extra[@]}" -t tonewatch:latest .
fi
if [[ " $images " == *" gpu "* ]]; then
  # No local wheel directory: `torch==X` would also match the local X+cpu wheel in it.
  gpu_args=()
  [ -n "$ca" ] && [ -f "$ca" ] && gpu_args+=(--secret "id=ca,src=$ca")
  timed tonewatch-gpu docker build -f docker/Dockerfile --target airflow \
    --build-arg "AIRFLOW_VERSION=$airflow_version" \
    --build-arg "TORCH_SPEC=torch==$torch_version" --build-arg TORCH_INDEX_URL=https://pypi.org/simple \
    "${gpu_args[@]}" "${extra[@]}" -t "tonewatch-gpu:$airflow_version" .
fi
docker image ls --format '{{.Repository}}:{{.Tag}}\t{{.Size}}' \
  | grep -E '^(tonewatch|python|postgres|redis|debian)' || true
