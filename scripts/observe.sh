#!/usr/bin/env bash
# `make observe`: Prometheus, Alertmanager and the Pushgateway (Debian's packages) on loopback
# with the project's config (observe/), the alert rules of the chart, and the local webhook
# receiver; runs until Ctrl-C. State and the received alerts (alerts.jsonl) go under
# artifacts/observe/. Serve with `make serve` to be scraped; push the monitor's metrics with
#   FRAUD_MONITOR_PUSHGATEWAY_URL=http://127.0.0.1:9091 make monitor
#
# Exit 3 when the binaries are missing and cannot be installed here (the message names the
# install command).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PACKAGES="prometheus prometheus-alertmanager prometheus-pushgateway"

if ! scripts/tools.sh observe >/dev/null; then
  echo "observe: error: ${PACKAGES} are not installed and could not be installed here." >&2
  echo "observe: install them, then run make observe again:" >&2
  echo "  sudo apt-get install -y --no-install-recommends ${PACKAGES}" >&2
  exit 3
fi
exec .venv/bin/python -m fraud_detection.monitoring.observe --root "$ROOT" --workdir artifacts/observe "$@"
