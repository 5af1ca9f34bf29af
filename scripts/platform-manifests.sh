#!/usr/bin/env bash
# Render a platform overlay (k8s/platform/overlays/<name>) with the images pinned in
# k8s/versions.env, so no image version is written anywhere else.
#
#   scripts/platform-manifests.sh [OVERLAY]    YAML on stdout (OVERLAY defaults to kind)
#
# Uses $KUBECTL, or kubectl on PATH (kustomize is built into kubectl).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=k8s/versions.env
source "${ROOT}/k8s/versions.env"

overlay="${1:-kind}"
dir="${ROOT}/k8s/platform/overlays/${overlay}"
if [ ! -f "${dir}/kustomization.yaml" ]; then
  echo "platform-manifests: error: no overlay ${overlay} (${dir})" >&2
  exit 2
fi

# kustomize takes only relative paths to other kustomizations: render from a scratch directory
# beside the overlays.
work="$(mktemp -d "${ROOT}/k8s/platform/.render.XXXXXX")"
trap 'rm -rf "$work"' EXIT
cat >"${work}/kustomization.yaml" <<YAML
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - ../overlays/${overlay}
images:
  - name: redis
    newName: ${REDIS_IMAGE%:*}
    newTag: ${REDIS_IMAGE##*:}
  - name: postgres
    newName: ${POSTGRES_IMAGE%:*}
    newTag: ${POSTGRES_IMAGE##*:}
YAML
"${KUBECTL:-kubectl}" kustomize "$work"
