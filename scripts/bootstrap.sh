#!/usr/bin/env bash
# Create .venv with a supported Python and install the project with its pinned dependencies.
# Idempotent: re-running only reinstalls when pyproject.toml or requirements.lock changed
# (the Makefile tracks that with .venv/.installed).
set -euo pipefail
cd "$(dirname "$0")/.."

find_python() {
  for candidate in "${PYTHON:-}" python3.11 python3.12 python3; do
    [ -n "$candidate" ] || continue
    command -v "$candidate" >/dev/null 2>&1 || continue
    if "$candidate" -c 'import sys; sys.exit(0 if (3, 11) <= sys.version_info[:2] <= (3, 12) else 1)'; then
      echo "$candidate"
      return 0
    fi
  done
  return 1
}

if [ ! -x .venv/bin/python ]; then
  if ! python="$(find_python)"; then
    echo "error: Python 3.11 or 3.12 is required (set PYTHON=/path/to/python3.11)." >&2
    exit 1
  fi
  echo "creating .venv with $("$python" --version)"
  "$python" -m venv .venv
fi
echo "installing pinned dependencies into .venv (the first time takes a few minutes)"
.venv/bin/python -m pip install --quiet --upgrade "pip>=24"
.venv/bin/python -m pip install --quiet --constraint requirements.lock --editable ".[dev]" \
  2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)
touch .venv/.installed
