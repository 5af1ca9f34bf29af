#!/usr/bin/env bash
# End-to-end check of a deployed cluster (after make deploy):
#   1. the InferenceService is Ready; requests through the ingress Gateway are scored
#   2. the registry's production (read in the cluster) is what the InferenceService serves
#   3. a canary, enabled explicitly (the rollout Job): the HTTPRoute backend weights are
#      stable 80 / canary 20, and the split observed over E2E_SPLIT_REQUESTS requests through
#      the Gateway (each answer names its model version) is within E2E_SPLIT_TOLERANCE points
#   4. the canary rolled back: one backend again, every answer from production (100/0)
#   5. a promotion (canary, analysis, verdict in the cluster): the registry's production pointer
#      and the InferenceService both name the promoted version
#   6. the monitor CronJob runs once and reaches a verdict
# It changes production (step 5): run it on a cluster made for it. On failure it collects pods,
# events and logs into artifacts/cluster-logs/.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

GATEWAY_URL="${GATEWAY_URL:-http://127.0.0.1:8080}"
REQUESTS="${E2E_REQUESTS:-50}"
CANARY_PERCENT=20
# At 20 % and 400 requests the share's standard deviation is 2 points: 6 is about three.
SPLIT_REQUESTS="${E2E_SPLIT_REQUESTS:-400}"
SPLIT_TOLERANCE="${E2E_SPLIT_TOLERANCE:-6}"
# The whole rollout settings for every rollout Job below: a 20 % canary, and a readiness deadline
# that covers the predictor's startup probe (36 x 5 s) plus scheduling and the model mount.
export ROLLOUT_SETTINGS="${ROLLOUT_SETTINGS:-{\"canary_percent\": ${CANARY_PERCENT}, \"ready_timeout_s\": 300\}}"
ROLLOUT_JOB="${ROOT}/scripts/rollout-job.sh"
# Each rollout Job's deadline, in seconds (its activeDeadlineSeconds, which counts from the
# Job's creation, pod start included; rollout-job.sh waits a little longer for the verdict):
# reading state; a canary's readiness (ready_timeout_s) plus its start; readiness plus the
# analysis (300 requests split between the predictors, then the labelled probe set scored in
# the Job by both versions' model files).
STATUS_DEADLINE=180
CANARY_DEADLINE=480
PROMOTE_DEADLINE=780
# How long the HTTPRoutes may take to show a change, and the Gateway to apply it.
ROUTE_TIMEOUT="${E2E_ROUTE_TIMEOUT:-120}"
ROUTE_SETTLE_SECONDS="${E2E_ROUTE_SETTLE:-5}"
# Each request through the Gateway may take REQUEST_TIMEOUT s (FIRST_REQUEST_TIMEOUT for the
# first of a batch, which may open the Gateway's connection to a predictor that just started),
# and a batch of N requests at most 60 + N s in all: a scored request takes tens of ms, and the
# server answers 503 or 504 itself rather than hold one.
REQUEST_TIMEOUT="${E2E_REQUEST_TIMEOUT:-2}"
FIRST_REQUEST_TIMEOUT="${E2E_FIRST_REQUEST_TIMEOUT:-10}"
# The bounded waits add up to about 68 min at most (the five rollout Jobs 33, the requests 19,
# the monitor Job 10, the InferenceService 5), and the two HTTPRoute waits to 4 more: the
# `make e2e` step of .github/workflows/e2e-kind.yml covers them, so change both together.

on_exit() {
  local rc=$?
  if [ "$rc" -ne 0 ]; then
    "${ROOT}/scripts/cluster-logs.sh" || true
  fi
  report_failed_step "$rc"
  return "$rc"
}
trap on_exit EXIT

step "preflight"
require kubectl "$KUBECTL_VERSION" "https://kubernetes.io/docs/tasks/tools/"
require_cluster
command -v curl >/dev/null 2>&1 || die "curl is not installed"

step "InferenceService ${RELEASE} ready"
# make deploy waited for it already: this is a check, with room for a predictor that restarts.
kubectl wait -n "$APP_NAMESPACE" "inferenceservice/${RELEASE}" --for=condition=Ready --timeout=5m
host="$(kubectl get -n "$APP_NAMESPACE" "inferenceservice/${RELEASE}" -o jsonpath='{.status.url}' | sed 's|^https\{0,1\}://||')"
[ -n "$host" ] || die "the InferenceService reports no URL"

