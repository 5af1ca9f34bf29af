#!/usr/bin/env bash
# Re-resolve the dependencies of pyproject.toml in a clean environment and pin every
# installed distribution in requirements.lock (used as a pip constraints file).
set -euo pipefail
cd "$(dirname "$0")/.."
python="${PYTHON:-python3.11}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
"$python" -m venv "$tmp/venv"
"$tmp/venv/bin/python" -m pip install --quiet --upgrade pip
"$tmp/venv/bin/python" -m pip install --quiet -e ".[dev]"
{
  echo "# Pinned versions of every dependency, resolved from pyproject.toml by scripts/lock.sh."
  echo "# Regenerate with \`make lock\`; installs use it as a constraints file."
  "$tmp/venv/bin/python" -m pip freeze --exclude-editable | grep -v '^pip==' | LC_ALL=C sort -f
} > requirements.lock
echo "wrote requirements.lock ($(grep -vc '^#' requirements.lock) pins)"
