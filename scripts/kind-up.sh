#!/usr/bin/env bash
# Create the kind cluster and install the platform in order, each step waited for:
#   cert-manager → Gateway API CRDs → Envoy Gateway → KServe ingress Gateway → KServe (Standard
#   mode) → KFP standalone → the application namespace (Redis, PostgreSQL, workspace, secrets).
# Idempotent: re-running skips the cluster creation and upgrades every release in place.
# Versions: k8s/versions.env. Resource needs and troubleshooting: docs/kind.md.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

MIN_CPUS="${KIND_MIN_CPUS:-6}"
MIN_MEMORY_GB="${KIND_MIN_MEMORY_GB:-12}"
# The bound of each Helm release with workloads (cert-manager, Envoy Gateway, KServe): each
# installs in 1-3 min on a 4-vCPU runner. The waits add up to about 66 min at most, which
# .github/workflows/e2e-kind.yml's `make kind-up` step covers: change both together.
WAIT="${KIND_WAIT_TIMEOUT:-8m}"

# True for a whole number (what docker info and the KIND_MIN_* settings must be).
is_count() { [[ "$1" =~ ^[0-9]+$ ]]; }
# Bytes as decimal GB with one decimal, for messages.
decimal_gb() {
  local tenths=$((($1 + 50000000) / 100000000))
  printf '%d.%d' $((tenths / 10)) $((tenths % 10))
}

# crds_of_group GROUP: of the CustomResourceDefinitions on stdin, print those of API group
# GROUP, with the project's Python and its PyYAML (kubectl cannot select by spec.group).
# Anything that is not a CRD with a spec.group stops the install: the input is not what the
# filter was written for.
read -r -d '' CRD_FILTER <<'PY' || true
import sys
from collections import Counter

import yaml

group = sys.argv[1]
kept, dropped = [], Counter()
for doc in yaml.safe_load_all(sys.stdin):
    if not doc:
        continue
    kind = doc.get("kind") if isinstance(doc, dict) else type(doc).__name__
    found = (doc.get("spec") or {}).get("group") if isinstance(doc, dict) else None
    if kind != "CustomResourceDefinition" or not found:
        sys.exit(f"not a CustomResourceDefinition with a spec.group: a {kind} document")
    if found == group:
        kept.append(doc)
    else:
        dropped[found] += 1
if not kept:
    sys.exit(f"no CustomResourceDefinition of group {group} in the input")
others = ", ".join(f"{n} of {g}" for g, n in sorted(dropped.items())) or "none"
print(f"{len(kept)} CRDs of {group} kept; dropped: {others}", file=sys.stderr)
yaml.safe_dump_all(kept, sys.stdout, sort_keys=False)
PY
# The project's own interpreter (make kind-up creates it); KIND_UP_PYTHON points elsewhere.
PYTHON="${KIND_UP_PYTHON:-${ROOT}/.venv/bin/python}"
crds_of_group() { "$PYTHON" -c "$CRD_FILTER" "$1" || die "cannot select the ${1} CRDs"; }

step "preflight: tools"
require_cluster_tools
[ -x "$PYTHON" ] ||
  die "${PYTHON} is missing: run make kind-up (it creates the project's virtual environment first)"

step "preflight: Docker resources"
read -r cpus memory_bytes < <(docker info --format '{{.NCPU}} {{.MemTotal}}') || true
{ is_count "$cpus" && is_count "$memory_bytes"; } ||
  die "cannot read Docker's CPUs and memory from docker info (got '${cpus} ${memory_bytes}')"
is_count "$MIN_CPUS" || die "KIND_MIN_CPUS must be a whole number (got '${MIN_CPUS}')"
is_count "$MIN_MEMORY_GB" || die "KIND_MIN_MEMORY_GB must be a whole number of GB (got '${MIN_MEMORY_GB}')"
[ "$cpus" -ge "$MIN_CPUS" ] ||
  die "Docker has ${cpus} CPUs; the lite profile needs ${MIN_CPUS} (8 recommended). Raise Docker's CPU limit or set KIND_MIN_CPUS."
