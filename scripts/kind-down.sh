#!/usr/bin/env bash
# Delete the kind cluster and everything in it (the workspace lives inside the node).
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

step "delete kind cluster ${CLUSTER_NAME}"
command -v kind >/dev/null 2>&1 || die "kind is not installed"
if kind get clusters | grep -qx "$CLUSTER_NAME"; then
  kind delete cluster --name "$CLUSTER_NAME"
else
  log "no cluster ${CLUSTER_NAME}: nothing to do"
fi
