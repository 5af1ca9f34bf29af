#!/usr/bin/env bash
# End-to-end check of a deployed cluster (after make deploy):
#   1. the InferenceService is Ready; requests through the ingress Gateway are scored
#   2. the traffic split in its status matches its spec (stable, and canary when one runs)
#   3. the monitor CronJob runs once and reaches a verdict
# On failure it collects pods, events and logs into artifacts/cluster-logs/.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

GATEWAY_URL="${GATEWAY_URL:-http://127.0.0.1:8080}"
REQUESTS="${E2E_REQUESTS:-50}"

on_exit() {
  local rc=$?
  if [ "$rc" -ne 0 ]; then
    "${ROOT}/scripts/cluster-logs.sh" || true
  fi
  report_failed_step
  return "$rc"
}
trap on_exit EXIT

step "preflight"
require kubectl "$KUBECTL_VERSION" "https://kubernetes.io/docs/tasks/tools/"
require_cluster
command -v curl >/dev/null 2>&1 || die "curl is not installed"

step "InferenceService ${RELEASE} ready"
kubectl wait -n "$APP_NAMESPACE" "inferenceservice/${RELEASE}" --for=condition=Ready --timeout=10m
host="$(kubectl get -n "$APP_NAMESPACE" "inferenceservice/${RELEASE}" -o jsonpath='{.status.url}' | sed 's|^https\{0,1\}://||')"
[ -n "$host" ] || die "the InferenceService reports no URL"

step "${REQUESTS} requests through the gateway (${GATEWAY_URL}, Host: ${host})"
failures=0
for i in $(seq 1 "$REQUESTS"); do
  body="{\"transactions\": [{\"transaction_id\": \"e2e-${i}\", \"customer_id\": $((i % 97)), \"amount\": $((10 + i)).5, \"merchant_category\": \"grocery\", \"card_present\": true}]}"
  if ! response="$(curl -fsS --max-time 10 -H "Host: ${host}" -H 'Content-Type: application/json' \
    -d "$body" "${GATEWAY_URL}/score")"; then
    failures=$((failures + 1))
    continue
  fi
  case "$response" in
    *fraud_probability*) ;;
    *) die "unexpected response: ${response}" ;;
  esac
done
[ "$failures" -eq 0 ] || die "${failures} of ${REQUESTS} requests failed"

step "traffic split"
spec_canary="$(kubectl get -n "$APP_NAMESPACE" "inferenceservice/${RELEASE}" -o jsonpath='{.spec.canary[0].trafficPercent}')"
status="$(kubectl get -n "$APP_NAMESPACE" "inferenceservice/${RELEASE}" -o jsonpath='{.status.canaryStatuses}')"
log "spec canary trafficPercent: ${spec_canary:-none}; status canaryStatuses: ${status:-none}"
if [ -n "$spec_canary" ]; then
  # The HTTPRoutes KServe generated (the namespace holds only this service's) carry the weights
  # the Gateway applies.
  weights="$(kubectl get -n "$APP_NAMESPACE" httproutes \
    -o jsonpath='{.items[*].spec.rules[*].backendRefs[*].weight}')"
  log "HTTPRoute weights: ${weights}"
  case " ${weights} " in
    *" ${spec_canary} "*) ;;
    *) die "no HTTPRoute backend carries the canary weight ${spec_canary} (weights: ${weights})" ;;
  esac
fi

step "monitor CronJob, once"
job="monitor-e2e-$(date +%s)"
kubectl create job -n "$APP_NAMESPACE" "$job" --from="cronjob/${RELEASE}-monitor"
# A verdict other than ok fails the Job on purpose (non-zero exit): read the exit code either way.
wait_job "$APP_NAMESPACE" "$job" 900 || true
code="$(kubectl get pods -n "$APP_NAMESPACE" -l "job-name=${job}" \
  -o jsonpath='{.items[0].status.containerStatuses[0].state.terminated.exitCode}')"
kubectl logs -n "$APP_NAMESPACE" "job/${job}" --tail=20 >&2 || true
# 0 ok, 10 drift, 11 quality loss, 12 too little traffic: each is a verdict; 2 is an error.
case "$code" in
  0 | 10 | 11 | 12) log "monitor verdict exit code ${code}" ;;
  *) die "the monitor ended with exit code ${code:-unknown}" ;;
esac

step "done"
