# Shared by the cluster scripts (kind-up, kind-down, images, deploy, e2e, cluster-logs, promote):
# the version matrix, logging, preflight checks of the tools, bounded waits and retries.
# Sourced, not run.
# shellcheck shell=bash

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=k8s/versions.env
source "${ROOT}/k8s/versions.env"

# The project's names (project.env: PROJECT_SLUG, MODEL_NAME, APP_NAMESPACE, SERVING_IMAGE, ...).
# Each is a default: one set in the environment wins (APP_NAMESPACE=x make deploy).
while IFS='=' read -r key value || [ -n "$key" ]; do
  case "$key" in '' | '#'*) continue ;; esac
  [ -n "${!key+set}" ] || printf -v "$key" '%s' "$value"
done <"${ROOT}/project.env"
unset key value
# The names the scripts use, each required. RELEASE is the Helm release: the chart names the
# InferenceService after it (fraud-detection.fullname).
# shellcheck disable=SC2034
{
  PROJECT_SLUG="${PROJECT_SLUG:?is not set: project.env names the project}"
  MODEL_NAME="${MODEL_NAME:?is not set: project.env names the model}"
  APP_NAMESPACE="${APP_NAMESPACE:?is not set: project.env names the namespace}"
  IMAGE_REGISTRY="${IMAGE_REGISTRY:-}"
  SERVING_IMAGE="${SERVING_IMAGE:?is not set: project.env names the serving image}"
  PIPELINE_IMAGE="${PIPELINE_IMAGE:?is not set: project.env names the pipeline image}"
  CHART_NAME="${CHART_NAME:?is not set: project.env names the chart}"
  CLUSTER_NAME="${CLUSTER_NAME:?is not set: project.env names the kind cluster}"
  RELEASE="${RELEASE:-${RELEASE_NAME:?is not set: project.env names the Helm release}}"
  KFP_NAMESPACE="kubeflow"
}
# The UID/GID that owns the files of the project's images and the shared workspace.
# shellcheck disable=SC2034
APP_UID=1034

SCRIPT_NAME="$(basename "$0" .sh)"
STEP="start"

log() { printf '%s [%s] %s\n' "$(date -u +%H:%M:%S)" "$SCRIPT_NAME" "$*" >&2; }
die() {
  printf '%s [%s] error: %s\n' "$(date -u +%H:%M:%S)" "$SCRIPT_NAME" "$*" >&2
  exit 1
}

# Name the step running now: a failure anywhere after this reports it.
step() {
  STEP="$*"
  log "== ${STEP}"
}
# report_failed_step [RC]: the EXIT trap. A script with a trap of its own passes the status it
# saved first, since its cleanup commands reset $?.
report_failed_step() {
  local rc="${1:-$?}"
  [ "$rc" -eq 0 ] || printf '%s [%s] failed during step: %s (exit %s)\n' \
    "$(date -u +%H:%M:%S)" "$SCRIPT_NAME" "$STEP" "$rc" >&2
}
trap report_failed_step EXIT

# image_repository NAME: the image's repository, under IMAGE_REGISTRY when that is set.
image_repository() { printf '%s%s' "${IMAGE_REGISTRY:+${IMAGE_REGISTRY%/}/}" "$1"; }

# version_at_least HAVE WANT: true when HAVE >= WANT (dotted numbers, a leading v ignored).
version_at_least() {
  local have="${1#v}" want="${2#v}"
  [ "$(printf '%s\n%s\n' "$want" "$have" | sort -V | head -n 1)" = "$want" ]
}

# require TOOL MIN_VERSION HOW_TO_GET: the tool is on PATH and at least that version.
require() {
  local tool="$1" min="$2" hint="$3" found
  command -v "$tool" >/dev/null 2>&1 || die "${tool} is not installed: ${hint}"
  case "$tool" in
    kind) found="$(kind version | sed -n 's/^kind \(v[0-9.]*\).*/\1/p')" ;;
    kubectl) found="$(kubectl version --client -o json | sed -n 's/.*"gitVersion": *"\(v[^"]*\)".*/\1/p' | head -n 1)" ;;
    helm) found="$(helm version --template '{{.Version}}')" ;;
    docker) found="$(docker version --format '{{.Client.Version}}' 2>/dev/null || true)" ;;
    *) found="" ;;
  esac
  [ -n "$found" ] || die "cannot tell which version of ${tool} is installed"
  version_at_least "$found" "$min" || die "${tool} ${found} is too old: need ${min} or later (${hint})"
}

require_docker() {
  require docker "$DOCKER_MIN_VERSION" "install Docker Engine or Docker Desktop"
  docker info >/dev/null 2>&1 || die "the Docker daemon is not running (docker info failed)"
}

require_cluster_tools() {
  require_docker
  require kind "$KIND_VERSION" "https://kind.sigs.k8s.io/docs/user/quick-start/#installation"
  require kubectl "$KUBECTL_VERSION" "https://kubernetes.io/docs/tasks/tools/"
  require helm "$HELM_VERSION" "https://helm.sh/docs/intro/install/"
}

# The kubectl context of the kind cluster must exist: every cluster script but kind-up needs it.
require_cluster() {
  kubectl config get-contexts -o name | grep -qx "kind-${CLUSTER_NAME}" ||
    die "no kind cluster ${CLUSTER_NAME}: run make kind-up first"
  kubectl config use-context "kind-${CLUSTER_NAME}" >/dev/null
}

# retry ATTEMPTS DELAY_SECONDS COMMAND...: bounded retries for calls that fail while a freshly
# installed controller or webhook is still starting.
retry() {
  local attempts="$1" delay="$2" n=1
  shift 2
  until "$@"; do
    [ "$n" -lt "$attempts" ] || die "gave up after ${attempts} attempts: $*"
    log "attempt ${n}/${attempts} failed; retrying in ${delay}s: $*"
    sleep "$delay"
    n=$((n + 1))
  done
}

# wait_rollouts NAMESPACE TIMEOUT: every Deployment and StatefulSet there becomes available.
# The Deployments are waited for together, under one bound (they start in parallel, so waiting
# for each in turn with its own TIMEOUT would allow their sum); each StatefulSet has its own.
wait_rollouts() {
  local namespace="$1" timeout="$2" kind_name
  if [ -n "$(kubectl get deployments -n "$namespace" -o name)" ]; then
    kubectl wait -n "$namespace" deployment --all --for=condition=Available --timeout="$timeout" ||
      die "the Deployments in ${namespace} are not available within ${timeout} (step: ${STEP})"
  fi
  for kind_name in $(kubectl get statefulsets -n "$namespace" -o name); do
    kubectl rollout status -n "$namespace" "$kind_name" --timeout="$timeout" ||
      die "${kind_name} in ${namespace} not ready within ${timeout} (step: ${STEP})"
  done
}

# wait_job NAMESPACE JOB TIMEOUT_SECONDS: returns 0 when the Job completes, 1 as soon as it
# fails; dies at the timeout.
wait_job() {
  local namespace="$1" job="$2" deadline=$((SECONDS + $3))
  until kubectl wait -n "$namespace" "job/${job}" --for=condition=Complete --timeout=10s >/dev/null 2>&1; do
    if kubectl wait -n "$namespace" "job/${job}" --for=condition=Failed --timeout=1s >/dev/null 2>&1; then
      return 1
    fi
    [ "$SECONDS" -lt "$deadline" ] || die "Job ${job} did not finish within $3 s (step: ${STEP})"
  done
}
