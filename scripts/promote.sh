#!/usr/bin/env bash
# Release a registered model version to the cluster's InferenceService the only way this
# project changes production: a canary on live traffic plus the labelled probe set, promoted or
# rolled back on the evidence (docs/serving-rollout.md). Used by the release workflow.
#   MODEL_VERSION=<version> scripts/promote.sh
# The canary runs inside the cluster, as the chart's rollout Job (scripts/rollout-job.sh): it
# reads the registry on the workspace volume and measures the predictors through their own
# Services. A promotion moves the InferenceService and the registry's production pointer
# together; a rollback changes neither. Exit 0 promoted, 3 rolled back.
#   ROLLOUT_SETTINGS='{"canary_percent": 10}' overrides rollout settings (one JSON object).
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

step "preflight"
[ -n "${MODEL_VERSION:-}" ] || die "MODEL_VERSION is not set (e.g. make promote MODEL_VERSION=3f2a9c1b7d4e)"
[[ "$MODEL_VERSION" =~ ^[0-9a-f]{12}$ ]] || die "MODEL_VERSION ${MODEL_VERSION} is not a registry version (12 hex digits)"

step "canary of ${MODEL_VERSION} on ${RELEASE}, in the cluster"
"${ROOT}/scripts/rollout-job.sh" promote "$MODEL_VERSION"
