#!/usr/bin/env bash
# Undo the last rollout step on the cluster, inside it (the chart's rollout Job,
# scripts/rollout-job.sh):
#   - a canary is running: remove it; production (InferenceService and registry) is unchanged;
#   - none is: return production to the previous version in the registry's history, the
#     InferenceService with it (through a canary that must become ready, so nothing stops
#     serving). Run it again to step back over that rollback.
#   scripts/rollback.sh
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

step "rollback on ${RELEASE}, in the cluster"
"${ROOT}/scripts/rollout-job.sh" rollback
