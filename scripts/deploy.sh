#!/usr/bin/env bash
# Deploy onto the kind cluster (after make kind-up and make images):
#   1. workspace-init Job: data, features (Feast apply + materialize into Redis), first model
#   2. the chart: InferenceService serving that model, CronJobs, RBAC, NetworkPolicies
#   3. the compiled KFP pipeline, uploaded and run through the KFP API; its last step canaries
#      the model it trains on the InferenceService and promotes or rolls back on the evidence
#      (a promotion moves the registry's production pointer with the InferenceService)
# The chart always renders what the registry says is production (workspace-init prints it), so
# re-deploying never reverts a promotion. ROLLOUT_SETTINGS (one JSON object of RolloutSettings
# keys) reaches the pipeline's rollout step whole.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

VENV_BIN="${ROOT}/.venv/bin"
MODEL_URI_PREFIX="pvc://fraud-workspace/artifacts/registry/${MODEL_NAME}/versions"
CHART="${ROOT}/charts/${CHART_NAME}"
# The images by project.env's names, as make images built them.
SERVING_REPOSITORY="$(image_repository "$SERVING_IMAGE")"
PIPELINE_REPOSITORY="$(image_repository "$PIPELINE_IMAGE")"
KFP_LOCAL_PORT="${KFP_LOCAL_PORT:-8888}"

step "preflight"
require kubectl "$KUBECTL_VERSION" "https://kubernetes.io/docs/tasks/tools/"
require helm "$HELM_VERSION" "https://helm.sh/docs/intro/install/"
require_cluster
[ -x "${VENV_BIN}/${PROJECT_SLUG}" ] || die "no project environment: run make deploy (it bootstraps one)"

# The bounded waits below add up to about 87 min at most (the pipeline 45, the workspace-init
# Job 20, the InferenceService 10, the chart 5, the rollout status Job 4): the `make deploy`
# step of .github/workflows/e2e-kind.yml covers them, so change both together.
step "workspace-init Job (data, features, first model; up to 20 min)"
# A Job object goes at once (its pods are removed in the background): a minute is plenty.
kubectl delete job -n "$APP_NAMESPACE" workspace-init --ignore-not-found --wait --timeout=60s
# The Job names the pipeline image as make images tagged it, under project.env's registry
# prefix: kustomize renders k8s/jobs from a scratch kustomization beside it (kustomize takes
# only relative paths to other kustomizations).
jobs_render="$(mktemp -d "${ROOT}/k8s/.render.XXXXXX")"
trap 'rc=$?; rm -rf "$jobs_render"; report_failed_step "$rc"' EXIT
cat >"${jobs_render}/kustomization.yaml" <<YAML
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - ../jobs
images:
  - name: ${PIPELINE_IMAGE}
    newName: ${PIPELINE_REPOSITORY}
YAML
kubectl kustomize "$jobs_render" | kubectl apply -f -
rm -rf "$jobs_render"
trap report_failed_step EXIT
# A few minutes on the lite profile (generate, features, Feast apply and materialize, train).
if ! wait_job "$APP_NAMESPACE" workspace-init 1200; then
  kubectl logs -n "$APP_NAMESPACE" job/workspace-init --tail=50 >&2 || true
  die "the workspace-init Job failed (logs above)"
fi
version="$(kubectl logs -n "$APP_NAMESPACE" job/workspace-init | sed -n 's/^production=//p' | tail -n 1)"
[ -n "$version" ] || die "workspace-init printed no production model version"
log "production model ${version}"

step "chart release ${RELEASE}"
helm upgrade --install "$RELEASE" "$CHART" --namespace "$APP_NAMESPACE" \
  --values "${CHART}/values-kind.yaml" \
  --set "image.repository=${SERVING_REPOSITORY}" --set "jobs.image.repository=${PIPELINE_REPOSITORY}" \
  --set "model.storageUri=${MODEL_URI_PREFIX}/${version}" --set "predictor.name=v-${version}" \
  --wait --timeout 5m
kubectl wait -n "$APP_NAMESPACE" "inferenceservice/${RELEASE}" --for=condition=Ready --timeout=10m

step "training pipeline on KFP (port-forward to the API on localhost:${KFP_LOCAL_PORT})"
kubectl port-forward -n "$KFP_NAMESPACE" svc/ml-pipeline "${KFP_LOCAL_PORT}:8888" >/dev/null &
forward=$!
trap 'rc=$?; kill "$forward" 2>/dev/null || true; report_failed_step "$rc"' EXIT
retry 15 2 curl -fsS --max-time 5 -o /dev/null "http://127.0.0.1:${KFP_LOCAL_PORT}/apis/v2beta1/healthz"
# The challenger must differ from the first model, or the content-addressed registry gives it
# the same version and the canary compares production with itself. The seed does not do it:
# with early stopping off and fewer rows than its binning subsample, the classifier draws no
# random numbers, so another seed changes only the pickled parameter, not one tree
# (tests/unit/rollout/test_deploy_challenger.py). Fewer boosting rounds change the trees.
# One key of the training settings section; the rest come from this machine's settings.
CHALLENGER_PARAMS=(--param 'training_settings={"max_iter": 200}')
rollout_params=()
[ -z "${ROLLOUT_SETTINGS:-}" ] || rollout_params=(--param "rollout_settings=${ROLLOUT_SETTINGS}")
(cd "$ROOT" && "${VENV_BIN}/${PROJECT_SLUG}" submit --host "http://127.0.0.1:${KFP_LOCAL_PORT}" \
  --param rollout=kserve --param promote=false "${CHALLENGER_PARAMS[@]}" "${rollout_params[@]}" \
  --param "isvc_name=${RELEASE}" --param "namespace=${APP_NAMESPACE}" \
  --param "model_storage_prefix=${MODEL_URI_PREFIX}" --timeout 2700)
kill "$forward" 2>/dev/null || true

step "registry and InferenceService agree (read in the cluster)"
state="$(ROLLOUT_JOB_DEADLINE=180 "${ROOT}/scripts/rollout-job.sh" status)"
printf '%s\n' "$state"
grep -qx 'agree=yes' <<<"$state" ||
  die "the registry's production and the InferenceService disagree (above): re-run make deploy"

step "done"
log "deployed; make e2e sends traffic through the gateway and runs the monitor once"
