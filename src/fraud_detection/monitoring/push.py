"""Hand the monitor's metrics to a Prometheus Pushgateway, the one path they take to
Prometheus both embedded (`make observe`) and on the cluster.

Each group (`job` in the Pushgateway's terms) is replaced whole by a push (HTTP PUT), so a
metric the latest run no longer writes disappears instead of lingering. A Pushgateway that is
down or refuses the push never fails the caller: the failure comes back as a sentence.
"""

from __future__ import annotations

import os
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass

# Where the monitor pushes; unset, it pushes nothing (its metrics.prom files remain).
URL_VARIABLE = "FRAUD_MONITOR_PUSHGATEWAY_URL"
MONITOR_GROUP = "fraud_monitor"
RETRAINING_GROUP = "fraud_retraining"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


@dataclass(frozen=True)
class Pushgateway:
    url: str
    timeout_s: float = 5.0

    def __post_init__(self) -> None:
        parsed = urllib.parse.urlparse(self.url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ValueError(f"{URL_VARIABLE}: expected an http(s) URL, got {self.url!r}")

    @classmethod
    def from_env(cls) -> Pushgateway | None:
        """The Pushgateway `FRAUD_MONITOR_PUSHGATEWAY_URL` names, or None when it is unset.

        Raises:
            ValueError: the variable is set but is not an http(s) URL.
        """
        url = os.environ.get(URL_VARIABLE, "").strip()
        return cls(url) if url else None

    def push(self, group: str, metrics: str) -> str | None:
        """Replace `group` with `metrics` (Prometheus text format). None when pushed; else why
        not, in a sentence naming the Pushgateway."""
        target = f"{self.url.rstrip('/')}/metrics/job/{urllib.parse.quote(group, safe='')}"
        request = urllib.request.Request(
            target, data=metrics.encode(), method="PUT", headers={"Content-Type": CONTENT_TYPE}
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s):
                return None
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode(errors="replace").strip()
            return f"the Pushgateway at {self.url} refused the {group} metrics: {exc.code} {detail}"
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            return (
                f"the Pushgateway at {self.url} is unreachable ({reason}); "
                f"{group} metrics not pushed"
            )