# Compared in bytes: a VM set to N GB (or GiB) reports a little less as MemTotal, since its
# kernel keeps some, so flooring to whole GiB refused a VM set to exactly the minimum. The 5 %
# allowance covers that reserve, not a smaller VM.
min_memory_bytes=$((MIN_MEMORY_GB * 1000000000 * 95 / 100))
[ "$memory_bytes" -ge "$min_memory_bytes" ] ||
  die "Docker has $(decimal_gb "$memory_bytes") GB of memory (${memory_bytes} bytes); the lite profile needs ${MIN_MEMORY_GB} GB, i.e. at least ${min_memory_bytes} bytes reported (16 GB recommended). Raise Docker's memory limit or set KIND_MIN_MEMORY_GB."
log "Docker has ${cpus} CPUs and $(decimal_gb "$memory_bytes") GB of memory"

step "preflight: inotify limits"
# KFP's and KServe's controllers watch many files: kind's default host limits make pods fail
# with "too many open files" (https://kind.sigs.k8s.io/docs/user/known-issues/).
# KIND_INOTIFY_DIR: where the limits are read (a test points it at files of its own).
inotify="${KIND_INOTIFY_DIR:-/proc/sys/fs/inotify}"
if [ -r "${inotify}/max_user_watches" ]; then
  watches="$(cat "${inotify}/max_user_watches")"
  instances="$(cat "${inotify}/max_user_instances")"
  if [ "$watches" -lt 524288 ] || [ "$instances" -lt 512 ]; then
    die "inotify limits too low (max_user_watches=${watches}, max_user_instances=${instances}); run:
  sudo sysctl fs.inotify.max_user_watches=524288 fs.inotify.max_user_instances=512"
  fi
fi

step "kind cluster ${CLUSTER_NAME}"
if kind get clusters | grep -qx "$CLUSTER_NAME"; then
  log "cluster ${CLUSTER_NAME} exists"
else
  kind create cluster --name "$CLUSTER_NAME" --image "$KIND_NODE_IMAGE" \
    --config "${ROOT}/k8s/kind/cluster.yaml" --wait 5m
fi
require_cluster

step "shared workspace directory on the node"
# The workspace PersistentVolumes are this hostPath (k8s/platform/overlays/kind/volumes.yaml);
# fsGroup does not re-own hostPath volumes, so give it to the images' user here.
docker exec "${CLUSTER_NAME}-control-plane" sh -c \
  "mkdir -p /var/local/fraud-workspace && chown ${APP_UID}:${APP_UID} /var/local/fraud-workspace"

step "cert-manager ${CERT_MANAGER_VERSION}"
helm upgrade --install cert-manager cert-manager --repo https://charts.jetstack.io \
  --version "$CERT_MANAGER_VERSION" --namespace cert-manager --create-namespace \
  --set crds.enabled=true --wait --timeout "$WAIT"

step "Gateway API ${GATEWAY_API_VERSION} CRDs"
kubectl apply --server-side -f \
  "https://github.com/kubernetes-sigs/gateway-api/releases/download/${GATEWAY_API_VERSION}/standard-install.yaml"
kubectl wait --for=condition=Established --timeout=60s \
  crd/gateways.gateway.networking.k8s.io crd/httproutes.gateway.networking.k8s.io

step "Envoy Gateway ${ENVOY_GATEWAY_VERSION}"
# The chart's crds/ also bundle the experimental-channel Gateway API CRDs, which the standard
# install's safe-upgrades ValidatingAdmissionPolicy refuses over the standard ones above: apply
# only Envoy's own group (as KServe's install script does). --force-conflicts takes their fields
# over where an earlier install let the chart own them.
helm show crds oci://docker.io/envoyproxy/gateway-helm --version "$ENVOY_GATEWAY_VERSION" |
  crds_of_group gateway.envoyproxy.io |
  kubectl apply --server-side --force-conflicts -f -
