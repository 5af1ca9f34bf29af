#!/usr/bin/env bash
# Release a registered model version to the cluster's InferenceService the only way this
# project changes production: a canary on live traffic plus the labelled probe set, promoted or
# rolled back on the evidence (docs/serving-rollout.md). Used by the release workflow.
#   MODEL_VERSION=<version> scripts/promote.sh
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

VENV_BIN="${ROOT}/.venv/bin"
MODEL_URI_PREFIX="pvc://fraud-workspace/artifacts/registry/fraud-detector/versions"

step "preflight"
[ -n "${MODEL_VERSION:-}" ] || die "MODEL_VERSION is not set (e.g. make promote MODEL_VERSION=3f2a9c1b7d4e)"
[[ "$MODEL_VERSION" =~ ^[0-9a-f]{12}$ ]] || die "MODEL_VERSION ${MODEL_VERSION} is not a registry version (12 hex digits)"
require kubectl "$KUBECTL_VERSION" "https://kubernetes.io/docs/tasks/tools/"
kubectl get -n "$APP_NAMESPACE" "inferenceservice/${RELEASE}" >/dev/null ||
  die "no InferenceService ${RELEASE} in ${APP_NAMESPACE} on the current kubectl context"

step "canary of ${MODEL_VERSION} on ${RELEASE}"
# The probe set is drawn from the project's synthetic data (generated when missing).
cd "$ROOT"
"${VENV_BIN}/fraud-detection" generate
"${VENV_BIN}/fraud-detection" canary --cluster "$RELEASE" --namespace "$APP_NAMESPACE" \
  --version "$MODEL_VERSION" --storage-uri "${MODEL_URI_PREFIX}/${MODEL_VERSION}"
