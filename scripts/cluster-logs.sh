#!/usr/bin/env bash
# Collect what explains a failed deploy or e2e run into artifacts/cluster-logs/: pods and events
# of every namespace, descriptions of pods that are not running, and the logs of every container
# in the application, KServe and KFP namespaces. Never fails the caller.
set -uo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

out="${ROOT}/artifacts/cluster-logs"
mkdir -p "$out"
step "collecting into ${out}"
kubectl get pods -A -o wide >"${out}/pods.txt" 2>&1
kubectl get events -A --sort-by=.lastTimestamp >"${out}/events.txt" 2>&1
kubectl get inferenceservices,httproutes,cronjobs,jobs -n "$APP_NAMESPACE" -o yaml >"${out}/app-objects.yaml" 2>&1
for namespace in "$APP_NAMESPACE" kserve "$KFP_NAMESPACE" envoy-gateway-system; do
  kubectl get pods -n "$namespace" --field-selector=status.phase!=Running,status.phase!=Succeeded \
    -o name 2>/dev/null | while read -r pod; do
    kubectl describe -n "$namespace" "$pod" >"${out}/${namespace}-${pod#pod/}.describe.txt" 2>&1
  done
  kubectl get pods -n "$namespace" -o name 2>/dev/null | while read -r pod; do
    kubectl logs -n "$namespace" "$pod" --all-containers --prefix --tail=500 \
      >"${out}/${namespace}-${pod#pod/}.log" 2>&1
  done
done
log "wrote $(find "$out" -type f | wc -l) files"
