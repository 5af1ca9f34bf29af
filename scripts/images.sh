#!/usr/bin/env bash
# Build the two images and load them into the kind cluster (never pushed anywhere):
#   PIPELINE_IMAGE:<appVersion>  k8s/images/pipeline.Dockerfile (pipeline components, CronJobs,
#                                workspace-init)
#   SERVING_IMAGE:<appVersion>   `bentoml containerize` of the newest Bento the training
#                                pipeline packaged (make train builds one)
# The names come from project.env (under IMAGE_REGISTRY when it is set). Both run as the
# non-root UID 1034. <appVersion> is the chart's, so the chart finds them.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

APP_VERSION="$(sed -n 's/^appVersion: *"\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' "${ROOT}/charts/${CHART_NAME}/Chart.yaml")"
[ -n "$APP_VERSION" ] || die "no appVersion in charts/${CHART_NAME}/Chart.yaml"
VENV_BIN="${ROOT}/.venv/bin"
PIPELINE_REF="$(image_repository "$PIPELINE_IMAGE"):${APP_VERSION}"
SERVING_REF="$(image_repository "$SERVING_IMAGE"):${APP_VERSION}"

step "preflight"
require_docker
require kind "$KIND_VERSION" "https://kind.sigs.k8s.io/docs/user/quick-start/#installation"
[ -x "${VENV_BIN}/bentoml" ] || die "no project environment: run make images (it bootstraps one)"

step "pipeline image ${PIPELINE_REF}"
docker build --file "${ROOT}/k8s/images/pipeline.Dockerfile" \
  --build-arg "PYTHON_IMAGE=${PYTHON_IMAGE}" \
  --tag "$PIPELINE_REF" "$ROOT"

step "serving image ${SERVING_REF}"
export BENTOML_HOME="${ROOT}/artifacts/bentoml"
# bentoml lists the newest Bento first.
newest_bento() {
  "${VENV_BIN}/bentoml" list "$MODEL_NAME" -o json |
    "${VENV_BIN}/python" -c 'import json, sys; b = json.load(sys.stdin); print(b[0]["tag"] if b else "")'
}
bento="$(newest_bento)"
if [ -z "$bento" ]; then
  log "no Bento yet: running the training pipeline to package one"
  (cd "$ROOT" && "${VENV_BIN}/${PROJECT_SLUG}" train)
  bento="$(newest_bento)"
fi
[ -n "$bento" ] || die "the training pipeline packaged no Bento (did the validation gate refuse the model?)"
"${VENV_BIN}/bentoml" containerize "$bento" --image-tag "$SERVING_REF"

step "load into kind cluster ${CLUSTER_NAME}"
# Not `kind load docker-image`: with Docker's containerd image store its `docker save` writes
# the image index, whose other entries (platforms never pulled, build attestations) the node's
# `ctr images import --all-platforms` cannot find (kubernetes-sigs/kind #3795, #4066). A save of
# the node's platform alone (Docker 28, API 1.48) holds one manifest. A file, not a pipe into
# /dev/stdin: kind opens the archive once per node.
images=("$PIPELINE_REF" "$SERVING_REF")
read -r client_version api_version platform < <(
  docker version --format '{{.Client.Version}} {{.Server.APIVersion}} {{.Server.Os}}/{{.Server.Arch}}'
) || true
[[ "${platform:-}" =~ ^[a-z0-9]+/[a-z0-9]+$ ]] ||
  die "cannot read Docker's client version, API version and platform from docker version"
archive_dir="$(mktemp -d)"
trap 'rc=$?; rm -rf "$archive_dir"; report_failed_step "$rc"' EXIT
archive="${archive_dir}/images.tar"
if version_at_least "$client_version" 28.0 && version_at_least "$api_version" 1.48; then
  docker save --platform "$platform" --output "$archive" "${images[@]}"
else
  log "Docker ${client_version} (API ${api_version}) cannot save one platform; if the load fails with 'content digest ... not found', upgrade to Docker 28 or turn off its containerd image store"
  docker save --output "$archive" "${images[@]}"
fi
kind load image-archive "$archive" --name "$CLUSTER_NAME"
