#!/usr/bin/env bash
# Run the rollout code inside the cluster, as the chart's rollout Job, and wait for its verdict:
#   scripts/rollout-job.sh ACTION [VERSION]     ACTION: status | canary | promote | rollback
# The Job (charts/<chart>/templates/rollout-job.yaml) runs where the predictor Services
# resolve and the registry lives (the workspace volume): nothing here reads a local registry.
# It is rendered with the installed release's own values (helm get values), created, waited for;
# its log goes to stdout (key=value lines, then the evidence) and its exit code is this script's:
# 0 done (promoted), 3 the canary was rolled back, 2 refused (the log says why).
#   ROLLOUT_SETTINGS      the rollout settings as one JSON object, e.g. '{"canary_percent": 20}'
#                         (RolloutSettings keys, src/fraud_detection/config.py; the Job checks them)
#   ROLLOUT_JOB_DEADLINE  seconds the Job may run (default 1800); keep it above
#                         ready_timeout_s plus the analysis for canary and promote
# Used by promote.sh, rollback.sh and e2e.sh.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

action="${1:-}"
version="${2:-}"
settings="${ROLLOUT_SETTINGS:-}"
[ -n "$settings" ] || settings='{}'
# The Job's deadline (its activeDeadlineSeconds: at the deadline it removes a canary it is
# analysing and stops). It counts from the Job's creation, so it covers scheduling the pod and
# starting the image too: past it the Job controller marks the Job failed within seconds, and
# the wait adds only that margin.
JOB_DEADLINE="${ROLLOUT_JOB_DEADLINE:-1800}"
JOB_TIMEOUT=$((JOB_DEADLINE + 30))

case "$action" in
  status | rollback) [ -z "$version" ] || die "${action} takes no version" ;;
  canary | promote)
    [[ "$version" =~ ^[0-9a-f]{12}$ ]] || die "${action} needs a registry version (12 hex digits), got '${version}'"
    ;;
  *) die "usage: scripts/rollout-job.sh {status|canary VERSION|promote VERSION|rollback}" ;;
esac

step "preflight (rollout Job: ${action} ${version})"
require kubectl "$KUBECTL_VERSION" "https://kubernetes.io/docs/tasks/tools/"
require helm "$HELM_VERSION" "https://helm.sh/docs/intro/install/"
kubectl get -n "$APP_NAMESPACE" "inferenceservice/${RELEASE}" >/dev/null ||
  die "no InferenceService ${RELEASE} in ${APP_NAMESPACE} on the current kubectl context: run make deploy"

work="$(mktemp -d)"
trap 'rc=$?; rm -rf "$work"; report_failed_step "$rc"' EXIT
helm get values "$RELEASE" --namespace "$APP_NAMESPACE" --output yaml >"${work}/values.yaml" ||
  die "no Helm release ${RELEASE} in ${APP_NAMESPACE}: run make deploy"

step "render and create the rollout Job"
# Lower case: the run id ends up in the Job's name (a DNS label).
run_id="$(date -u +%Y%m%dt%H%M%S)"
helm template "$RELEASE" "${ROOT}/charts/${CHART_NAME}" --namespace "$APP_NAMESPACE" \
  --values "${work}/values.yaml" \
  --set rolloutJob.enabled=true --set "rolloutJob.action=${action}" \
  --set-string "rolloutJob.version=${version}" --set "rolloutJob.runId=${run_id}" \
  --set "rolloutJob.activeDeadlineSeconds=${JOB_DEADLINE}" \
  --set-json "rolloutJob.settings=${settings}" \
  --show-only templates/rollout-job.yaml >"${work}/job.yaml"
job="$(kubectl create -f "${work}/job.yaml" -o name)"
job="${job#*/}"
log "created Job ${job}; waiting up to ${JOB_TIMEOUT} s for its verdict"

step "rollout Job ${job}"
# A non-zero exit (a rolled-back canary, a refusal) fails the Job on purpose: read the code.
wait_job "$APP_NAMESPACE" "$job" "$JOB_TIMEOUT" || true
kubectl logs -n "$APP_NAMESPACE" "job/${job}" || log "no log from Job ${job}"
code="$(kubectl get pods -n "$APP_NAMESPACE" -l "job-name=${job}" \
  -o jsonpath='{.items[0].status.containerStatuses[0].state.terminated.exitCode}')"
[ -n "$code" ] || die "Job ${job} ended without an exit code: kubectl describe job -n ${APP_NAMESPACE} ${job}"
log "Job ${job} exited ${code}"
exit "$code"