kubectl wait --for=condition=Established --timeout=60s crd/envoyproxies.gateway.envoyproxy.io
# --skip-crds: no CRDs from the chart (Envoy's are applied above). The safe-upgrades policy
# belongs to Gateway API's install above; without the --set the chart renders its own copy.
helm upgrade --install eg oci://docker.io/envoyproxy/gateway-helm \
  --version "$ENVOY_GATEWAY_VERSION" --namespace envoy-gateway-system --create-namespace \
  --skip-crds --set crds.gatewayAPI.safeUpgradePolicy.enabled=false \
  --wait --timeout "$WAIT"

step "KServe ingress Gateway"
kubectl create namespace kserve --dry-run=client -o yaml | kubectl apply -f -
# The Envoy Gateway webhook may still be starting: bounded retries.
retry 10 6 kubectl apply -k "${ROOT}/k8s/platform/gateway"
kubectl wait --for=condition=Programmed --timeout=300s -n kserve gateway/kserve-ingress-gateway

step "KServe ${KSERVE_VERSION} (Standard mode, Gateway API)"
# CRDs only: nothing to pull or start.
helm upgrade --install kserve-crd oci://ghcr.io/kserve/charts/kserve-crd \
  --version "$KSERVE_VERSION" --namespace kserve --wait --timeout 2m
helm upgrade --install kserve-resources oci://ghcr.io/kserve/charts/kserve-resources \
  --version "$KSERVE_VERSION" --namespace kserve \
  --set kserve.controller.deploymentMode=Standard \
  --set kserve.controller.gateway.ingressGateway.enableGatewayApi=true \
  --set kserve.controller.gateway.ingressGateway.className=envoy \
  --wait --timeout "$WAIT"
# Helm waited for its Deployments already: this catches anything else in the namespace.
wait_rollouts kserve 2m

step "KFP ${KFP_VERSION} standalone"
kfp_manifests="github.com/kubeflow/pipelines/manifests/kustomize"
retry 3 10 kubectl apply -k "${kfp_manifests}/cluster-scoped-resources?ref=${KFP_VERSION}"
kubectl wait --for=condition=Established --timeout=60s crd/applications.app.k8s.io
# platform-agnostic, not env/dev: the latter points several images at unreleased tags.
retry 3 10 kubectl apply -k "${kfp_manifests}/env/platform-agnostic?ref=${KFP_VERSION}"
# Its eight Deployments pull their images and start in parallel: one bound for all of them.
wait_rollouts "$KFP_NAMESPACE" 15m

step "application namespace: Redis, PostgreSQL, workspace"
KUBECTL=kubectl "${ROOT}/scripts/platform-manifests.sh" kind | kubectl apply -f -

step "credentials (generated once, kept on re-runs)"
# Random passwords, created only when absent so that a re-run never orphans the stored data.
# They exist only in the cluster: nothing is written to the repository or the disk.
random_secret() { od -An -N24 -tx1 /dev/urandom | tr -d ' \n'; }
if ! kubectl get secret -n "$APP_NAMESPACE" platform-credentials >/dev/null 2>&1; then
  redis_password="$(random_secret)"
  postgres_password="$(random_secret)"
  kubectl create secret generic platform-credentials -n "$APP_NAMESPACE" \
    --from-literal=redis-password="$redis_password" \
    --from-literal=postgres-password="$postgres_password" \
    --from-literal=redis.conf="requirepass ${redis_password}"
  kubectl create secret generic feast-connection -n "$APP_NAMESPACE" \
    --from-literal=redis-connection="redis:6379,password=${redis_password}" \
    --from-literal=registry-url="postgresql+psycopg://feast:${postgres_password}@postgres:5432/feast"
fi
wait_rollouts "$APP_NAMESPACE" 5m

step "done"
log "platform ready. KFP UI: kubectl port-forward -n kubeflow svc/ml-pipeline-ui 8081:80, then http://localhost:8081 (see docs/kind.md)"