# score N ID_PREFIX: N requests through the Gateway, within 60 + N s in all; prints the model
# version of each answer, one a line. Any failed or late request, or an answer without a
# version, fails the check.
score() {
  local n="$1" prefix="$2" i body response version limit left deadline
  deadline=$((SECONDS + 60 + n))
  for i in $(seq 1 "$n"); do
    left=$((deadline - SECONDS))
    [ "$left" -gt 0 ] || die "${n} requests through the Gateway took over $((60 + n)) s: stopped at ${prefix}-${i}"
    limit="$REQUEST_TIMEOUT"
    [ "$i" -gt 1 ] || limit="$FIRST_REQUEST_TIMEOUT"
    [ "$left" -ge "$limit" ] || limit="$left"
    body="{\"transactions\": [{\"transaction_id\": \"${prefix}-${i}\", \"customer_id\": $((i % 97)), \"amount\": $((10 + i % 500)).5, \"merchant_category\": \"grocery\", \"card_present\": true}]}"
    response="$(curl -fsS --max-time "$limit" -H "Host: ${host}" -H 'Content-Type: application/json' \
      -d "$body" "${GATEWAY_URL}/score")" || die "request ${prefix}-${i} through the Gateway failed"
    version="$(sed -n 's/.*"model_version": *"\([^"]*\)".*/\1/p' <<<"$response")"
    [ -n "$version" ] || die "an answer names no model version: ${response}"
    printf '%s\n' "$version"
  done
}

# field KEY TEXT: the value of the KEY=value line in the rollout Job's log TEXT.
field() { sed -n "s/^$1=//p" <<<"$2" | tail -n 1; }

# isvc JSONPATH: one field of the InferenceService.
isvc() { kubectl get -n "$APP_NAMESPACE" "inferenceservice/${RELEASE}" -o "jsonpath=$1"; }

serving_uri() { isvc '{.spec.predictor.containers[0].env[?(@.name=="STORAGE_URI")].value}'; }

# backends: " service=weight ..." for every rule of every HTTPRoute of the namespace, one rule a
# line (KServe generates a route for the InferenceService's host and one for the predictor's).
backends() {
  kubectl get -n "$APP_NAMESPACE" httproutes \
    -o jsonpath='{range .items[*].spec.rules[*]}{range .backendRefs[*]} {.name}={.weight}{end}{"\n"}{end}'
}

# wait_backends REGEX: within ROUTE_TIMEOUT s, every rule's backends (" service=weight ...", in
# the order KServe writes them: stable first) match REGEX, and there is at least one rule.
wait_backends() {
  local want="$1" deadline=$((SECONDS + ROUTE_TIMEOUT)) found line ok
  while true; do
    found="$(backends)"
    ok=0
    if [ -n "$found" ]; then
      ok=1
      while IFS= read -r line; do
        [[ "$line" =~ $want ]] || ok=0
      done <<<"$found"
    fi
    if [ "$ok" -eq 1 ]; then
      log "HTTPRoute backends:"$'\n'"${found}"
      # The Gateway applies a route a moment after the API server stores it.
      sleep "$ROUTE_SETTLE_SECONDS"
      return 0
    fi
    [ "$SECONDS" -lt "$deadline" ] || die "HTTPRoute backends do not match ${want} within ${ROUTE_TIMEOUT} s:"$'\n'"${found}"
    sleep 5
  done
}

step "${REQUESTS} requests through the gateway (${GATEWAY_URL}, Host: ${host})"
score "$REQUESTS" e2e >/dev/null

step "registry production is what the InferenceService serves"
state="$(ROLLOUT_JOB_DEADLINE="$STATUS_DEADLINE" "$ROLLOUT_JOB" status)"
printf '%s\n' "$state"
production="$(field production "$state")"
candidate="$(field candidate "$state")"
[ "$(field agree "$state")" = yes ] || die "the registry's production and the InferenceService disagree"
[[ "$(serving_uri)" == */"${production}" ]] || die "the InferenceService serves $(serving_uri), not ${production}"
case "$candidate" in
  "" | none) die "the registry holds no version besides production ${production}: make deploy trains one" ;;
esac
[ -z "$(isvc '{.spec.canary}')" ] || die "a canary is running already: make rollback first"
stable_svc="${RELEASE}-$(isvc '{.spec.predictor.name}')-predictor"
canary_svc="${RELEASE}-v-${candidate}-predictor"

step "canary of ${candidate} at ${CANARY_PERCENT} % (rollout Job)"
ROLLOUT_JOB_DEADLINE="$CANARY_DEADLINE" "$ROLLOUT_JOB" canary "$candidate"
[ "$(isvc '{.spec.canary[0].trafficPercent}')" = "$CANARY_PERCENT" ] ||
  die "spec.canary does not carry trafficPercent ${CANARY_PERCENT}"

step "HTTPRoute weights ${stable_svc}=$((100 - CANARY_PERCENT)) ${canary_svc}=${CANARY_PERCENT}"
wait_backends "^ ${stable_svc}=$((100 - CANARY_PERCENT)) ${canary_svc}=${CANARY_PERCENT}\$"

step "observed split over ${SPLIT_REQUESTS} requests through the gateway"
versions="$(score "$SPLIT_REQUESTS" split)"
to_canary="$(grep -cx -- "$candidate" <<<"$versions" || true)"
to_stable="$(grep -cx -- "$production" <<<"$versions" || true)"
[ $((to_canary + to_stable)) -eq "$SPLIT_REQUESTS" ] ||
  die "answers from versions other than ${production} and ${candidate}: $(sort <<<"$versions" | uniq -c | tr '\n' ' ')"
log "canary ${to_canary}, stable ${to_stable} of ${SPLIT_REQUESTS}"
# |100 * to_canary / n - percent| <= tolerance, in integers.
low=$(((CANARY_PERCENT - SPLIT_TOLERANCE) * SPLIT_REQUESTS))
high=$(((CANARY_PERCENT + SPLIT_TOLERANCE) * SPLIT_REQUESTS))
if [ $((100 * to_canary)) -lt "$low" ] || [ $((100 * to_canary)) -gt "$high" ]; then
  die "the canary got ${to_canary} of ${SPLIT_REQUESTS} requests: not ${CANARY_PERCENT} % within ${SPLIT_TOLERANCE} points"
fi

step "roll the canary back (rollout Job): 100/0"
ROLLOUT_JOB_DEADLINE="$STATUS_DEADLINE" "$ROLLOUT_JOB" rollback
[ -z "$(isvc '{.spec.canary}')" ] || die "spec.canary is still set after the rollback"
# One backend again: without a canary KServe writes it unweighted (the API server stores
# Gateway API's default weight, 1): all traffic to it.
wait_backends "^ ${stable_svc}=(|1|100)\$"
versions="$(score 100 rolled-back)"
[ "$(sort -u <<<"$versions")" = "$production" ] ||
  die "after the rollback not every answer came from ${production}: $(sort <<<"$versions" | uniq -c | tr '\n' ' ')"

step "promote ${candidate} (canary, analysis, verdict in the rollout Job)"
code=0
ROLLOUT_JOB_DEADLINE="$PROMOTE_DEADLINE" "$ROLLOUT_JOB" promote "$candidate" || code=$?
[ "$code" -ne 3 ] || die "the canary of ${candidate} was rolled back: the evidence is above"
[ "$code" -eq 0 ] || die "the promotion failed (exit ${code}): the log is above"
state="$(ROLLOUT_JOB_DEADLINE="$STATUS_DEADLINE" "$ROLLOUT_JOB" status)"
printf '%s\n' "$state"
[ "$(field production "$state")" = "$candidate" ] || die "the registry's production is not ${candidate}"
[ "$(isvc '{.spec.predictor.name}')" = "v-${candidate}" ] || die "the stable predictor is not v-${candidate}"
[[ "$(serving_uri)" == */"${candidate}" ]] || die "the InferenceService serves $(serving_uri), not ${candidate}"
[ "$(field agree "$state")" = yes ] || die "the registry's production and the InferenceService disagree"

step "monitor CronJob, once"
job="monitor-e2e-$(date +%s)"
kubectl create job -n "$APP_NAMESPACE" "$job" --from="cronjob/${RELEASE}-monitor"
# A verdict other than ok fails the Job on purpose (non-zero exit): read the exit code either way.
# One monitor run takes a few minutes at most on the lite profile.
wait_job "$APP_NAMESPACE" "$job" 600 || true
code="$(kubectl get pods -n "$APP_NAMESPACE" -l "job-name=${job}" \
  -o jsonpath='{.items[0].status.containerStatuses[0].state.terminated.exitCode}')"
kubectl logs -n "$APP_NAMESPACE" "job/${job}" --tail=20 >&2 || true
# 0 ok, 10 drift, 11 quality loss, 12 too little traffic: each is a verdict; 2 is an error.
case "$code" in
  0 | 10 | 11 | 12) log "monitor verdict exit code ${code}" ;;
  *) die "the monitor ended with exit code ${code:-unknown}" ;;
esac

step "done"
